/* pipe2 flags, FD_CLOEXEC across exec of a pipe, O_NONBLOCK on each end
 * separately, EAGAIN on an empty pipe, EINVAL for unknown flags. */
#include "dt.h"
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	if (argc > 1) {
		int fd = atoi(argv[1]);
		result("in exec'd child, the cloexec pipe end", fcntl(fd, F_GETFD));
		return 0;
	}
	int p[2];
	MUST(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	yesno("read end FD_CLOEXEC", fcntl(p[0], F_GETFD) & FD_CLOEXEC);
	yesno("write end FD_CLOEXEC", fcntl(p[1], F_GETFD) & FD_CLOEXEC);
	yesno("read end O_NONBLOCK", fcntl(p[0], F_GETFL) & O_NONBLOCK);
	char c;
	result("read of empty nonblocking pipe", read(p[0], &c, 1));
	result("pipe2 bad flags", pipe2(p, 0x1234));
	int q[2];
	MUST(pipe(q));
	fcntl(q[0], F_SETFL, O_NONBLOCK);
	yesno("write end stays blocking", !(fcntl(q[1], F_GETFL) & O_NONBLOCK));
	yesno("read end O_RDONLY", (fcntl(q[0], F_GETFL) & O_ACCMODE) == O_RDONLY);
	yesno("write end O_WRONLY", (fcntl(q[1], F_GETFL) & O_ACCMODE) == O_WRONLY);
	pid_t k = fork();
	if (k == 0) {
		char arg[16];
		snprintf(arg, sizeof arg, "%d", p[0]);
		execl("/difftest/pipe_flags", "pipe_flags", arg, (char *)0);
		_exit(127);
	}
	reap("exec'd child", k);
	result("pipe with bad pointer", syscall(SYS_pipe, 8L));
	return 0;
}

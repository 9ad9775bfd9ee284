/* fork: distinct pids, getppid relation, separate memory and descriptors
 * (shared offsets), wait returns the child. */
#include "dt.h"

int main(void)
{
	pid_t parent = getpid();
	int x = 1;
	int fd = MUST(open("f", O_RDWR | O_CREAT, 0644));
	int p[2];
	MUST(pipe(p));
	pid_t pid = MUST(fork());
	if (pid == 0) {
		int ok = getpid() != parent && getppid() == parent;
		x = 2;
		MUST(write(fd, "child", 5));
		MUST(write(p[1], &ok, sizeof ok));
		_exit(7);
	}
	int ok = 0;
	MUST(read(p[0], &ok, sizeof ok));
	yesno("child pid != parent pid, child's getppid == parent", ok);
	yesno("fork returned a positive pid", pid > 0);
	int st;
	pid_t w = wait(&st);
	yesno("wait returned the child", w == pid);
	printf("status: %s\n", wstatus(st));
	printf("parent's x still: %d\n", x);
	value("shared offset moved by child", lseek(fd, 0, SEEK_CUR));
	result("wait with no children", wait(&st));
	for (int i = 0; i < 3; i++) {
		pid_t c = fork();
		if (c == 0) {
			pid_t g = fork();
			if (g == 0)
				_exit(i);
			int s;
			waitpid(g, &s, 0);
			_exit(WEXITSTATUS(s) + 10);
		}
		waitpid(c, &st, 0);
		printf("grandchild chain %d: %s\n", i, wstatus(st));
	}
	return 0;
}

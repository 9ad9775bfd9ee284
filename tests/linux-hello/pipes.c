/* Pipes, FIFOs and poll/select through the system library and the file
 * server (a pipe is a ramfs object; a reader or writer that has to wait
 * sleeps on the server's doorbell): data both ways between a parent and
 * its forked child, end of file when the writers are gone, EPIPE (and
 * SIGPIPE) when the readers are, a writer blocked on a full pipe until the
 * reader drains it, O_NONBLOCK's EAGAIN, poll and select with timeouts
 * and woken by data, a FIFO, and a three-stage chain through execve.
 * Prints one line per check; the same checks pass on Linux.
 *
 * "linux-pipes upper" and "linux-pipes wrap" are the chain's filters:
 * stdin to stdout, upper-cased or in brackets. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failed;

static void check(const char *what, int ok)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAILED");
	if (!ok)
		failed++;
}

static void fails(const char *what, long r, int e)
{
	int got = errno;
	check(what, r < 0 && got == e);
	if (!(r < 0 && got == e))
		printf("  (r=%ld errno=%d, wanted %d)\n", r, got, e);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, 0);
}

/* Reads until end of file: the bytes read. */
static long drain(int fd, char *buf, long size)
{
	long got = 0;
	for (;;) {
		long n = read(fd, buf + got, size - got);
		if (n <= 0)
			return n < 0 ? -1 : got;
		got += n;
	}
}

static int filter(const char *how)
{
	char buf[256];
	long n = drain(0, buf, sizeof buf);
	if (n < 0)
		return 1;
	if (!strcmp(how, "upper")) {
		for (long i = 0; i < n; i++)
			buf[i] = toupper((unsigned char)buf[i]);
		return write(1, buf, n) == n ? 0 : 1;
	}
	return (write(1, "[", 1) == 1 && write(1, buf, n) == n && write(1, "]", 1) == 1) ? 0 : 1;
}

/* Runs `self how` with stdin from `in` and stdout to `out`. */
static pid_t stage(const char *self, const char *how, int in, int out, int *close_fds, int nclose)
{
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in, 0);
		dup2(out, 1);
		for (int i = 0; i < nclose; i++)
			close(close_fds[i]);
		char *argv[] = { (char *)self, (char *)how, 0 };
		execv(self, argv);
		_exit(127);
	}
	return pid;
}

static int exited(pid_t pid, int code)
{
	int st;
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == code;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return filter(argv[1]);
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *self = strchr(argv[0], '/') ? argv[0] : "/bin/linux-pipes";
	char buf[512];
	struct stat st;

	/* Both ways between a parent and its child. */
	int down[2], up[2];
	check("pipe", pipe(down) == 0 && pipe(up) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		long n = read(down[0], buf, sizeof buf);
		for (long i = 0; i < n; i++)
			buf[i] = toupper((unsigned char)buf[i]);
		write(up[1], buf, n);
		/* End of file once the parent closes its end. */
		_exit(read(down[0], buf, sizeof buf) == 0 ? 0 : 1);
	}
	close(down[0]);
	close(up[1]);
	check("write to the child", write(down[1], "ping", 4) == 4);
	memset(buf, 0, sizeof buf);
	check("the child's answer", read(up[0], buf, sizeof buf) == 4 && !strcmp(buf, "PING"));
	close(down[1]);
	check("the child saw end of file", exited(pid, 0));
	check("end of file from the child", read(up[0], buf, sizeof buf) == 0);
	close(up[0]);

	/* What a pipe is. */
	int p[2];
	check("pipe2", pipe2(p, O_CLOEXEC) == 0);
	check("fstat: S_IFIFO", fstat(p[0], &st) == 0 && S_ISFIFO(st.st_mode));
	check("close-on-exec", fcntl(p[1], F_GETFD) == FD_CLOEXEC);
	fails("lseek: ESPIPE", lseek(p[0], 0, SEEK_CUR), ESPIPE);
	fails("pwrite: ESPIPE", pwrite(p[1], "x", 1, 0), ESPIPE);
	fails("read of the write end: EBADF", read(p[1], buf, 1), EBADF);
	/* A dup'd write end: end of file only when both are closed. */
	int w2 = dup(p[1]);
	close(p[1]);
	check("a dup keeps it open", fcntl(p[0], F_SETFL, O_NONBLOCK) == 0 &&
					 read(p[0], buf, 1) < 0 && errno == EAGAIN);
	close(w2);
	check("then end of file", read(p[0], buf, 1) == 0);
	close(p[0]);

	/* The readers are gone: EPIPE with SIGPIPE ignored, death without. */
	check("pipe for EPIPE", pipe(p) == 0);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	fails("write: EPIPE", write(p[1], "x", 1), EPIPE);
	signal(SIGPIPE, SIG_DFL);
	pid = fork();
	if (pid == 0) {
		write(p[1], "x", 1);
		_exit(0);
	}
	int status;
	check("SIGPIPE ends the writer",
	      waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE);
	close(p[1]);

	/* O_NONBLOCK: empty and full. */
	check("pipe2 O_NONBLOCK", pipe2(p, O_NONBLOCK) == 0);
	fails("read: EAGAIN", read(p[0], buf, 1), EAGAIN);
	long total = 0, n;
	static char big[200000];
	while ((n = write(p[1], big, 4096)) > 0)
		total += n;
	check("full at 64 KiB, then EAGAIN", total == 65536 && errno == EAGAIN);
	struct pollfd pf = { p[1], POLLOUT, 0 };
	check("poll: a full pipe is not writable", poll(&pf, 1, 0) == 0);
	close(p[0]);
	close(p[1]);

	/* A writer blocked on a full pipe until the reader drains it. */
	check("pipe for the big write", pipe(p) == 0);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		memset(big, 'b', sizeof big);
		_exit(write(p[1], big, sizeof big) == sizeof big ? 0 : 1);
	}
	close(p[1]);
	sleep_ms(50);
	memset(big, 0, sizeof big);
	long got = drain(p[0], big, sizeof big);
	check("the blocked writer's 200000 bytes", got == (long)sizeof big && big[0] == 'b' &&
							 big[sizeof big - 1] == 'b');
	check("its write returned them all", exited(pid, 0));
	close(p[0]);

	/* poll and select: a timeout, data, a wake-up, the hang-up. */
	check("pipe for poll", pipe(p) == 0);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pf = (struct pollfd){ p[0], POLLIN, 0 };
	int r = poll(&pf, 1, 30);
	long waited = ms_since(&t0);
	check("poll times out after 30 ms", r == 0 && pf.revents == 0 && waited >= 30 && waited < 1000);
	check("write for poll", write(p[1], "d", 1) == 1);
	check("poll: POLLIN", poll(&pf, 1, -1) == 1 && pf.revents == POLLIN);
	check("read it", read(p[0], buf, 1) == 1);
	pid = fork();
	if (pid == 0) {
		sleep_ms(30);
		_exit(write(p[1], "w", 1) == 1 ? 0 : 1);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = poll(&pf, 1, 5000);
	waited = ms_since(&t0);
	check("poll woken by the child's write", r == 1 && pf.revents == POLLIN && waited < 4000);
	check("the child wrote", exited(pid, 0));
	fd_set rs, ws;
	FD_ZERO(&rs);
	FD_ZERO(&ws);
	FD_SET(p[0], &rs);
	FD_SET(p[1], &ws);
	struct timeval tv = { 0, 0 };
	check("select: readable and writable", select(p[1] + 1, &rs, &ws, 0, &tv) == 2 &&
						       FD_ISSET(p[0], &rs) && FD_ISSET(p[1], &ws));
	check("read the byte", read(p[0], buf, 1) == 1);
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	tv = (struct timeval){ 0, 20000 };
	check("select times out", select(p[0] + 1, &rs, 0, 0, &tv) == 0 && !FD_ISSET(p[0], &rs));
	close(p[1]);
	check("poll: POLLHUP", poll(&pf, 1, 0) == 1 && pf.revents == POLLHUP);
	close(p[0]);

	/* A FIFO: a name; opens wait for the other side. */
	unlink("/tmp-fifo");
	check("mkfifo", mkfifo("/tmp-fifo", 0600) == 0);
	check("stat: S_IFIFO", stat("/tmp-fifo", &st) == 0 && S_ISFIFO(st.st_mode));
	fails("O_WRONLY | O_NONBLOCK without a reader: ENXIO", open("/tmp-fifo", O_WRONLY | O_NONBLOCK),
	      ENXIO);
	pid = fork();
	if (pid == 0) {
		int fd = open("/tmp-fifo", O_WRONLY);
		_exit(fd >= 0 && write(fd, "via fifo", 8) == 8 ? 0 : 1);
	}
	int fd = open("/tmp-fifo", O_RDONLY);
	memset(buf, 0, sizeof buf);
	check("read through the FIFO", fd >= 0 && drain(fd, buf, sizeof buf) == 8 &&
					       !strcmp(buf, "via fifo"));
	check("the FIFO's writer", exited(pid, 0));
	close(fd);
	check("unlink the FIFO", unlink("/tmp-fifo") == 0);

	/* A chain through execve: this program, "upper" then "wrap". */
	int a[2], b[2], c[2];
	check("pipes for the chain", pipe(a) == 0 && pipe(b) == 0 && pipe(c) == 0);
	int all[] = { a[0], a[1], b[0], b[1], c[0], c[1] };
	pid_t s1 = stage(self, "upper", a[0], b[1], all, 6);
	pid_t s2 = stage(self, "wrap", b[0], c[1], all, 6);
	close(a[0]);
	close(b[0]);
	close(b[1]);
	close(c[1]);
	check("into the chain", write(a[1], "chain", 5) == 5);
	close(a[1]);
	memset(buf, 0, sizeof buf);
	n = drain(c[0], buf, sizeof buf);
	check("out of the chain", n == 7 && !strcmp(buf, "[CHAIN]"));
	check("the stages ended", exited(s1, 0) && exited(s2, 0));
	close(c[0]);

	printf("pipes: %d failed\n", failed);
	return failed != 0;
}

/* dt.h: helpers shared by the difftest programs.
 *
 * Every program prints deterministic lines: relations ("child pid != parent
 * pid: yes") rather than pids, addresses, times or inode numbers, and errno
 * values by name ("ENOENT"), so the same binary prints the same bytes on
 * Linux and on K42-rs. stdout is unbuffered (see dt_unbuffer) so output
 * order is the order of the calls, across fork() and with stderr mixed in.
 */
#ifndef DT_H
#define DT_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((constructor)) static void dt_unbuffer(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
}

/* The name of an errno value ("ENOENT"), or "E?<n>" for one not listed. */
static inline const char *errname(int e)
{
	static char other[16];
	switch (e) {
#define E(x) case x: return #x;
	E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG)
	E(ENOEXEC) E(EBADF) E(ECHILD) E(EAGAIN) E(ENOMEM) E(EACCES)
	E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV) E(ENOTDIR)
	E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(EFBIG)
	E(ENOSPC) E(ESPIPE) E(EROFS) E(EMLINK) E(EPIPE) E(ERANGE)
	E(ENAMETOOLONG) E(ENOSYS) E(ENOTEMPTY) E(ELOOP) E(EOVERFLOW)
	E(ETIMEDOUT) E(EOPNOTSUPP)
#undef E
	case 0: return "ok";
	}
	snprintf(other, sizeof other, "E?%d", e);
	return other;
}

/* Prints "what: yes" or "what: no". */
static inline void yesno(const char *what, int cond)
{
	printf("%s: %s\n", what, cond ? "yes" : "no");
}

/* Prints the result of a call that returns -1 and sets errno on failure:
 * "what: ok" or "what: ENOENT". */
static inline void result(const char *what, long r)
{
	printf("%s: %s\n", what, r < 0 ? errname(errno) : "ok");
}

/* Like result(), but also prints a non-negative return value. */
static inline void value(const char *what, long r)
{
	if (r < 0)
		printf("%s: %s\n", what, errname(errno));
	else
		printf("%s: %ld\n", what, r);
}

/* A call that must succeed for the test to make sense. */
#define MUST(x)                                                              \
	({                                                                   \
		long _r = (long)(x);                                         \
		if (_r < 0) {                                                \
			printf("FATAL %s:%d %s: %s\n", __FILE__, __LINE__, #x,   \
			       errname(errno));                              \
			exit(99);                                            \
		}                                                            \
		_r;                                                          \
	})

/* Describes a wait status: "exit 3", "signal 9", "stopped 19". */
static inline const char *wstatus(int st)
{
	static char buf[32];
	if (WIFEXITED(st))
		snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof buf, "signal %d", WTERMSIG(st));
	else if (WIFSTOPPED(st))
		snprintf(buf, sizeof buf, "stopped %d", WSTOPSIG(st));
	else if (WIFCONTINUED(st))
		snprintf(buf, sizeof buf, "continued");
	else
		snprintf(buf, sizeof buf, "status %#x", st);
	return buf;
}

/* Waits for pid and prints "what: exit 0". */
static inline void reap(const char *what, pid_t pid)
{
	int st = 0;
	if (waitpid(pid, &st, 0) != pid)
		printf("%s: waitpid %s\n", what, errname(errno));
	else
		printf("%s: %s\n", what, wstatus(st));
}

/* Writes a whole string to a new file. */
static inline void put_file(const char *path, const char *s)
{
	int fd = MUST(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	MUST(write(fd, s, strlen(s)));
	close(fd);
}

/* Nanoseconds on the monotonic clock. */
#include <time.h>
static inline long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

#endif

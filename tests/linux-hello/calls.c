/* calls.c: the other calls of a start-up, by number where musl would
 * hide the answer: uname, ids (root), getrandom, clocks, limits, signal
 * bookkeeping, mmap/mprotect/munmap, and a call that does not exist (ENOSYS, logged once by the library). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define yesno(what, c) printf("%s: %s\n", what, (c) ? "yes" : "no")

int main(void)
{
	struct utsname u;
	yesno("uname", uname(&u) == 0 && strcmp(u.machine, "x86_64") == 0);
	yesno("getpid == gettid", getpid() == syscall(SYS_gettid));
	unsigned char r[64] = { 0 };
	yesno("getrandom 64", getrandom(r, sizeof r, 0) == 64);
	int zeros = 0;
	for (unsigned i = 0; i < sizeof r; i++)
		zeros += r[i] == 0;
	yesno("random bytes vary", zeros < 8);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (volatile int i = 0; i < 1000000; i++)
		;
	clock_gettime(CLOCK_MONOTONIC, &b);
	yesno("monotonic advances", b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec > a.tv_nsec));
	yesno("bad clock EINVAL", syscall(SYS_clock_gettime, 99, &a) == -1 && errno == EINVAL);
	struct timeval tv;
	yesno("gettimeofday", syscall(SYS_gettimeofday, &tv, NULL) == 0 && tv.tv_usec < 1000000);
	yesno("root", getuid() == 0 && geteuid() == 0 && getgid() == 0 && getegid() == 0);
	struct rlimit l;
	yesno("stack limit 8 MiB", getrlimit(RLIMIT_STACK, &l) == 0 && l.rlim_cur == 8 << 20);
	struct sigaction sa = { .sa_handler = SIG_IGN }, old;
	yesno("sigaction", sigaction(SIGINT, &sa, NULL) == 0 && sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler == SIG_IGN);
	sigset_t set, was;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigprocmask(SIG_SETMASK, NULL, &was);
	yesno("SIGUSR1 blocked", sigismember(&was, SIGUSR1));
	char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	yesno("mmap", m != MAP_FAILED);
	m[0] = 'x';
	m[3 * 4096 - 1] = 'y';
	yesno("mprotect", mprotect(m + 4096, 4096, PROT_READ) == 0);
	yesno("read-only page is EFAULT to uname()", syscall(SYS_uname, m + 4096) == -1 && errno == EFAULT);
	yesno("munmap", munmap(m, 3 * 4096) == 0);
	yesno("unmapped buffer is EFAULT to write()", write(1, m, 4) == -1 && errno == EFAULT);
	yesno("no such call is ENOSYS", syscall(1000, 0) == -1 && errno == ENOSYS);
	return 0;
}

/* Linux signals through the system library (kernel: signal_send,
 * signal_take, process_group; library: user/syslib/src/signal.rs).
 * Each check prints "NAME: ok" or "NAME: FAILED (...)"; the last line
 * counts them. The same program passes on Linux. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static int passed, failed;

static void check(const char *name, int ok, long detail)
{
	if (ok) {
		printf("%s: ok\n", name);
		passed++;
	} else {
		printf("%s: FAILED (%ld)\n", name, detail);
		failed++;
	}
}

static volatile sig_atomic_t got, got_code, got_pid, in_mask;

static void on_usr(int s, siginfo_t *si, void *uc)
{
	(void)uc;
	got = s;
	got_code = si->si_code;
	got_pid = si->si_pid;
	sigset_t m;
	sigprocmask(SIG_BLOCK, NULL, &m);
	in_mask = sigismember(&m, s) * 2 + sigismember(&m, SIGHUP);
}

static sigjmp_buf env;
static void *fault_addr;
static int fault_code;
static void on_segv(int s, siginfo_t *si, void *uc)
{
	(void)uc;
	fault_addr = si->si_addr;
	fault_code = si->si_code;
	siglongjmp(env, s);
}

static volatile sig_atomic_t chld, alrm;
static void on_chld(int s) { (void)s; chld++; }
static void on_alrm(int s) { (void)s; alrm++; }

static volatile sig_atomic_t spin_flag;
static void on_spin(int s) { (void)s; spin_flag = 1; }

/* A word shared with the children: they say when they are ready. */
static volatile int *ready;
static void wait_ready(int n)
{
	while (*ready < n)
		;
}

/* The wait status of child `p`. */
static int status_of(pid_t p)
{
	int st = -1;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

int main(void)
{
	ready = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct sigaction sa = {0};
	sa.sa_sigaction = on_usr;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGHUP);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);

	/* 1. kill(getpid()): the handler runs before kill returns. */
	kill(getpid(), SIGUSR1);
	check("kill self runs the handler", got == SIGUSR1 && got_code == SI_USER && got_pid == getpid(), got);
	check("handler mask has the signal and sa_mask", in_mask == 3, in_mask);
	sigset_t m;
	sigprocmask(SIG_BLOCK, NULL, &m);
	check("mask restored by sigreturn", !sigismember(&m, SIGUSR1) && !sigismember(&m, SIGHUP), 0);

	/* 2. A blocked signal waits, shows in sigpending, comes on unblock. */
	got = 0;
	sigset_t b;
	sigemptyset(&b);
	sigaddset(&b, SIGUSR1);
	sigprocmask(SIG_BLOCK, &b, NULL);
	raise(SIGUSR1);
	sigset_t pend;
	sigpending(&pend);
	check("blocked signal is deferred", got == 0 && sigismember(&pend, SIGUSR1), got);
	sigprocmask(SIG_UNBLOCK, &b, NULL);
	check("delivered on unblock", got == SIGUSR1 && got_code == SI_TKILL, got_code);

	/* 3. A child signals its parent, which waits in sigsuspend. */
	got = 0;
	sigemptyset(&b);
	sigaddset(&b, SIGUSR2);
	sigprocmask(SIG_BLOCK, &b, NULL);
	pid_t c = fork();
	if (c == 0) {
		kill(getppid(), SIGUSR2);
		_exit(0);
	}
	sigset_t none;
	sigemptyset(&none);
	int r = sigsuspend(&none);
	check("child's kill of its parent", r == -1 && errno == EINTR && got == SIGUSR2 && got_pid == c, got_pid);
	sigprocmask(SIG_BLOCK, NULL, &m);
	check("sigsuspend restores the mask", sigismember(&m, SIGUSR2), 0);
	sigprocmask(SIG_UNBLOCK, &b, NULL);
	status_of(c);

	/* 4. SIGSEGV: siglongjmp out of the handler, the address and code. */
	struct sigaction sv = {0};
	sv.sa_sigaction = on_segv;
	sv.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sv, NULL);
	volatile int *bad = (int *)0x1000;
	int s = sigsetjmp(env, 1);
	if (s == 0)
		*bad = 1;
	check("SIGSEGV handler, SEGV_MAPERR", s == SIGSEGV && fault_addr == (void *)bad && fault_code == SEGV_MAPERR, fault_code);
	char *page = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	s = sigsetjmp(env, 1);
	if (s == 0)
		*(volatile char *)(page + 8) = 1;
	check("write to a read-only page: SEGV_ACCERR", s == SIGSEGV && fault_addr == page + 8 && fault_code == SEGV_ACCERR, fault_code);
	sigprocmask(SIG_BLOCK, NULL, &m);
	check("siglongjmp restored the mask", !sigismember(&m, SIGSEGV), 0);

	/* 5. Default actions end a child with the right wait status. */
	c = fork();
	if (c == 0) {
		raise(SIGTERM);
		_exit(0);
	}
	int st = status_of(c);
	check("SIGTERM terminates", WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, st);
	c = fork();
	if (c == 0) {
		signal(SIGSEGV, SIG_DFL);
		*bad = 2;
		_exit(0);
	}
	st = status_of(c);
	check("unhandled SIGSEGV kills", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, st);
	c = fork();
	if (c == 0) {
		raise(SIGCHLD);
		raise(SIGWINCH);
		_exit(5);
	}
	st = status_of(c);
	check("SIGCHLD and SIGWINCH are ignored", WIFEXITED(st) && WEXITSTATUS(st) == 5, st);

	/* 6. SIGKILL: not catchable, ends even a program spinning in user
	 * mode; a handler reaches a spinning program too. */
	check("sigaction(SIGKILL) is EINVAL", sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL, errno);
	c = fork();
	if (c == 0) {
		signal(SIGUSR1, on_spin);
		*ready = 1;
		while (!spin_flag)
			;
		_exit(7);
	}
	wait_ready(1);
	kill(c, SIGUSR1);
	st = status_of(c);
	check("handler interrupts a spinning child", WIFEXITED(st) && WEXITSTATUS(st) == 7, st);
	c = fork();
	if (c == 0) {
		*ready = 2;
		for (;;)
			;
	}
	wait_ready(2);
	kill(c, SIGKILL);
	st = status_of(c);
	check("SIGKILL ends a spinning child", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, st);
	c = fork();
	if (c == 0) {
		signal(SIGTERM, SIG_IGN);
		*ready = 3;
		for (;;)
			pause();
	}
	wait_ready(3);
	kill(c, SIGTERM);
	check("ignoring SIGTERM, still alive", kill(c, 0) == 0, errno);
	kill(c, SIGKILL);
	st = status_of(c);
	check("SIGKILL ends a pausing child", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, st);

	/* 7. SIGCHLD reaches a handler. */
	signal(SIGCHLD, on_chld);
	c = fork();
	if (c == 0)
		_exit(0);
	st = status_of(c);
	check("SIGCHLD handler ran", chld >= 1, chld);
	signal(SIGCHLD, SIG_DFL);

	/* 8. SIGALRM from alarm() and setitimer(). */
	signal(SIGALRM, on_alrm);
	check("alarm(1) with none pending", alarm(1) == 0, 0);
	while (!alrm)
		pause();
	check("SIGALRM from alarm", alrm == 1, alrm);
	struct itimerval it = {{0, 10000}, {0, 10000}}, old;
	setitimer(ITIMER_REAL, &it, NULL);
	while (alrm < 4)
		pause();
	memset(&it, 0, sizeof it);
	setitimer(ITIMER_REAL, &it, &old);
	check("periodic setitimer", alrm >= 4 && old.it_interval.tv_usec == 10000, alrm);

	/* 9. Stop and continue. */
	c = fork();
	if (c == 0) {
		raise(SIGSTOP);
		_exit(3);
	}
	while (waitpid(c, &st, WUNTRACED) < 0 && errno == EINTR)
		;
	check("SIGSTOP stops, wait4 WUNTRACED sees it", WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP, st);
	kill(c, SIGCONT);
	while (waitpid(c, &st, WCONTINUED) < 0 && errno == EINTR)
		;
	check("SIGCONT continues, WCONTINUED sees it", WIFCONTINUED(st), st);
	st = status_of(c);
	check("the continued child exits", WIFEXITED(st) && WEXITSTATUS(st) == 3, st);

	/* 10. Process groups and kill(-pgid). */
	check("setpgid(0, 0): a group leader", setpgid(0, 0) == 0 && getpgrp() == getpid() && getpgid(0) == getpid(), getpgrp());
	check("setsid as a group leader is EPERM", setsid() == -1 && errno == EPERM, errno);
	c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	check("child in the parent's group", getpgid(c) == getpid(), getpgid(c));
	check("setpgid(child, child)", setpgid(c, c) == 0 && getpgid(c) == c, errno);
	check("setpgid to another session's group", setpgid(c, 999999) == -1 && errno == EPERM, errno);
	check("kill(-pgid)", kill(-c, SIGTERM) == 0, errno);
	st = status_of(c);
	check("group member terminated", WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, st);
	check("kill of a reaped child is ESRCH", kill(c, 0) == -1 && errno == ESRCH, errno);

	printf("signals: %d ok, %d failed\n", passed, failed);
	return failed != 0;
}

/* SIGSEGV from a bad pointer: SA_SIGINFO handler sees the faulting
 * address and SEGV_MAPERR; siglongjmp out; an unhandled fault kills
 * with signal 11; SIGFPE on integer division by zero; SIGILL on ud2. */
#include "dt.h"
#include <setjmp.h>

static sigjmp_buf env;
static volatile int *volatile null_ish = (int *)8;
static void *addr;
static int code;

static void h(int s, siginfo_t *si, void *ctx)
{
	(void)ctx;
	addr = si->si_addr;
	code = si->si_code;
	siglongjmp(env, s);
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = h;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	volatile int *bad = (int *)0x1000;
	int s = sigsetjmp(env, 1);
	if (s == 0) {
		*bad = 1;
		printf("no fault?\n");
	} else {
		printf("caught %d, addr matches: %s, SEGV_MAPERR: %s\n", s,
		       addr == (void *)bad ? "yes" : "no", code == SEGV_MAPERR ? "yes" : "no");
	}
	s = sigsetjmp(env, 1);
	if (s == 0) {
		volatile int z = 0;
		volatile int x = 10 / z;
		(void)x;
	} else {
		printf("caught %d, FPE_INTDIV: %s\n", s, code == FPE_INTDIV ? "yes" : "no");
	}
	s = sigsetjmp(env, 1);
	if (s == 0)
		__asm__ volatile("ud2");
	else
		printf("caught %d, ILL_ILLOPN: %s\n", s, code == ILL_ILLOPN ? "yes" : "no");
	s = sigsetjmp(env, 1);
	if (s == 0) {
		volatile char *k = (char *)0xffffffff80000000UL;
		(void)*k;
	} else {
		printf("kernel address: caught %d\n", s);
	}
	pid_t p = fork();
	if (p == 0) {
		signal(SIGSEGV, SIG_DFL);
		*null_ish = 0;
		_exit(0);
	}
	reap("unhandled fault", p);
	p = fork();
	if (p == 0) {
		/* Fault inside the handler with SIGSEGV blocked: the kernel kills. */
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSEGV, &sa, NULL);
		sigset_t m;
		sigemptyset(&m);
		sigaddset(&m, SIGSEGV);
		sigprocmask(SIG_BLOCK, &m, NULL);
		*null_ish = 0;
		_exit(0);
	}
	reap("fault with SIGSEGV blocked", p);
	return 0;
}

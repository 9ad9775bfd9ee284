/* Signal handlers: delivery by raise and kill, sigreturn restoring the
 * interrupted registers (floating point too), SA_RESETHAND, sa_mask
 * while in the handler, the old action returned by sigaction. */
#include "dt.h"

static volatile int hits;
static volatile int masked_in_handler;

static void on_usr1(int s)
{
	hits++;
	sigset_t m;
	sigprocmask(SIG_BLOCK, NULL, &m);
	masked_in_handler = sigismember(&m, SIGUSR1) * 2 + sigismember(&m, SIGUSR2);
	(void)s;
	/* Clobber what we can; sigreturn must restore the caller's state. */
	volatile double d = 3.25;
	d *= 7;
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	MUST(sigaction(SIGUSR1, &sa, NULL));
	double f = 1.5;
	long acc = 0;
	for (int i = 0; i < 100; i++) {
		acc += i;
		f *= 1.01;
		if (i % 10 == 0)
			raise(SIGUSR1);
	}
	printf("handler ran %d times\n", hits);
	printf("state survived: acc=%ld f=%.6f\n", acc, f);
	printf("in handler: SIGUSR1 blocked %s, SIGUSR2 (sa_mask) blocked %s\n",
	       masked_in_handler & 2 ? "yes" : "no", masked_in_handler & 1 ? "yes" : "no");
	sigset_t m;
	sigprocmask(SIG_BLOCK, NULL, &m);
	yesno("mask restored after handler", !sigismember(&m, SIGUSR1) && !sigismember(&m, SIGUSR2));
	kill(getpid(), SIGUSR1);
	printf("after kill(getpid()): %d\n", hits);
	struct sigaction old;
	sa.sa_handler = SIG_IGN;
	sigaction(SIGUSR1, &sa, &old);
	yesno("old action was our handler", old.sa_handler == on_usr1);
	raise(SIGUSR1);
	printf("ignored: %d\n", hits);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	sigaction(SIGUSR1, NULL, &old);
	yesno("SA_RESETHAND reset to SIG_DFL", old.sa_handler == SIG_DFL);
	result("sigaction SIGKILL", sigaction(SIGKILL, &sa, NULL));
	result("sigaction SIGSTOP", sigaction(SIGSTOP, &sa, NULL));
	result("sigaction 0", sigaction(0, &sa, NULL));
	result("sigaction 65", sigaction(65, &sa, NULL));
	printf("hits: %d\n", hits);
	return 0;
}

/* sigprocmask/sigpending: blocked signals wait, are delivered once on
 * unblock, standard signals do not queue, real-time ones do, in order. */
#include "dt.h"

static char order[64];
static int n;

static void h(int s)
{
	if (n < 63)
		order[n++] = s == SIGUSR1 ? 'U' : s == SIGUSR2 ? 'V' : 'a' + (s - SIGRTMIN);
}

int main(void)
{
	struct sigaction sa = {.sa_handler = h};
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	for (int i = 0; i < 3; i++)
		sigaction(SIGRTMIN + i, &sa, NULL);
	sigset_t block, old, pend;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	for (int i = 0; i < 3; i++)
		sigaddset(&block, SIGRTMIN + i);
	MUST(sigprocmask(SIG_BLOCK, &block, &old));
	yesno("old mask empty of SIGUSR1", !sigismember(&old, SIGUSR1));
	raise(SIGUSR1);
	raise(SIGUSR1);
	raise(SIGUSR1);
	raise(SIGRTMIN + 2);
	raise(SIGRTMIN + 1);
	raise(SIGRTMIN + 1);
	raise(SIGRTMIN);
	printf("delivered while blocked: %d\n", n);
	sigpending(&pend);
	yesno("SIGUSR1 pending", sigismember(&pend, SIGUSR1));
	yesno("SIGUSR2 pending", sigismember(&pend, SIGUSR2));
	MUST(sigprocmask(SIG_SETMASK, &old, NULL));
	order[n] = 0;
	printf("delivery order after unblock: %s\n", order);
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	sigprocmask(SIG_SETMASK, NULL, &old);
	yesno("SIGKILL cannot be blocked", !sigismember(&old, SIGKILL));
	yesno("SIGSTOP cannot be blocked", !sigismember(&old, SIGSTOP));
	result("sigprocmask bad how", sigprocmask(99, &block, NULL));
	sigemptyset(&block);
	sigprocmask(SIG_SETMASK, &block, NULL);
	n = 0;
	sigset_t w;
	sigemptyset(&w);
	sigaddset(&w, SIGUSR2);
	sigprocmask(SIG_BLOCK, &w, NULL);
	raise(SIGUSR2);
	int sig = 0;
	result("sigwait", sigwait(&w, &sig) == 0 ? 0 : -1);
	printf("sigwait got SIGUSR2: %s, handler ran: %d\n", sig == SIGUSR2 ? "yes" : "no", n);
	struct timespec t = {0, 1000000};
	siginfo_t si;
	value("sigtimedwait with nothing pending", sigtimedwait(&w, &si, &t));
	return 0;
}

/* siginfo: si_pid/si_uid from kill, si_value from sigqueue, si_code
 * SI_USER/SI_QUEUE/SI_TKILL, the ucontext argument being present. */
#include "dt.h"

static siginfo_t last;
static int ctx_ok;

static void h(int s, siginfo_t *si, void *ctx)
{
	(void)s;
	last = *si;
	ctx_ok = ctx != NULL;
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = h;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGRTMIN, &sa, NULL);
	kill(getpid(), SIGUSR1);
	printf("kill: signo %d, SI_USER %s, pid matches %s, uid %d, ucontext %s\n",
	       last.si_signo, last.si_code == SI_USER ? "yes" : "no",
	       last.si_pid == getpid() ? "yes" : "no", last.si_uid, ctx_ok ? "yes" : "no");
	union sigval v = {.sival_int = 4242};
	sigqueue(getpid(), SIGRTMIN, v);
	printf("sigqueue: SI_QUEUE %s, value %d\n", last.si_code == SI_QUEUE ? "yes" : "no",
	       last.si_value.sival_int);
	raise(SIGUSR1);
	printf("raise: SI_TKILL %s\n", last.si_code == SI_TKILL ? "yes" : "no");
	pid_t p = fork();
	if (p == 0) {
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	int st;
	while (waitpid(p, &st, 0) < 0)
		;
	printf("from child: pid matches child %s\n", last.si_pid == p ? "yes" : "no");
	return 0;
}

/* SIGCHLD: the handler runs when a child exits; SA_NOCLDSTOP; with
 * SIG_IGN children are reaped by the kernel (wait gives ECHILD). */
#include "dt.h"

static volatile int chld;

static void on_chld(int s)
{
	(void)s;
	chld++;
}

int main(void)
{
	struct sigaction sa = {.sa_handler = on_chld};
	sigaction(SIGCHLD, &sa, NULL);
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	int st;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	printf("SIGCHLD handler ran: %s\n", chld >= 1 ? "yes" : "no");
	chld = 0;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	p = fork();
	if (p == 0) {
		raise(SIGSTOP);
		_exit(0);
	}
	waitpid(p, &st, WUNTRACED);
	printf("stop with SA_NOCLDSTOP: %s, handler ran %d\n", wstatus(st), chld);
	kill(p, SIGCONT);
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	printf("exit: %s, handler ran: %s\n", wstatus(st), chld >= 1 ? "yes" : "no");
	signal(SIGCHLD, SIG_IGN);
	p = fork();
	if (p == 0)
		_exit(3);
	usleep(30000);
	result("wait with SIGCHLD ignored", waitpid(p, &st, 0));
	signal(SIGCHLD, SIG_DFL);
	p = fork();
	if (p == 0)
		_exit(4);
	reap("with SIG_DFL", p);
	return 0;
}

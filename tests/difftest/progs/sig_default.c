/* Default actions: terminate, ignore (SIGCHLD, SIGURG, SIGWINCH), stop and
 * continue; ignored signals survive fork; pending signals do not. */
#include "dt.h"

static void run(const char *name, int sig)
{
	pid_t p = fork();
	if (p == 0) {
		raise(sig);
		_exit(0);
	}
	reap(name, p);
}

int main(void)
{
	run("SIGTERM", SIGTERM);
	run("SIGUSR1", SIGUSR1);
	run("SIGALRM", SIGALRM);
	run("SIGPIPE", SIGPIPE);
	run("SIGHUP", SIGHUP);
	run("SIGCHLD (ignored)", SIGCHLD);
	run("SIGURG (ignored)", SIGURG);
	run("SIGWINCH (ignored)", SIGWINCH);
	run("SIGCONT (continues)", SIGCONT);
	signal(SIGUSR1, SIG_IGN);
	pid_t p = fork();
	if (p == 0) {
		raise(SIGUSR1);
		_exit(1);
	}
	reap("SIG_IGN inherited across fork", p);
	signal(SIGUSR1, SIG_DFL);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	sigprocmask(SIG_BLOCK, &m, NULL);
	raise(SIGUSR2);
	p = fork();
	if (p == 0) {
		sigset_t pend;
		sigpending(&pend);
		_exit(sigismember(&pend, SIGUSR2) ? 1 : 2);
	}
	reap("pending not inherited (exit 2)", p);
	signal(SIGUSR2, SIG_IGN);
	sigprocmask(SIG_UNBLOCK, &m, NULL);
	printf("still alive after ignoring pending SIGUSR2\n");
	return 0;
}

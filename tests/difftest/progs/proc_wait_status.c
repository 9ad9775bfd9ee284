/* wait4/waitpid status decoding: exit codes, signals, stop and continue,
 * WNOHANG, waitid, rusage present. */
#include "dt.h"
#include <sys/resource.h>

static pid_t child_exit(int code)
{
	pid_t p = fork();
	if (p == 0)
		_exit(code);
	return p;
}

int main(void)
{
	int codes[] = {0, 1, 42, 255, 256, 257};
	for (unsigned i = 0; i < sizeof codes / sizeof *codes; i++) {
		char what[32];
		snprintf(what, sizeof what, "_exit(%d)", codes[i]);
		reap(what, child_exit(codes[i]));
	}
	int sigs[] = {SIGTERM, SIGKILL, SIGUSR1, SIGINT};
	for (unsigned i = 0; i < 4; i++) {
		pid_t p = fork();
		if (p == 0) {
			for (;;)
				pause();
		}
		kill(p, sigs[i]);
		char what[32];
		snprintf(what, sizeof what, "killed by %d", sigs[i]);
		reap(what, p);
	}
	/* The continued child waits for a byte before it exits, so that
	 * waitpid(WCONTINUED) sees it continued, not already ended (whichever
	 * of the two runs first after SIGCONT, on either kernel). */
	int go[2];
	MUST(pipe(go));
	pid_t p = fork();
	if (p == 0) {
		char c;
		close(go[1]);
		raise(SIGSTOP);
		read(go[0], &c, 1);
		_exit(5);
	}
	close(go[0]);
	int st;
	struct rusage ru;
	pid_t w = wait4(p, &st, WUNTRACED, &ru);
	printf("wait4 WUNTRACED: same pid %s, %s\n", w == p ? "yes" : "no", wstatus(st));
	kill(p, SIGCONT);
	w = waitpid(p, &st, WCONTINUED);
	printf("WCONTINUED: %s\n", wstatus(st));
	write(go[1], "g", 1);
	close(go[1]);
	w = wait4(p, &st, 0, &ru);
	printf("after continue: %s\n", wstatus(st));
	p = fork();
	if (p == 0) {
		usleep(50000);
		_exit(9);
	}
	value("WNOHANG while running", waitpid(p, &st, WNOHANG));
	siginfo_t si;
	memset(&si, 0, sizeof si);
	result("waitid WEXITED", waitid(P_PID, p, &si, WEXITED));
	printf("waitid: pid matches %s, code CLD_EXITED %s, status %d\n",
	       si.si_pid == p ? "yes" : "no", si.si_code == CLD_EXITED ? "yes" : "no", si.si_status);
	result("waitpid unknown pid", waitpid(p, &st, 0));
	result("waitpid bad options", waitpid(-1, &st, 0x40000000));
	return 0;
}

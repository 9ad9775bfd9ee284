/* execve: argv and envp reach the new image, FD_CLOEXEC descriptors are
 * closed, others kept, pid is kept, blocked signals stay blocked,
 * caught signals are reset. */
#include "dt.h"

static void handler(int s) { (void)s; }

int main(int argc, char **argv, char **envp)
{
	if (argc > 1 && strcmp(argv[1], "child") == 0) {
		printf("child argc=%d:", argc);
		for (int i = 1; i < argc; i++)
			printf(" [%s]", i == 2 ? "<pid>" : argv[i]);
		printf("\n");
		for (char **e = envp; *e; e++)
			printf("env %s\n", *e);
		char c;
		result("kept fd 10", read(10, &c, 1) < 0 && errno == EBADF ? -1 : 0);
		result("cloexec fd 11", fcntl(11, F_GETFD));
		char pidbuf[32];
		snprintf(pidbuf, sizeof pidbuf, "%d", getpid());
		yesno("same pid as before exec", strcmp(pidbuf, argv[2]) == 0);
		sigset_t m;
		sigprocmask(SIG_BLOCK, NULL, &m);
		yesno("SIGUSR2 still blocked", sigismember(&m, SIGUSR2));
		struct sigaction sa;
		sigaction(SIGUSR1, NULL, &sa);
		yesno("SIGUSR1 handler reset to default", sa.sa_handler == SIG_DFL);
		sigaction(SIGPIPE, NULL, &sa);
		yesno("SIGPIPE ignore kept", sa.sa_handler == SIG_IGN);
		return 0;
	}
	put_file("f", "x");
	MUST(dup2(MUST(open("f", O_RDONLY)), 10));
	MUST(dup3(10, 11, O_CLOEXEC));
	signal(SIGUSR1, handler);
	signal(SIGPIPE, SIG_IGN);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	sigprocmask(SIG_BLOCK, &m, NULL);
	char pidbuf[32];
	snprintf(pidbuf, sizeof pidbuf, "%d", getpid());
	char *nargv[] = {"proc_execve", "child", pidbuf, "with space", "", NULL};
	char *nenv[] = {"A=1", "B=two words", "EMPTY=", NULL};
	execve("/difftest/proc_execve", nargv, nenv);
	printf("execve failed: %s\n", errname(errno));
	return 1;
}

/* fork, _exit and wait4 through the system library. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	static int shared = 41;
	printf("before fork\n");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		shared++;
		printf("child: shared=%d\n", shared);
		fflush(stdout);
		_exit(3);
	}
	int status = 0;
	pid_t got = waitpid(pid, &status, 0);
	printf("parent: waited %s, exited=%d code=%d, shared=%d\n", got == pid ? "for the child" : "wrong",
	       WIFEXITED(status), WEXITSTATUS(status), shared);
	return 0;
}

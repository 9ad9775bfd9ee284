/* Many children exiting in any order: every status collected once,
 * waitpid(-1), waitpid(0) for the process group, ECHILD at the end. */
#include "dt.h"

int main(void)
{
	pid_t kids[10];
	for (int i = 0; i < 10; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			usleep((10 - i) * 2000);
			_exit(i + 1);
		}
	}
	int seen[11] = {0};
	int st;
	pid_t w;
	int n = 0;
	while ((w = waitpid(-1, &st, 0)) > 0) {
		int ok = 0;
		for (int i = 0; i < 10; i++)
			ok |= kids[i] == w && WEXITSTATUS(st) == i + 1;
		if (ok)
			seen[WEXITSTATUS(st)]++;
		n++;
	}
	result("waitpid after all", w);
	printf("reaped %d:", n);
	for (int i = 1; i <= 10; i++)
		printf(" %d", seen[i]);
	printf("\n");
	pid_t a = fork();
	if (a == 0)
		_exit(1);
	pid_t b = fork();
	if (b == 0) {
		setpgid(0, 0);
		_exit(2);
	}
	usleep(20000);
	w = waitpid(0, &st, 0);
	printf("waitpid(0) got the same-group child: %s\n", w == a ? "yes" : "no");
	w = waitpid(-getpgrp(), &st, WNOHANG);
	value("waitpid(-pgrp) with none left in group", w);
	reap("other-group child", b);
	return 0;
}

/* vfork: the parent waits until the child execs or exits; they share
 * memory until then. */
#include "dt.h"

static volatile int shared;

int main(void)
{
	shared = 1;
	pid_t pid = vfork();
	if (pid == 0) {
		shared = 2;
		_exit(3);
	}
	printf("parent resumed after child exit, saw child's write: %s\n",
	       shared == 2 ? "yes" : "no");
	reap("vfork child", pid);
	pid = vfork();
	if (pid == 0) {
		char *argv[] = {"echo", "exec from vfork child", NULL};
		execv("/bin/echo", argv);
		_exit(127);
	}
	reap("vfork+exec child", pid);
	pid = vfork();
	if (pid == 0) {
		execl("/nonexistent", "x", (char *)0);
		_exit(errno == ENOENT ? 42 : 1);
	}
	reap("vfork+failed exec", pid);
	return 0;
}

/* fork + _exit in the child + wait4 in the parent. Both calls need the
 * trap (k42-syslib.h): the direct build has no direct figure. */
#include "bench.h"

static void body(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t p = SYS(SYS_fork);
		if (p < 0)
			die("fork");
		if (p == 0)
			_exit(0);
		if (SYS(SYS_wait4, p, NULL, 0, NULL) != p)
			die("waitpid");
	}
}

int main(void)
{
	bench("fork", 50, 1, body);
	return 0;
}

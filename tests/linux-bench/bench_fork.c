/* fork + _exit in the child + waitpid in the parent. */
#include "bench.h"

static void body(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p < 0)
			die("fork");
		if (p == 0)
			_exit(0);
		if (waitpid(p, NULL, 0) != p)
			die("waitpid");
	}
}

int main(void)
{
	bench("fork", 50, 1, body);
	return 0;
}

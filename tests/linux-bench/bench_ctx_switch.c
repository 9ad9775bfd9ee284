/* Context switch: two processes pinned to processor 0 pass one byte back
 * and forth through two pipes; every transfer is a switch. The figure
 * is per switch (half a round trip), pipe work included, as lmbench's
 * lat_ctx with no working set. The read waits for the other side: it
 * traps in the direct build too. */
#include "bench.h"

static int a[2], b[2];

static void body(long n)
{
	char c = 0;
	for (long i = 0; i < n; i++) {
		if (SYS(SYS_write, a[1], &c, 1) != 1 || SYS_WAITS(SYS_read, b[0], &c, 1) != 1)
			die("ping");
	}
}

int main(void)
{
	if (pipe(a) || pipe(b))
		die("pipe");
	pin_cpu0();
	pid_t p = fork();
	if (p == 0) {
		char c;
		close(a[1]);
		close(b[0]);
		while (read(a[0], &c, 1) == 1)
			if (write(b[1], &c, 1) != 1)
				break;
		_exit(0);
	}
	close(a[0]);
	close(b[1]);
	bench("ctx_switch", 200, 2, body);
	close(a[1]);
	waitpid(p, NULL, 0);
	return 0;
}

/* Pipe round trip between two processes: 64 bytes there, 64 back. The
 * read waits for the other side: it traps in the direct build too. */
#include "bench.h"

static int to_child[2], to_parent[2];

static void body(long n)
{
	char buf[64] = {0};
	for (long i = 0; i < n; i++) {
		if (SYS(SYS_write, to_child[1], buf, sizeof buf) != sizeof buf)
			die("write");
		if (SYS_WAITS(SYS_read, to_parent[0], buf, sizeof buf) != sizeof buf)
			die("read");
	}
}

int main(void)
{
	if (pipe(to_child) || pipe(to_parent))
		die("pipe");
	pid_t p = fork();
	if (p == 0) {
		char buf[64];
		close(to_child[1]);
		close(to_parent[0]);
		while (read(to_child[0], buf, sizeof buf) == sizeof buf)
			if (write(to_parent[1], buf, sizeof buf) != sizeof buf)
				break;
		_exit(0);
	}
	close(to_child[0]);
	close(to_parent[1]);
	bench("pipe_rtt", 200, 1, body);
	close(to_child[1]);
	waitpid(p, NULL, 0);
	return 0;
}

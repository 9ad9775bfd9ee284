/* Writing to a pipe with no reader: SIGPIPE kills by default; with
 * SIGPIPE ignored or handled, write fails with EPIPE. */
#include "dt.h"

static volatile int got;
static void h(int s) { got = s; }

int main(void)
{
	int p[2];
	MUST(pipe(p));
	close(p[0]);
	pid_t c = fork();
	if (c == 0) {
		write(p[1], "x", 1);
		_exit(0);
	}
	reap("writer with default SIGPIPE", c);
	signal(SIGPIPE, SIG_IGN);
	result("write with SIGPIPE ignored", write(p[1], "x", 1));
	signal(SIGPIPE, h);
	result("write with SIGPIPE handled", write(p[1], "x", 1));
	printf("handler got: %d\n", got);
	MUST(pipe(p));
	c = fork();
	if (c == 0) {
		close(p[1]);
		char b[8];
		read(p[0], b, 4);
		_exit(0); /* reader goes away with data unread */
	}
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	MUST(write(p[1], "abcd", 4));
	reap("reader", c);
	result("write after reader exited", write(p[1], "efgh", 4));
	return 0;
}

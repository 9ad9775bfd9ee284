/* poll on pipes: nothing ready, POLLIN after a write, POLLOUT, POLLHUP
 * when the writer goes, POLLERR when the reader goes, POLLNVAL, negative
 * fds ignored, several descriptors at once. */
#include "dt.h"
#include <poll.h>

static void show(const char *what, struct pollfd *f, int n, int r)
{
	printf("%s: %d ready;", what, r);
	for (int i = 0; i < n; i++)
		printf(" [%s%s%s%s%s]", f[i].revents & POLLIN ? "IN " : "",
		       f[i].revents & POLLOUT ? "OUT " : "", f[i].revents & POLLHUP ? "HUP " : "",
		       f[i].revents & POLLERR ? "ERR " : "", f[i].revents & POLLNVAL ? "NVAL " : "");
	printf("\n");
}

int main(void)
{
	int p[2];
	MUST(pipe(p));
	struct pollfd f[3] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {-1, POLLIN, 0}};
	show("empty", f, 3, poll(f, 3, 0));
	write(p[1], "x", 1);
	show("after write", f, 3, poll(f, 3, 0));
	f[1].fd = 77;
	show("bad fd", f, 3, poll(f, 3, 0));
	close(p[1]);
	f[1].fd = -1;
	show("writer closed, data left", f, 3, poll(f, 3, 0));
	char c;
	read(p[0], &c, 1);
	show("writer closed, drained", f, 3, poll(f, 3, 0));
	int q[2];
	MUST(pipe(q));
	close(q[0]);
	struct pollfd g = {q[1], POLLOUT, 0};
	show("reader closed", &g, 1, poll(&g, 1, 0));
	MUST(pipe(q));
	pid_t k = fork();
	if (k == 0) {
		usleep(20000);
		write(q[1], "late", 4);
		_exit(0);
	}
	struct pollfd h = {q[0], POLLIN, 0};
	show("blocking until a child writes", &h, 1, poll(&h, 1, 5000));
	reap("child", k);
	value("poll nothing with timeout 0", poll(NULL, 0, 0));
	result("poll bad pointer", poll((struct pollfd *)8, 1, 0));
	return 0;
}

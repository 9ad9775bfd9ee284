/* select and pselect: readiness sets rewritten in place, timeout updated,
 * EBADF, pselect's signal mask. */
#include "dt.h"
#include <sys/select.h>

static volatile int got;
static void h(int s) { got = s; }

int main(void)
{
	int p[2];
	MUST(pipe(p));
	fd_set r, w;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(p[1], &w);
	struct timeval tv = {0, 0};
	int n = select(p[1] + 1, &r, &w, NULL, &tv);
	printf("empty pipe: %d ready, read set %d, write set %d\n", n, FD_ISSET(p[0], &r),
	       FD_ISSET(p[1], &w));
	write(p[1], "x", 1);
	FD_SET(p[0], &r);
	n = select(p[0] + 1, &r, NULL, NULL, &tv);
	printf("after write: %d ready, read set %d\n", n, FD_ISSET(p[0], &r));
	read(p[0], &n, 1);
	FD_SET(p[0], &r);
	tv.tv_sec = 0;
	tv.tv_usec = 20000;
	long long t0 = now_ns();
	n = select(p[0] + 1, &r, NULL, NULL, &tv);
	printf("timeout: %d ready, waited >= 20ms %s, timeval left <= 20ms %s\n", n,
	       now_ns() - t0 >= 20000000 ? "yes" : "no",
	       tv.tv_sec == 0 && tv.tv_usec <= 20000 ? "yes" : "no");
	FD_ZERO(&r);
	FD_SET(60, &r);
	tv.tv_usec = 0;
	result("select on closed fd", select(61, &r, NULL, NULL, &tv));
	result("select negative nfds", select(-1, NULL, NULL, NULL, &tv));
	signal(SIGUSR1, h);
	sigset_t block, empty;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR1);
	printf("handler before pselect: %d\n", got);
	sigemptyset(&empty);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	struct timespec ts = {1, 0};
	n = pselect(p[0] + 1, &r, NULL, NULL, &ts, &empty);
	printf("pselect with signal pending: %d %s, handler ran: %s\n", n, errname(errno),
	       got == SIGUSR1 ? "yes" : "no");
	return 0;
}

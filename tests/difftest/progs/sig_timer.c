/* Timers delivering signals: setitimer ITIMER_REAL + SIGALRM, alarm()'s
 * return value, pause() returning EINTR, sigsuspend. */
#include "dt.h"
#include <sys/time.h>

static volatile int ticks;
static void h(int s) { (void)s; ticks++; }

int main(void)
{
	signal(SIGALRM, h);
	struct itimerval it = {{0, 5000}, {0, 5000}};
	MUST(setitimer(ITIMER_REAL, &it, NULL));
	while (ticks < 3)
		pause();
	struct itimerval off = {0};
	setitimer(ITIMER_REAL, &off, &it);
	yesno("periodic timer ticked 3 times", ticks >= 3);
	yesno("old interval returned", it.it_interval.tv_usec == 5000);
	value("alarm(5) with none pending", alarm(5));
	value("alarm(0) returns remaining", alarm(0));
	ticks = 0;
	long long t0 = now_ns();
	struct itimerval once = {{0, 0}, {0, 20000}};
	setitimer(ITIMER_REAL, &once, NULL);
	errno = 0;
	int r = pause();
	printf("pause: %d %s, ticks %d, waited >= 20 ms: %s\n", r, errname(errno), ticks,
	       now_ns() - t0 >= 20000000 ? "yes" : "no");
	sigset_t m, old;
	sigemptyset(&m);
	sigaddset(&m, SIGALRM);
	sigprocmask(SIG_BLOCK, &m, &old);
	setitimer(ITIMER_REAL, &once, NULL);
	r = sigsuspend(&old);
	printf("sigsuspend: %d %s, ticks %d\n", r, errname(errno), ticks);
	sigprocmask(SIG_SETMASK, NULL, &m);
	yesno("mask restored after sigsuspend", sigismember(&m, SIGALRM));
	return 0;
}

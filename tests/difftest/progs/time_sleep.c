/* nanosleep and clock_nanosleep: sleep at least as long as asked,
 * absolute deadlines, EINVAL, EINTR with the time left. */
#include "dt.h"

static void h(int s) { (void)s; }

int main(void)
{
	long long t0 = now_ns();
	struct timespec d = {0, 15000000};
	result("nanosleep 15 ms", nanosleep(&d, NULL));
	long long dt = now_ns() - t0;
	yesno("slept >= 15 ms", dt >= 15000000);
	yesno("slept < 2 s", dt < 2000000000);
	struct timespec bad = {0, 1000000000};
	result("nsec 1e9", nanosleep(&bad, NULL));
	struct timespec neg = {-1, 0};
	result("negative seconds", nanosleep(&neg, NULL));
	struct timespec zero = {0, 0};
	result("zero sleep", nanosleep(&zero, NULL));
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	now.tv_nsec += 10000000;
	if (now.tv_nsec >= 1000000000) {
		now.tv_sec++;
		now.tv_nsec -= 1000000000;
	}
	int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &now, NULL);
	struct timespec after;
	clock_gettime(CLOCK_MONOTONIC, &after);
	printf("absolute sleep: %s, woke at or after deadline: %s\n", errname(r),
	       after.tv_sec > now.tv_sec || (after.tv_sec == now.tv_sec && after.tv_nsec >= now.tv_nsec) ? "yes" : "no");
	printf("clock_nanosleep bad clock: %s\n", errname(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &d, NULL)));
	struct sigaction sa = {.sa_handler = h};
	sigaction(SIGALRM, &sa, NULL);
	struct timespec longer = {5, 0}, left = {0, 0};
	pid_t parent = getpid();
	pid_t k = fork();
	if (k == 0) {
		usleep(20000);
		kill(parent, SIGALRM);
		_exit(0);
	}
	r = nanosleep(&longer, &left);
	printf("interrupted: %s, time left between 3 s and 5 s: %s\n", errname(errno),
	       r < 0 && left.tv_sec >= 3 && left.tv_sec < 5 ? "yes" : "no");
	reap("signaller", k);
	return 0;
}

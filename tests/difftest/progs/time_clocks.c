/* clock_gettime and friends: monotonic never goes back, realtime is
 * after 2020 and agrees with gettimeofday and time(), resolutions, CPU
 * clocks advance with work, errors. */
#include "dt.h"
#include <sys/syscall.h>
#include <sys/time.h>

int main(void)
{
	struct timespec a, b;
	int back = 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 2000; i++) {
		clock_gettime(CLOCK_MONOTONIC, &b);
		back |= b.tv_sec < a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec < a.tv_nsec);
		a = b;
	}
	yesno("monotonic never went back", !back);
	yesno("nsec in range", a.tv_nsec >= 0 && a.tv_nsec < 1000000000);
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	yesno("realtime after 2020", rt.tv_sec > 1577836800);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	yesno("gettimeofday within 2 s of realtime", tv.tv_sec - rt.tv_sec <= 2 && tv.tv_sec >= rt.tv_sec);
	time_t t = time(NULL);
	yesno("time() within 2 s", t - rt.tv_sec <= 2 && t >= rt.tv_sec);
	struct timespec res;
	result("getres MONOTONIC", clock_getres(CLOCK_MONOTONIC, &res));
	yesno("resolution <= 1 ms", res.tv_sec == 0 && res.tv_nsec <= 1000000 && res.tv_nsec > 0);
	struct timespec c0, c1;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	volatile unsigned long x = 0;
	for (unsigned long i = 0; i < 3000000; i++)
		x += i;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	yesno("process CPU clock advanced", c1.tv_sec > c0.tv_sec || c1.tv_nsec > c0.tv_nsec);
	result("CLOCK_THREAD_CPUTIME_ID", clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1));
	result("CLOCK_BOOTTIME", clock_gettime(CLOCK_BOOTTIME, &c1));
	result("CLOCK_MONOTONIC_COARSE", clock_gettime(CLOCK_MONOTONIC_COARSE, &c1));
	result("bad clock", clock_gettime(12345, &c1));
	/* By number: musl would use the vDSO, which faults in user space. */
	result("bad pointer", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, 8L));
	struct timespec set = {0, 0};
	result("settime MONOTONIC", clock_settime(CLOCK_MONOTONIC, &set));
	return 0;
}

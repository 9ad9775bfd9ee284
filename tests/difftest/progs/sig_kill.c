/* kill: signal 0 probes, ESRCH for reaped pids, EINVAL for bad numbers,
 * a zombie still exists for kill(pid, 0), tgkill/tkill to ourselves. */
#include "dt.h"
#include <sys/syscall.h>

static volatile int got;
static void h(int s) { got = s; }

int main(void)
{
	result("kill(self, 0)", kill(getpid(), 0));
	result("kill(self, 99)", kill(getpid(), 99));
	result("kill(999999, 0)", kill(999999, 0));
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	usleep(20000);
	result("kill zombie with 0", kill(p, 0));
	reap("child", p);
	result("kill reaped child", kill(p, 0));
	signal(SIGUSR2, h);
	result("tgkill self", syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR2));
	printf("handler got %d\n", got);
	got = 0;
	result("tkill self", syscall(SYS_tkill, syscall(SYS_gettid), SIGUSR2));
	printf("handler got %d\n", got);
	result("tgkill wrong tgid", syscall(SYS_tgkill, 999999, syscall(SYS_gettid), SIGUSR2));
	p = fork();
	if (p == 0) {
		signal(SIGTERM, SIG_IGN);
		for (;;)
			pause();
	}
	usleep(20000);
	kill(p, SIGTERM);
	usleep(20000);
	result("child ignoring SIGTERM still alive", kill(p, 0));
	kill(p, SIGKILL);
	reap("after SIGKILL", p);
	return 0;
}

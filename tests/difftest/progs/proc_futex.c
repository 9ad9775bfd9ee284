/* futex: wake-up of a waiting thread, EAGAIN when the value changed,
 * ETIMEDOUT, wake counts, FUTEX_PRIVATE_FLAG. */
#include "dt.h"
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

/* musl does not search the kernel headers: the numbers of <linux/futex.h>. */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)

static atomic_int word;
static atomic_int waiting;

static long futex(atomic_int *a, int op, int val, const struct timespec *t)
{
	return syscall(SYS_futex, a, op, val, t, NULL, 0);
}

static void *waiter(void *arg)
{
	(void)arg;
	atomic_fetch_add(&waiting, 1);
	while (atomic_load(&word) == 0)
		futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL);
	return (void *)1;
}

int main(void)
{
	struct timespec t = {0, 10000000};
	result("FUTEX_WAIT on a changed value", futex(&word, FUTEX_WAIT, 1, NULL));
	result("FUTEX_WAIT times out", futex(&word, FUTEX_WAIT, 0, &t));
	value("FUTEX_WAKE with no waiters", futex(&word, FUTEX_WAKE, 1, NULL));
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, waiter, NULL);
	while (atomic_load(&waiting) < 3)
		sched_yield();
	struct timespec settle = {0, 20000000};
	nanosleep(&settle, NULL);
	atomic_store(&word, 1);
	long woken = futex(&word, FUTEX_WAKE_PRIVATE, 10, NULL);
	yesno("woke between 0 and 3 threads", woken >= 0 && woken <= 3);
	int all = 1;
	for (int i = 0; i < 3; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		all &= ret == (void *)1;
	}
	yesno("all three waiters returned", all);
	result("FUTEX_WAIT unaligned address", syscall(SYS_futex, (char *)&word + 1, FUTEX_WAIT, 0, NULL, NULL, 0));
	result("FUTEX_WAIT bad address", syscall(SYS_futex, (void *)16, FUTEX_WAIT, 0, NULL, NULL, 0));
	struct timespec bad = {0, -1};
	result("FUTEX_WAIT bad timeout", futex(&word, FUTEX_WAIT, 1, &bad));
	return 0;
}

/* pthreads (clone with CLONE_THREAD): shared memory, one pid, distinct
 * tids, mutex-protected counter, join values, thread-local storage. */
#include "dt.h"
#include <pthread.h>
#include <sys/syscall.h>

#define THREADS 4
#define ROUNDS 20000
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static __thread int tls = 5;
static pid_t tids[THREADS];
static pid_t pids[THREADS];

static void *work(void *arg)
{
	long i = (long)arg;
	tids[i] = (pid_t)syscall(SYS_gettid);
	pids[i] = getpid();
	tls += (int)i;
	for (int r = 0; r < ROUNDS; r++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	return (void *)(long)(tls * 10);
}

int main(void)
{
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, work, (void *)i) != 0)
			printf("pthread_create failed\n");
	for (int i = 0; i < THREADS; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		printf("thread %d returned %ld\n", i, (long)ret);
	}
	printf("counter: %ld (want %d)\n", counter, THREADS * ROUNDS);
	printf("main tls untouched: %d\n", tls);
	int same_pid = 1, distinct = 1;
	pid_t me = (pid_t)syscall(SYS_gettid);
	yesno("main tid == pid", me == getpid());
	for (int i = 0; i < THREADS; i++) {
		same_pid &= pids[i] == getpid();
		distinct &= tids[i] != me;
		for (int j = 0; j < i; j++)
			distinct &= tids[i] != tids[j];
	}
	yesno("threads share the pid", same_pid);
	yesno("thread ids distinct", distinct);
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 10000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&lock);
	int r = pthread_cond_timedwait(&cv, &lock, &ts);
	pthread_mutex_unlock(&lock);
	printf("cond_timedwait: %s\n", errname(r));
	return 0;
}

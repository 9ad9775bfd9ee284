/* POSIX threads through the system library (clone with CLONE_THREAD: the
 * library's own user-level threads): a mutex-protected counter across
 * eight threads, a condition-variable ping-pong, a thread blocked reading a
 * pipe while the others go on, a sleeping thread that does not stop the
 * others, timed waits, thread-local storage, pthread_exit values, a fork
 * from a thread, a signal handled while threads wait, a thread spinning
 * without a system call that must be preempted for main to go on, and two
 * hundred threads made and joined one after another (each thread's library stack
 * must be given back). Prints "NAME: ok" or "NAME: FAILED ..." per check
 * and "threads: N failed". */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failed;

static void check(const char *name, int ok, const char *why)
{
	if (ok) {
		printf("%s: ok\n", name);
	} else {
		printf("%s: FAILED %s\n", name, why);
		failed++;
	}
}

#define THREADS 8
#define ROUNDS 5000
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *count(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
		if (i % 1000 == 0)
			sched_yield();
	}
	return arg;
}

static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn, pings;

static void *pong(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < 500; i++) {
		while (turn != 1)
			pthread_cond_wait(&cv, &lock);
		turn = 0;
		pings++;
		pthread_cond_signal(&cv);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

static int pipefd[2];
static char got[16];

static void *reader(void *arg)
{
	(void)arg;
	ssize_t n = read(pipefd[0], got, sizeof got - 1);
	return (void *)n;
}

static volatile int others_ran;

static void *sleeper(void *arg)
{
	(void)arg;
	struct timespec t = {0, 50 * 1000 * 1000};
	nanosleep(&t, NULL);
	return (void *)(long)others_ran;
}

static __thread int tls = 7;

static void *tls_user(void *arg)
{
	tls += (int)(long)arg;
	return (void *)(long)tls;
}

static void *exiter(void *arg)
{
	pthread_exit((void *)((long)arg * 3));
	return NULL;
}

static void *forker(void *arg)
{
	(void)arg;
	pid_t p = fork();
	if (p == 0)
		_exit(21);
	int st = 0;
	if (waitpid(p, &st, 0) != p)
		return (void *)-1;
	return (void *)(long)(WIFEXITED(st) ? WEXITSTATUS(st) : -2);
}

static volatile sig_atomic_t usr1;
static void on_usr1(int s)
{
	(void)s;
	usr1++;
}

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	while (!turn)
		pthread_cond_wait(&cv, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *nothing(void *arg)
{
	return arg;
}

static volatile int stop_spinning;

static void *spinner(void *arg)
{
	unsigned long spins = 0;
	while (!stop_spinning)
		spins++;
	return arg;
}

int main(void)
{
	char why[128];
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, count, (void *)i);
	int joined = 1;
	for (long i = 0; i < THREADS; i++) {
		void *r;
		joined &= pthread_join(t[i], &r) == 0 && r == (void *)i;
	}
	snprintf(why, sizeof why, "counter %ld", counter);
	check("mutex counter", counter == THREADS * ROUNDS && joined, why);

	pthread_t p;
	pthread_create(&p, NULL, pong, NULL);
	pthread_mutex_lock(&lock);
	for (int i = 0; i < 500; i++) {
		turn = 1;
		pthread_cond_signal(&cv);
		while (turn != 0)
			pthread_cond_wait(&cv, &lock);
	}
	pthread_mutex_unlock(&lock);
	pthread_join(p, NULL);
	snprintf(why, sizeof why, "pings %d", pings);
	check("condvar ping-pong", pings == 500, why);

	pipe(pipefd);
	pthread_create(&p, NULL, reader, NULL);
	struct timespec ten = {0, 10 * 1000 * 1000};
	nanosleep(&ten, NULL);
	write(pipefd[1], "through", 7);
	void *n;
	pthread_join(p, &n);
	check("a reader blocked on a pipe", (long)n == 7 && strcmp(got, "through") == 0, got);

	pthread_create(&p, NULL, sleeper, NULL);
	sched_yield();
	others_ran = 1;
	void *seen;
	pthread_join(p, &seen);
	check("a sleeping thread does not stop the others", seen == (void *)1, "main did not run");

	struct timespec at;
	clock_gettime(CLOCK_REALTIME, &at);
	at.tv_nsec += 20 * 1000 * 1000;
	if (at.tv_nsec >= 1000000000) {
		at.tv_sec++;
		at.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&lock);
	turn = 0;
	pthread_create(&p, NULL, count, NULL);
	int r = pthread_cond_timedwait(&cv, &lock, &at);
	pthread_mutex_unlock(&lock);
	pthread_join(p, NULL);
	check("cond_timedwait times out while another thread works", r == ETIMEDOUT, strerror(r));

	pthread_create(&p, NULL, tls_user, (void *)5);
	pthread_join(p, &seen);
	check("thread-local storage", seen == (void *)12 && tls == 7, "shared tls");

	pthread_create(&p, NULL, exiter, (void *)14);
	pthread_join(p, &seen);
	check("pthread_exit value", seen == (void *)42, "wrong value");

	pthread_create(&p, NULL, forker, NULL);
	pthread_join(p, &seen);
	snprintf(why, sizeof why, "child status %ld", (long)seen);
	check("fork from a thread", seen == (void *)21, why);

	signal(SIGUSR1, on_usr1);
	turn = 0;
	pthread_t w[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&w[i], NULL, waiter, NULL);
	sched_yield();
	kill(getpid(), SIGUSR1);
	pthread_mutex_lock(&lock);
	turn = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < 3; i++)
		pthread_join(w[i], NULL);
	check("a signal with waiting threads", usr1 == 1, "handler count");

	int made = 0;
	for (int i = 0; i < 200; i++) {
		if (pthread_create(&p, NULL, nothing, NULL) != 0)
			break;
		if (pthread_join(p, NULL) != 0)
			break;
		made++;
	}
	snprintf(why, sizeof why, "only %d", made);
	check("two hundred threads one after another", made == 200, why);

	pthread_create(&p, NULL, spinner, (void *)9);
	sched_yield();
	stop_spinning = 1;
	pthread_join(p, &seen);
	check("a spinning thread is preempted", seen == (void *)9, "join");

	pid_t tid = (pid_t)syscall(SYS_gettid);
	check("the main thread's id is the pid", tid == getpid(), "gettid");

	printf("threads: %d failed\n", failed);
	return failed != 0;
}

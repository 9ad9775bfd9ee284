/* exit from any thread ends the whole process; pthread_exit of main
 * lets the others finish. */
#include "dt.h"
#include <pthread.h>

static void *exiter(void *a)
{
	(void)a;
	usleep(10000);
	exit(33);
}

static void *sleeper(void *a)
{
	for (;;)
		pause();
	return a;
}

static void *finisher(void *a)
{
	(void)a;
	usleep(20000);
	printf("last thread finishing\n");
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		/* Freshly exec'd, so musl's thread bookkeeping is set up (after a
		 * bare fork() the main thread has no clear-child-tid address and
		 * musl's last thread would wait for it forever). */
		pthread_t a;
		pthread_create(&a, NULL, finisher, NULL);
		pthread_exit(NULL);
	}
	pid_t p = fork();
	if (p == 0) {
		pthread_t a, b;
		pthread_create(&b, NULL, sleeper, NULL);
		pthread_create(&a, NULL, exiter, NULL);
		for (;;)
			pause();
	}
	reap("process whose thread called exit(33)", p);
	p = fork();
	if (p == 0) {
		execl("/difftest/proc_exit_group", "proc_exit_group", "main-exits", (char *)0);
		_exit(127);
	}
	reap("process whose main thread called pthread_exit", p);
	p = fork();
	if (p == 0) {
		pthread_t a;
		pthread_create(&a, NULL, sleeper, NULL);
		usleep(5000);
		raise(SIGTERM);
		for (;;)
			pause();
	}
	reap("threaded process killed by SIGTERM", p);
	return 0;
}

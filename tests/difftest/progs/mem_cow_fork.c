/* Copy-on-write after fork: private memory (stack, data, heap, anon
 * mmap) diverges; MAP_SHARED anonymous memory stays shared. */
#include "dt.h"
#include <sys/mman.h>

static int data_var = 1;

int main(void)
{
	int stack_var = 1;
	int *heap = malloc(1 << 20);
	heap[1000] = 1;
	int *priv = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int *shared = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	priv[100] = 1;
	shared[100] = 1;
	int *untouched = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pid_t p = fork();
	if (p == 0) {
		stack_var = data_var = heap[1000] = priv[100] = shared[100] = 2;
		untouched[5] = 2;
		_exit(stack_var + data_var + heap[1000] + priv[100] + shared[100] + untouched[5]);
	}
	reap("child (wrote 2 everywhere, sum 12)", p);
	printf("parent sees: stack %d data %d heap %d private %d shared %d untouched %d\n", stack_var,
	       data_var, heap[1000], priv[100], shared[100], untouched[5]);
	priv[100] = 3;
	p = fork();
	if (p == 0)
		_exit(priv[100]);
	reap("child reads parent's pre-fork write (3)", p);
	/* Many forks touching the same pages. */
	for (int i = 0; i < 8; i++) {
		p = fork();
		if (p == 0) {
			for (int j = 0; j < 16384; j += 1024)
				priv[j] = i;
			__sync_fetch_and_add(&shared[0], 1);
			_exit(0);
		}
		waitpid(p, NULL, 0);
	}
	printf("after 8 writers: private %d, shared counter %d\n", priv[0], shared[0]);
	return 0;
}

/* Page-fault scaling: one process per processor, each taking first-write
 * faults on fresh pages of its own anonymous mapping at the same time
 * (issue 7's "faults in separate regions", through the Linux
 * personality, against Linux in the same QEMU).
 *
 * Prints two lines: the cost per fault with one process
 * (`fault_scaling_1`) and with one process per online processor
 * (`fault_scaling`, with procs=N and scaling = cost at 1 / cost at N; 1.00
 * is perfect). Each is the best of ROUNDS rounds: a round forks the
 * processes, which map their pages, meet at a barrier in shared memory,
 * then time their own faults; the figure is the mean over the processes.
 * Under TCG both kernels pay QEMU's global lock on every exception, so
 * only the comparison in the same machine means something. Run it on a
 * machine with processors: `cargo xtask difftest --bench --machine smp2
 * --filter fault_scaling`. */
#include "bench.h"

#define PAGES 512
#define ROUNDS 7
#define MAX_PROCS 64

struct shared {
	volatile int ready;
	volatile int go;
	volatile uint64_t cycles[MAX_PROCS];
	volatile uint64_t ns[MAX_PROCS];
};

/* Cycles and nanoseconds per fault. */
struct cost {
	double cycles, ns;
};

static void child(struct shared *sh, int k)
{
	char *m = mmap(NULL, PAGES * 4096L, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (m == MAP_FAILED)
		die("mmap");
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
	uint64_t t0 = rdtsc(), n0 = mono_ns();
	for (long i = 0; i < PAGES; i++)
		m[i * 4096] = 1;
	sh->cycles[k] = (rdtsc() - t0) / PAGES;
	sh->ns[k] = (mono_ns() - n0) / PAGES;
	_exit(0);
}

/* One round with `procs` processes: the mean cost per fault. */
static struct cost round_of(struct shared *sh, int procs)
{
	sh->ready = 0;
	sh->go = 0;
	for (int k = 0; k < procs; k++) {
		pid_t p = fork();
		if (p < 0)
			die("fork");
		if (p == 0)
			child(sh, k);
	}
	while (__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST) < procs)
		sched_yield();
	__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
	for (int k = 0; k < procs; k++) {
		int st;
		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("child");
	}
	struct cost c = {0, 0};
	for (int k = 0; k < procs; k++) {
		c.cycles += (double)sh->cycles[k] / procs;
		c.ns += (double)sh->ns[k] / procs;
	}
	return c;
}

/* The best of ROUNDS rounds with `procs` processes. */
static struct cost best_of(struct shared *sh, int procs)
{
	struct cost best = {0, 0};
	for (int r = 0; r < ROUNDS; r++) {
		struct cost c = round_of(sh, procs);
		if (r == 0 || c.cycles < best.cycles)
			best = c;
	}
	return best;
}

/* The end of a line: in a direct build, that no measured operation is a
 * call (the faults trap by nature). */
static void path(void)
{
#ifdef BENCH_DIRECT
	bench_path(0, 0, "faults");
#endif
	printf("\n");
}

int main(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	int procs = n < 1 ? 1 : n > MAX_PROCS ? MAX_PROCS : (int)n;
	struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap shared");
	bench_init();
	round_of(sh, procs); /* warm up */
	struct cost one = best_of(sh, 1), all = best_of(sh, procs);
	printf("bench: fault_scaling_1 cycles=%.0f ns=%.0f iters=%d", one.cycles, one.ns,
	       PAGES * ROUNDS);
	path();
	printf("bench: fault_scaling cycles=%.0f ns=%.0f iters=%d procs=%d scaling=%.2f",
	       all.cycles, all.ns, PAGES * ROUNDS * procs, procs, one.cycles / all.cycles);
	path();
	return 0;
}

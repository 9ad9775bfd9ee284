/* execve of this (small, static) program by itself, in a chain: each
 * image execs the next until the count runs out; the first records the
 * start time in the arguments. fork is not part of the figure. */
#include "bench.h"

#define ITERS 200

static void chain(long left, uint64_t c0, uint64_t n0)
{
	char a[32], b[32], c[32];
	snprintf(a, sizeof a, "%ld", left);
	snprintf(b, sizeof b, "%llu", (unsigned long long)c0);
	snprintf(c, sizeof c, "%llu", (unsigned long long)n0);
	char *argv[] = {"bench_execve", a, b, c, NULL};
	char *envp[] = {NULL};
	execve("/difftest/bench_execve", argv, envp);
	die("execve");
}

int main(int argc, char **argv)
{
	if (argc == 4) {
		long left = atol(argv[1]);
		uint64_t c0 = strtoull(argv[2], NULL, 10), n0 = strtoull(argv[3], NULL, 10);
		if (left > 0)
			chain(left - 1, c0, n0);
		uint64_t c1 = rdtsc(), n1 = mono_ns();
		/* One run of the chain, printed in bench()'s format. */
		printf("bench: execve cycles=%.0f ns=%.0f iters=%d\n", (double)(c1 - c0) / ITERS,
		       (double)(n1 - n0) / ITERS, ITERS);
		return 0;
	}
	chain(ITERS - 1, rdtsc(), mono_ns());
	return 1;
}

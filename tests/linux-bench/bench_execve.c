/* execve of this (small, static) program by itself, in a chain: each
 * image execs the next until the count runs out; the first records the
 * start time in the arguments. fork is not part of the figure. A direct
 * build passes on how many of the chain's execve calls took the vector
 * and how many trapped (each image has its own count). */
#include "bench.h"

#define ITERS 100

static void chain(long left, uint64_t c0, uint64_t n0, unsigned long direct, unsigned long trapped)
{
	char a[32], b[32], c[32], d[32], t[32];
	snprintf(a, sizeof a, "%ld", left);
	snprintf(b, sizeof b, "%llu", (unsigned long long)c0);
	snprintf(c, sizeof c, "%llu", (unsigned long long)n0);
	char *argv[] = {"bench_execve", a, b, c, d, t, NULL};
	char *envp[] = {NULL};
#ifdef BENCH_DIRECT
	/* This image's execve: counted before it is made (the vector's
	 * counts do not survive it). */
	int direct_ok = k42_direct && !k42_trap_only(SYS_execve, 0, 0);
	direct += direct_ok;
	trapped += !direct_ok;
#endif
	snprintf(d, sizeof d, "%lu", direct);
	snprintf(t, sizeof t, "%lu", trapped);
	SYS(SYS_execve, "/difftest/bench_execve" BENCH_SUFFIX, argv, envp);
	die("execve");
}

int main(int argc, char **argv)
{
	bench_init();
	if (argc == 6) {
		long left = atol(argv[1]);
		uint64_t c0 = strtoull(argv[2], NULL, 10), n0 = strtoull(argv[3], NULL, 10);
		unsigned long direct = strtoul(argv[4], NULL, 10), trapped = strtoul(argv[5], NULL, 10);
		if (left > 0)
			chain(left - 1, c0, n0, direct, trapped);
		uint64_t c1 = rdtsc(), n1 = mono_ns();
		/* One run of the chain, printed in bench()'s format. */
		printf("bench: execve cycles=%.0f ns=%.0f iters=%d", (double)(c1 - c0) / ITERS,
		       (double)(n1 - n0) / ITERS, ITERS);
#ifdef BENCH_DIRECT
		const char *why = k42_direct ? k42_trap_only(SYS_execve, 0, 0) : "no-vector";
		bench_path(direct, trapped, trapped ? why : 0);
#endif
		printf("\n");
		return 0;
	}
	chain(ITERS - 1, rdtsc(), mono_ns(), 0, 0);
	return 1;
}

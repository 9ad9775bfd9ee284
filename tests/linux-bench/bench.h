/* bench.h: helpers of the Linux-vs-K42-rs microbenchmarks (issue 9).
 *
 * Each benchmark times ITERS operations with rdtsc, three times, and
 * prints the best run as one parseable line:
 *
 *   bench: KEY cycles=<cycles per operation> ns=<ns per operation> iters=N
 *
 * `cargo xtask difftest --bench` collects these lines into its table.
 * Cycles are the guest's TSC: under QEMU's software emulation (TCG) they
 * are a scaled host clock, so only ratios between kernels in the same
 * QEMU configuration mean anything.
 *
 * The measured system calls go through SYS(...), those that may wait (a
 * pipe's read) through SYS_WAITS(...): both are libc's syscall(), a trap.
 * Built with -DBENCH_DIRECT (the `-direct` programs of `cargo xtask bench
 * --vs-linux`), they go through the system library's direct-branch
 * header instead (user/syslib/include/k42-syslib.h): SYS takes the
 * library's vector on K42-rs where the call can, SYS_WAITS traps, and on
 * Linux (no vector) both trap. The line then says which way the measured
 * calls went (path: direct, trap or mixed; the counts; why the first one
 * that trapped did), with the same runs through the trap in the same
 * process (trap_cycles, see bench()):
 *
 *   bench: KEY cycles=N ns=N iters=N trap_cycles=N path=direct direct=N trapped=0
 *   bench: KEY cycles=N ns=N iters=N trap_cycles=N path=mixed direct=N trapped=N why=waits
 */
#ifndef BENCH_H
#define BENCH_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef BENCH_DIRECT
#include "k42-syslib.h"
#define SYS(...) K42_SYSCALL(__VA_ARGS__)
#define SYS_WAITS(...) K42_SYSCALL_TRAP(__VA_ARGS__)
/* This program's own name under /difftest (execve runs itself). */
#define BENCH_SUFFIX "-direct"
#else
#define SYS(...) syscall(__VA_ARGS__)
#define SYS_WAITS(...) syscall(__VA_ARGS__)
#define BENCH_SUFFIX ""
#endif

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi)::"memory");
	return (uint64_t)hi << 32 | lo;
}

static inline uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline void die(const char *what)
{
	printf("FATAL %s: errno %d\n", what, errno);
	exit(99);
}

/* Before the first measured call: a direct build looks for the vector. */
static inline void bench_init(void)
{
#ifdef BENCH_DIRECT
	k42_direct_init();
#endif
}

#ifdef BENCH_DIRECT
/* The end of a direct-built program's line: which way the measured calls
 * went. */
static inline void bench_path(unsigned long direct, unsigned long trapped, const char *why)
{
	const char *path = trapped == 0 && direct > 0 ? "direct" : direct == 0 ? "trap" : "mixed";
	printf(" path=%s direct=%lu trapped=%lu", path, direct, trapped);
	if (why)
		printf(" why=%s", why);
}
#endif

/* The best (fewest cycles) of a benchmark's timed runs, per operation. */
struct bench_best {
	double cycles, ns;
	int runs;
};

/* One timed run of body(iters), kept in `best` if it is the best yet. */
static inline void bench_run(struct bench_best *best, void (*body)(long iters), long iters,
			     double ops)
{
	uint64_t c0 = rdtsc(), n0 = mono_ns();
	body(iters);
	uint64_t c1 = rdtsc(), n1 = mono_ns();
	double c = (double)(c1 - c0) / ops, ns = (double)(n1 - n0) / ops;
	if (best->runs++ == 0 || c < best->cycles) {
		best->cycles = c;
		best->ns = ns;
	}
}

/* Runs body(iters) three times after a warm-up; prints the best
 * per-operation figures.
 *
 * A direct build alternates each run with one through the trap (the
 * vector hidden, so its calls trap as the plain build's do) and adds the
 * best of those as trap_cycles=N: direct against trap measured in one
 * process at nearly the same time, which a busy host's drift between
 * two programs does not skew. Where no measured call took the vector
 * (fork; no vector), the trap runs are left out. */
static inline void bench(const char *key, long iters, long per_iter_ops,
			 void (*body)(long iters))
{
	struct bench_best best = {0, 0, 0};
	double ops = (double)iters * (double)per_iter_ops;
	bench_init();
	body(iters / 10 + 1); /* warm up */
#ifdef BENCH_DIRECT
	struct bench_best trap = {0, 0, 0};
	k42_calls.direct = k42_calls.trapped = 0;
	k42_calls.why = 0;
	for (int run = 0; run < 3; run++) {
		bench_run(&best, body, iters, ops);
		if (!k42_calls.direct)
			continue;
		long (*vector)(long, long, long, long, long, long, long) = k42_direct;
		unsigned long direct = k42_calls.direct, trapped = k42_calls.trapped;
		const char *why = k42_calls.why;
		k42_direct = 0;
		bench_run(&trap, body, iters, ops);
		k42_direct = vector;
		k42_calls.direct = direct;
		k42_calls.trapped = trapped;
		k42_calls.why = why;
	}
#else
	for (int run = 0; run < 3; run++)
		bench_run(&best, body, iters, ops);
#endif
	printf("bench: %s cycles=%.0f ns=%.0f iters=%ld", key, best.cycles, best.ns,
	       iters * per_iter_ops);
#ifdef BENCH_DIRECT
	if (trap.runs)
		printf(" trap_cycles=%.0f", trap.cycles);
	bench_path(k42_calls.direct, k42_calls.trapped, k42_calls.why);
#endif
	printf("\n");
}

/* Pins the calling process to processor 0. */
static inline void pin_cpu0(void)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(0, &s);
	sched_setaffinity(0, sizeof s, &s);
}
#endif

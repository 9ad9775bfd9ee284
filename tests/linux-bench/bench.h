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

/* Runs body(iters) three times; prints the best per-operation figures. */
static inline void bench(const char *key, long iters, long per_iter_ops,
			 void (*body)(long iters))
{
	double best_c = 0, best_ns = 0;
	body(iters / 10 + 1); /* warm up */
	for (int run = 0; run < 3; run++) {
		uint64_t c0 = rdtsc(), n0 = mono_ns();
		body(iters);
		uint64_t c1 = rdtsc(), n1 = mono_ns();
		double ops = (double)iters * (double)per_iter_ops;
		double c = (double)(c1 - c0) / ops, ns = (double)(n1 - n0) / ops;
		if (run == 0 || c < best_c) {
			best_c = c;
			best_ns = ns;
		}
	}
	printf("bench: %s cycles=%.0f ns=%.0f iters=%ld\n", key, best_c, best_ns,
	       iters * per_iter_ops);
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

/* reflect-bench.c: what trap reflection costs. Cycles per Linux system
 * call reflected to the system library (getpid: the library's work is
 * nothing, so this is the round trip kernel -> library -> kernel ->
 * program), against a native K42-rs call the kernel serves itself
 * (clock(), 0x4b42_0012) and against the same getpid through the
 * library's direct-branch vector (k42-syslib.h, no trap). Best of five
 * rounds of N calls (argv[1], default 20000). Prints `kbench:` lines for
 * `cargo xtask bench`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "k42-syslib.h"

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline long call0(long nr)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr) : "rcx", "r11", "memory");
	return r;
}

static uint64_t best(long nr, long n, int direct)
{
	uint64_t min = UINT64_MAX;
	for (int round = 0; round < 5; round++) {
		uint64_t t0 = rdtsc();
		if (direct)
			for (long i = 0; i < n; i++)
				k42_syscall(nr, 0, 0, 0, 0, 0, 0);
		else
			for (long i = 0; i < n; i++)
				call0(nr);
		uint64_t per = (rdtsc() - t0) / n;
		if (per < min)
			min = per;
	}
	return min;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	if (n <= 0)
		n = 1;
	const long native_clock = 0x4b420012;
	uint64_t reflected = best(SYS_getpid, n, 0);
	uint64_t native = best(native_clock, n, 0);
	printf("kbench: linux.syscall reflected getpid cycles/call=%llu\n", (unsigned long long)reflected);
	printf("kbench: linux.syscall native clock cycles/call=%llu\n", (unsigned long long)native);
	if (native)
		printf("kbench: linux.syscall reflected/native ratio=%.2f\n", (double)reflected / (double)native);
	if (k42_direct_init()) {
		if (k42_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0) != getpid()) {
			printf("direct getpid disagrees\n");
			return 1;
		}
		uint64_t direct = best(SYS_getpid, n, 1);
		printf("kbench: linux.syscall direct getpid cycles/call=%llu\n", (unsigned long long)direct);
		printf("kbench: linux.syscall direct/reflected ratio=%.2f (%.0f%% faster)\n",
		       (double)direct / (double)reflected, 100.0 * (1.0 - (double)direct / (double)reflected));
	}
	return 0;
}

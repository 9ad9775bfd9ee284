/* Futex round trip: a parent and its forked child, both pinned to
 * processor 0, pass a turn back and forth through a word of
 * MAP_SHARED | MAP_ANONYMOUS memory, each sleeping in FUTEX_WAIT until
 * the other's FUTEX_WAKE. The figure is per round trip (two wakes, two
 * sleeps, two switches): the K42-rs side is its system library's futex on
 * the kernel's futex_wait/futex_wake. In the direct build the wake goes
 * through the vector and the wait traps (k42-syslib.h). */
#include "bench.h"

/* musl does not search the kernel headers: the numbers of <linux/futex.h>. */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1

static uint32_t *turn;
static uint32_t next;

static void wait_for(uint32_t want)
{
	for (;;) {
		uint32_t v = __atomic_load_n(turn, __ATOMIC_SEQ_CST);
		if (v == want)
			return;
		if (SYS(SYS_futex, turn, FUTEX_WAIT, v, NULL, NULL, 0) < 0 && errno != EAGAIN &&
		    errno != EINTR)
			die("futex wait");
	}
}

static void pass(uint32_t to)
{
	__atomic_store_n(turn, to, __ATOMIC_SEQ_CST);
	SYS(SYS_futex, turn, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void body(long n)
{
	for (long i = 0; i < n; i++) {
		pass(next + 1);
		wait_for(next + 2);
		next += 2;
	}
}

int main(void)
{
	turn = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (turn == MAP_FAILED)
		die("mmap");
	pin_cpu0();
	pid_t p = fork();
	if (p < 0)
		die("fork");
	if (p == 0) {
		/* Answers every odd turn with the next even one; 0 ends. */
		for (uint32_t t = 1;; t += 2) {
			wait_for(t);
			if (__atomic_load_n(turn + 1, __ATOMIC_SEQ_CST))
				_exit(0);
			pass(t + 1);
		}
	}
	bench("futex_rtt", 2000, 1, body);
	__atomic_store_n(turn + 1, 1, __ATOMIC_SEQ_CST);
	pass(next + 1);
	waitpid(p, NULL, 0);
	return 0;
}

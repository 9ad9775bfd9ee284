/* futex() and mmap(MAP_SHARED | MAP_ANONYMOUS) through the system library:
 * a wrong value is EAGAIN, a timeout expires, and a parent and its forked
 * child pass a turn 1000 times through a shared word, each sleeping in
 * FUTEX_WAIT until the other's FUTEX_WAKE. A private page stays private. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 1000
/* <linux/futex.h> is not in musl's headers. */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | 128)

static long futex(uint32_t *word, int op, uint32_t val, const struct timespec *timeout)
{
	return syscall(SYS_futex, word, op, val, timeout, 0, 0);
}

/* Sleeps until *word == want. */
static int wait_for(uint32_t *word, uint32_t want)
{
	for (;;) {
		uint32_t v = __atomic_load_n(word, __ATOMIC_SEQ_CST);
		if (v == want)
			return 0;
		if (futex(word, FUTEX_WAIT, v, 0) < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
	}
}

static int pass(uint32_t *turn, uint32_t first)
{
	for (uint32_t i = 0; i < ROUNDS; i++) {
		if (wait_for(turn, 2 * i + first) < 0)
			return -1;
		__atomic_store_n(turn, 2 * i + first + 1, __ATOMIC_SEQ_CST);
		futex(turn, FUTEX_WAKE, 1, 0);
	}
	return 0;
}

int main(void)
{
	uint32_t *shared = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint32_t *private = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED || private == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	int eagain = futex(shared, FUTEX_WAIT_PRIVATE, 1, 0) < 0 && errno == EAGAIN;
	struct timespec t0, t1, ts = { 0, 20 * 1000 * 1000 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int timedout = futex(shared, FUTEX_WAIT, 0, &ts) < 0 && errno == ETIMEDOUT;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	printf("futex: eagain=%d timedout=%d waited_20ms=%d\n", eagain, timedout, ms >= 20 && ms < 1000);
	fflush(stdout);
	uint32_t *turn = shared + 16;
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		*private = 99;
		_exit(pass(turn, 1) < 0 ? 2 : 0);
	}
	int ok = pass(turn, 0) == 0;
	int status = 0;
	waitpid(pid, &status, 0);
	printf("futex: ping-pong ok=%d end=%u child=%d private=%u\n", ok, *turn,
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1, *private);
	return 0;
}

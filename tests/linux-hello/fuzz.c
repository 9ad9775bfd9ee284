/* Random Linux system calls with random arguments, through the system
 * library: the library may refuse them, the process may die, the kernel
 * must not. argv[1] is the seed. Calls that would only end the run early
 * or reach beyond this process (exit, kill, fork...) are skipped; every
 * other number up to 460 is fair game. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t x;

static uint64_t next(void)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static int skipped(long nr)
{
	switch (nr) {
	case SYS_exit: case SYS_exit_group: case SYS_kill: case SYS_tkill:
	case SYS_tgkill: case SYS_fork: case SYS_vfork: case SYS_clone:
	case SYS_clone3: case SYS_execve: case SYS_execveat: case SYS_reboot:
	case SYS_rt_sigqueueinfo: case SYS_rt_tgsigqueueinfo: case SYS_setsid:
	case SYS_setpgid:
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char scratch[65536];
	x = (argc > 1 ? strtoull(argv[1], 0, 10) : 1) * 0x9e3779b97f4a7c15ull | 1;
	uintptr_t stack = (uintptr_t)&argc;
	for (long calls = 0;; calls++) {
		long nr = (long)(next() % 460);
		if (skipped(nr))
			continue;
		long a[6];
		for (int i = 0; i < 6; i++) {
			switch (next() % 8) {
			case 0: a[i] = (long)(next() % 16); break;
			case 1: a[i] = (long)(scratch + next() % sizeof scratch); break;
			case 2: a[i] = (long)(stack - next() % 4096); break;
			case 3: a[i] = (long)(0xffff800000000000ull + next() % 0x10000000); break;
			case 4: a[i] = -(long)(next() % 4096); break;
			case 5: a[i] = (long)(0x7000000000ull + next() % 0x100000); break;
			case 6: a[i] = (long)(next() % 0x10000); break;
			default: a[i] = (long)next(); break;
			}
		}
		syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		if (calls % 2000 == 1999)
			dprintf(2, "fuzz: %ld calls\n", calls + 1);
	}
}

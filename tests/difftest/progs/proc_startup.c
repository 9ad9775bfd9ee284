/* What a C library's start-up relies on: arch_prctl (FS base is the
 * thread pointer), set_tid_address, getrandom, prlimit64, the auxiliary
 * vector (AT_PAGESZ, AT_RANDOM, AT_ENTRY), uname. */
#include "dt.h"
#include <pthread.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003

extern void _start(void);

int main(void)
{
	unsigned long fs = 0;
	result("arch_prctl ARCH_GET_FS", syscall(SYS_arch_prctl, ARCH_GET_FS, &fs));
	uintptr_t tp;
	__asm__("mov %%fs:0, %0" : "=r"(tp));
	yesno("FS base == thread pointer (fs:0)", fs == tp);
	yesno("FS base == pthread_self()", fs == (unsigned long)pthread_self());
	result("arch_prctl bad code", syscall(SYS_arch_prctl, 0x9999, &fs));
	int dummy;
	long tid = syscall(SYS_set_tid_address, &dummy);
	yesno("set_tid_address returns the tid", tid == syscall(SYS_gettid));
	unsigned char r[32];
	value("getrandom 32", syscall(SYS_getrandom, r, sizeof r, 0));
	int same = 1;
	for (int i = 1; i < 32; i++)
		same &= r[i] == r[0];
	yesno("random bytes vary", !same);
	value("getrandom GRND_NONBLOCK", syscall(SYS_getrandom, r, 8, 1));
	result("getrandom bad flags", syscall(SYS_getrandom, r, 8, 0x100));
	struct rlimit old;
	result("prlimit64 get RLIMIT_STACK", syscall(SYS_prlimit64, 0, RLIMIT_STACK, NULL, &old));
	yesno("stack limit >= 128 KiB", old.rlim_cur >= 128 * 1024);
	result("prlimit64 of unknown pid", syscall(SYS_prlimit64, 999999, RLIMIT_STACK, NULL, &old));
	value("AT_PAGESZ", (long)getauxval(AT_PAGESZ));
	yesno("AT_RANDOM points at 16 readable bytes", getauxval(AT_RANDOM) != 0 &&
	      ((unsigned char *)getauxval(AT_RANDOM))[15] == ((unsigned char *)getauxval(AT_RANDOM))[15]);
	yesno("AT_ENTRY == _start", getauxval(AT_ENTRY) == (unsigned long)_start);
	yesno("AT_PHDR set", getauxval(AT_PHDR) != 0);
	value("AT_UID", (long)getauxval(AT_UID));
	value("AT_SECURE", (long)getauxval(AT_SECURE));
	result("set_robust_list with a wrong size", syscall(SYS_set_robust_list, NULL, 0));
	return 0;
}

/* brk/sbrk: the break grows and shrinks, new memory is zero, shrinking
 * then growing again gives zeros, a failed brk leaves it unchanged. */
#include "dt.h"
#include <stdint.h>
#include <sys/syscall.h>

int main(void)
{
	uintptr_t b0 = (uintptr_t)syscall(SYS_brk, 0);
	yesno("initial break nonzero", b0 != 0);
	uintptr_t b1 = (uintptr_t)syscall(SYS_brk, b0 + 100000);
	yesno("grew by 100000", b1 == b0 + 100000);
	char *p = (char *)b0;
	int zero = 1;
	for (int i = 0; i < 100000; i++)
		zero &= p[i] == 0;
	yesno("new memory zero", zero);
	memset(p, 0x5a, 100000);
	uintptr_t b2 = (uintptr_t)syscall(SYS_brk, b0 + 10);
	yesno("shrank", b2 == b0 + 10);
	uintptr_t b3 = (uintptr_t)syscall(SYS_brk, b0 + 100000);
	yesno("grew again", b3 == b0 + 100000);
	yesno("byte in a page given back reads zero", p[50000] == 0);
	yesno("byte kept in the first page", p[5] == 0x5a);
	uintptr_t b4 = (uintptr_t)syscall(SYS_brk, 1);
	yesno("brk(1) refused: break unchanged", b4 == b3);
	uintptr_t b5 = (uintptr_t)syscall(SYS_brk, b0 + (1UL << 46));
	yesno("brk far away refused", b5 == b3);
	pid_t k = fork();
	if (k == 0)
		_exit(p[5] == 0x5a && (uintptr_t)syscall(SYS_brk, 0) == b3);
	reap("child inherits break and contents (exit 1)", k);
	return 0;
}

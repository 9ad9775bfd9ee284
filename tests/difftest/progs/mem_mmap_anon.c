/* Anonymous mmap: zero filled, page aligned, MAP_FIXED replaces, munmap
 * makes access fault, partial munmap, errors. */
#include "dt.h"
#include <setjmp.h>
#include <sys/mman.h>

static sigjmp_buf env;
static void h(int s) { siglongjmp(env, s); }

static int probe(volatile char *p)
{
	if (sigsetjmp(env, 1))
		return 0;
	(void)*p;
	return 1;
}

int main(void)
{
	signal(SIGSEGV, h);
	long pg = sysconf(_SC_PAGESIZE);
	value("page size", pg);
	char *m = mmap(NULL, 16 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	yesno("mmap ok", m != MAP_FAILED);
	yesno("page aligned", ((unsigned long)m & (pg - 1)) == 0);
	int zero = 1;
	for (long i = 0; i < 16 * pg; i++)
		zero &= m[i] == 0;
	yesno("zero filled", zero);
	for (long i = 0; i < 16 * pg; i++)
		m[i] = (char)i;
	yesno("writes stick", m[5 * pg + 7] == (char)(5 * pg + 7));
	char *f = mmap(m + 4 * pg, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	yesno("MAP_FIXED at the address asked", f == m + 4 * pg);
	yesno("MAP_FIXED page is fresh (zero)", m[4 * pg + 7] == 0);
	yesno("neighbour untouched", m[5 * pg + 7] == (char)(5 * pg + 7));
	result("munmap middle pages", munmap(m + 6 * pg, 2 * pg));
	yesno("unmapped page faults", !probe(m + 6 * pg));
	yesno("page after the hole still there", probe(m + 8 * pg));
	result("munmap all (hole included)", munmap(m, 16 * pg));
	yesno("first page faults now", !probe(m));
	result("munmap again", munmap(m, 16 * pg));
	result("munmap unaligned", munmap(m + 1, pg));
	result("mmap length 0", mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
	result("mmap neither private nor shared", mmap(NULL, pg, PROT_READ, MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
	result("mmap of bad fd", mmap(NULL, pg, PROT_READ, MAP_PRIVATE, 99, 0) == MAP_FAILED ? -1 : 0);
	char *big = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	yesno("64 MiB reservation", big != MAP_FAILED);
	big[(64 << 20) - 1] = 1;
	yesno("touch its last byte", big[(64 << 20) - 1] == 1);
	char *hint = mmap((void *)0x300000000000UL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	yesno("MAP_FIXED_NOREPLACE at a free address", hint == (void *)0x300000000000UL);
	result("MAP_FIXED_NOREPLACE over it", mmap(hint, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED ? -1 : 0);
	return 0;
}

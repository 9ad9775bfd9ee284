/* mprotect: read-only pages fault on write with SEGV_ACCERR, PROT_NONE
 * faults on read, restoring write works, data kept, errors. */
#include "dt.h"
#include <setjmp.h>
#include <sys/mman.h>

static sigjmp_buf env;
static int code;
static void h(int s, siginfo_t *si, void *c)
{
	(void)c;
	code = si->si_code;
	siglongjmp(env, s);
}

static const char *try_write(volatile char *p)
{
	if (sigsetjmp(env, 1))
		return code == SEGV_ACCERR ? "SIGSEGV SEGV_ACCERR" : "SIGSEGV other";
	*p = 'w';
	return "ok";
}

static const char *try_read(volatile char *p)
{
	if (sigsetjmp(env, 1))
		return code == SEGV_ACCERR ? "SIGSEGV SEGV_ACCERR" : "SIGSEGV other";
	(void)*p;
	return "ok";
}

int main(void)
{
	struct sigaction sa = {.sa_sigaction = h, .sa_flags = SA_SIGINFO};
	sigaction(SIGSEGV, &sa, NULL);
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	m[pg] = 'x';
	result("mprotect page 1 read-only", mprotect(m + pg, pg, PROT_READ));
	printf("write page 0: %s\n", try_write(m));
	printf("write page 1: %s\n", try_write(m + pg));
	printf("read page 1: %s (%c)\n", try_read(m + pg), m[pg]);
	result("mprotect page 2 PROT_NONE", mprotect(m + 2 * pg, pg, PROT_NONE));
	printf("read page 2: %s\n", try_read(m + 2 * pg));
	result("mprotect all read-write", mprotect(m, 4 * pg, PROT_READ | PROT_WRITE));
	printf("write page 1: %s\n", try_write(m + pg));
	printf("write page 2: %s\n", try_write(m + 2 * pg));
	result("mprotect unaligned", mprotect(m + 1, pg, PROT_READ));
	result("mprotect bad prot", mprotect(m, pg, 0x100));
	munmap(m + 3 * pg, pg);
	result("mprotect over unmapped page", mprotect(m, 4 * pg, PROT_READ));
	static const char ro[] = "constant";
	printf("write .rodata: %s\n", try_write((char *)ro));
	printf("write code: %s\n", try_write((char *)main));
	char *x = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	x[0] = (char)0xc3; /* ret */
	result("mprotect to PROT_READ|PROT_EXEC", mprotect(x, pg, PROT_READ | PROT_EXEC));
	((void (*)(void))x)();
	printf("called generated code\n");
	return 0;
}

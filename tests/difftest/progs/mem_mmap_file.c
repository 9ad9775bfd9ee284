/* File mappings: MAP_SHARED writes reach the file and other mappings,
 * MAP_PRIVATE writes do not, offsets, beyond-EOF access gives SIGBUS,
 * msync, mapping a write-only fd fails. */
#include "dt.h"
#include <setjmp.h>
#include <sys/mman.h>

static sigjmp_buf env;
static void h(int s) { siglongjmp(env, s); }

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	int fd = MUST(open("f", O_RDWR | O_CREAT, 0644));
	static char page[8192];
	for (int i = 0; i < 8192; i++)
		page[i] = 'a' + i % 26;
	MUST(write(fd, page, 2 * pg));
	char *s = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	char *o = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, pg);
	yesno("three mappings", s != MAP_FAILED && p != MAP_FAILED && o != MAP_FAILED);
	printf("offset mapping starts with: %.3s\n", o);
	s[pg] = 'S';
	yesno("shared write seen by the offset mapping", o[0] == 'S');
	yesno("shared write seen by the private mapping (not yet copied)", p[pg] == 'S');
	p[pg + 1] = 'P';
	char c;
	pread(fd, &c, 1, pg + 1);
	printf("file byte after private write: %c\n", c);
	s[pg + 2] = 'Q';
	yesno("private copy no longer follows the file", p[pg + 2] != 'Q');
	result("msync", msync(s, 2 * pg, MS_SYNC));
	pread(fd, &c, 1, pg);
	printf("file byte after shared write: %c\n", c);
	pwrite(fd, "W", 1, 0);
	yesno("write() seen by the shared mapping", s[0] == 'W');
	MUST(ftruncate(fd, pg / 2));
	signal(SIGBUS, h);
	int sig = sigsetjmp(env, 1);
	if (sig == 0) {
		volatile char x = s[pg + 5];
		(void)x;
		printf("no SIGBUS?\n");
	} else {
		printf("access past EOF: signal %d\n", sig);
	}
	yesno("the part within the page of EOF reads zero", s[pg / 2 + 1] == 0);
	munmap(s, 2 * pg);
	munmap(p, 2 * pg);
	int wo = MUST(open("f", O_WRONLY));
	result("mmap of O_WRONLY fd", mmap(NULL, pg, PROT_READ, MAP_SHARED, wo, 0) == MAP_FAILED ? -1 : 0);
	int ro = MUST(open("f", O_RDONLY));
	result("MAP_SHARED+PROT_WRITE of O_RDONLY fd", mmap(NULL, pg, PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED ? -1 : 0);
	result("MAP_PRIVATE+PROT_WRITE of O_RDONLY fd", mmap(NULL, pg, PROT_WRITE, MAP_PRIVATE, ro, 0) == MAP_FAILED ? -1 : 0);
	result("unaligned offset", mmap(NULL, pg, PROT_READ, MAP_SHARED, ro, 1) == MAP_FAILED ? -1 : 0);
	int d = MUST(open(".", O_RDONLY | O_DIRECTORY));
	result("mmap a directory", mmap(NULL, pg, PROT_READ, MAP_SHARED, d, 0) == MAP_FAILED ? -1 : 0);
	char *exe = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, MUST(open("/difftest/mem_mmap_file", O_RDONLY)), 0);
	printf("own executable starts with: %.3s\n", exe + 1);
	return 0;
}

/* Page fault: the first write to each page of a fresh anonymous mapping
 * (fault, zeroed frame, mapping); per page. */
#include "bench.h"

#define PAGES 2048

static void body(long n)
{
	for (long r = 0; r < n; r += PAGES) {
		char *m = (char *)SYS(SYS_mmap, NULL, PAGES * 4096L, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			die("mmap");
		long k = n - r < PAGES ? n - r : PAGES;
		for (long i = 0; i < k; i++)
			m[i * 4096] = 1;
		SYS(SYS_munmap, m, PAGES * 4096L);
	}
}

int main(void)
{
	/* The munmap of each batch is inside the timing: a small share. */
	bench("page_fault", 4 * PAGES, 1, body);
	return 0;
}

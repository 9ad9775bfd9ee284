/* mmap of one anonymous page (untouched) and its munmap. */
#include "bench.h"

static void body(long n)
{
	for (long i = 0; i < n; i++) {
		void *m = (void *)SYS(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			die("mmap");
		SYS(SYS_munmap, m, 4096);
	}
}

int main(void)
{
	bench("mmap", 5000, 1, body);
	return 0;
}

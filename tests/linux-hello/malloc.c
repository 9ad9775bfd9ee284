/* malloc.c: the heap: many small blocks (brk), a few large ones (mmap),
 * written, checked, freed, and again; realloc across the two. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i += 4096)
		if (p[i] != v)
			return 0;
	return p[n - 1] == v;
}

int main(void)
{
	enum { SMALL = 1000, BIG = 4 };
	static void *small[SMALL];
	for (int i = 0; i < SMALL; i++) {
		small[i] = malloc(16 + i % 200);
		if (!small[i]) {
			printf("small %d: out of memory\n", i);
			return 1;
		}
		memset(small[i], i & 0xff, 16);
	}
	int bad = 0;
	for (int i = 0; i < SMALL; i++)
		bad += ((unsigned char *)small[i])[15] != (i & 0xff);
	printf("small blocks: %d bad\n", bad);
	for (int round = 0; round < 2; round++) {
		unsigned char *big[BIG];
		size_t size = (size_t)(round + 1) << 20; /* 1 MiB, then 2 MiB */
		for (int i = 0; i < BIG; i++) {
			big[i] = malloc(size);
			if (!big[i]) {
				printf("big %d: out of memory\n", i);
				return 1;
			}
			memset(big[i], 0x40 + i, size);
		}
		int ok = 1;
		for (int i = 0; i < BIG; i++)
			ok &= check(big[i], size, 0x40 + i);
		printf("round %d: %d x %zu MiB %s\n", round, BIG, size >> 20, ok ? "ok" : "BAD");
		for (int i = 0; i < BIG; i++)
			free(big[i]);
	}
	char *r = malloc(100);
	strcpy(r, "kept across realloc");
	r = realloc(r, 3 << 20);
	printf("realloc: %s\n", r ? r : "(null)");
	free(r);
	for (int i = 0; i < SMALL; i++)
		free(small[i]);
	printf("malloc done\n");
	return 0;
}

/* The null system call: getppid (nothing cached by musl, no arguments). */
#include "bench.h"

static void body(long n)
{
	for (long i = 0; i < n; i++)
		SYS(SYS_getppid);
}

int main(void)
{
	bench("null", 20000, 1, body);
	return 0;
}

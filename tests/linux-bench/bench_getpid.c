/* getpid by number (musl does not cache it either). */
#include "bench.h"

static void body(long n)
{
	for (long i = 0; i < n; i++)
		SYS(SYS_getpid);
}

int main(void)
{
	bench("getpid", 20000, 1, body);
	return 0;
}

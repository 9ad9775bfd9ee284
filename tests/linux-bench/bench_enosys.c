/* An invalid system-call number: the kernel's cheapest way out (ENOSYS);
 * on K42-rs, the reflection path with no work behind it. */
#include "bench.h"

static void body(long n)
{
	for (long i = 0; i < n; i++)
		SYS(1000);
}

int main(void)
{
	if (SYS(1000) != -1 || errno != ENOSYS)
		die("syscall 1000 should fail with ENOSYS");
	bench("enosys", 20000, 1, body);
	return 0;
}

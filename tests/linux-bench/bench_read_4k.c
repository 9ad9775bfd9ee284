/* pread of 4 KiB from a cached file (tmpfs) into a user buffer. */
#include "bench.h"

static int fd;
static char buf[4096];

static void body(long n)
{
	for (long i = 0; i < n; i++)
		if (SYS(SYS_pread64, fd, buf, sizeof buf, 0) != sizeof buf)
			die("pread");
}

int main(void)
{
	fd = open("file", O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		die("open");
	memset(buf, 'x', sizeof buf);
	if (write(fd, buf, sizeof buf) != sizeof buf)
		die("write");
	bench("read_4k", 4000, 1, body);
	return 0;
}

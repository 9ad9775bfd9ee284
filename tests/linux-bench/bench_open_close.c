/* open and close of an existing file two directories deep on tmpfs. */
#include "bench.h"

static void body(long n)
{
	for (long i = 0; i < n; i++) {
		int fd = SYS(SYS_open, "d1/d2/file", O_RDONLY);
		if (fd < 0)
			die("open");
		SYS(SYS_close, fd);
	}
}

int main(void)
{
	if (mkdir("d1", 0755) || mkdir("d1/d2", 0755))
		die("mkdir");
	int fd = open("d1/d2/file", O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		die("create");
	close(fd);
	bench("open_close", 2500, 1, body);
	return 0;
}

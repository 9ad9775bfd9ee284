/* writev.c: gathered writes to stdout and stderr, an empty vector, and a
 * bad buffer (EFAULT, nothing written). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int main(void)
{
	struct iovec v[3] = {
		{ .iov_base = "one ", .iov_len = 4 },
		{ .iov_base = "", .iov_len = 0 },
		{ .iov_base = "two\n", .iov_len = 4 },
	};
	ssize_t n = writev(1, v, 3);
	printf("writev: %zd\n", n);
	n = writev(2, v, 0);
	printf("empty: %zd\n", n);
	v[1].iov_base = (void *)16;
	v[1].iov_len = 5;
	n = writev(1, v, 3);
	printf("bad buffer: %zd %s\n", n, n < 0 && errno == EFAULT ? "EFAULT" : strerror(errno));
	n = writev(7, v, 1);
	printf("bad fd: %zd %s\n", n, n < 0 && errno == EBADF ? "EBADF" : strerror(errno));
	return 0;
}

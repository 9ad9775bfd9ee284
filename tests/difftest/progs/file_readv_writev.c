/* readv/writev: gathering, scattering, zero-length pieces, preadv. */
#include "dt.h"
#include <sys/uio.h>

int main(void)
{
	int fd = MUST(open("f", O_RDWR | O_CREAT, 0644));
	struct iovec w[4] = {
		{"one ", 4}, {"", 0}, {"two ", 4}, {"three\n", 6},
	};
	value("writev", writev(fd, w, 4));
	lseek(fd, 0, SEEK_SET);
	char a[3], b[5], c[20] = {0};
	struct iovec r[3] = {{a, 3}, {b, 5}, {c, sizeof c - 1}};
	value("readv", readv(fd, r, 3));
	printf("a=%.3s b=%.5s c=%s", a, b, c);
	char d[4] = {0};
	struct iovec pr = {d, 3};
	value("preadv at 4", preadv(fd, &pr, 1, 4));
	printf("d=%s\n", d);
	value("offset", lseek(fd, 0, SEEK_CUR));
	value("writev with no iovecs", writev(fd, w, 0));
	result("writev with negative count", writev(fd, w, -1));
	struct iovec bad = {(void *)8, 10};
	result("writev from bad pointer", writev(fd, &bad, 1));
	return 0;
}

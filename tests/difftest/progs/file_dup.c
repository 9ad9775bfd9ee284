/* dup/dup2/dup3: lowest free number, shared offset, O_CLOEXEC, the
 * corner cases of equal descriptors. */
#include "dt.h"
#include <sys/syscall.h>

int main(void)
{
	int fd = MUST(open("f", O_RDWR | O_CREAT, 0644));
	int d = MUST(dup(fd));
	yesno("dup gives lowest free (fd+1)", d == fd + 1);
	MUST(write(fd, "abcdef", 6));
	value("offset seen through dup", lseek(d, 0, SEEK_CUR));
	lseek(d, 2, SEEK_SET);
	char c;
	MUST(read(fd, &c, 1));
	printf("read through original after seek on dup: %c\n", c);

	value("dup2 onto 20", dup2(fd, 20));
	value("dup2 same fd", dup2(fd, fd));
	result("dup3 same fd", dup3(fd, fd, 0));
	value("dup3 onto 21 with O_CLOEXEC", dup3(fd, 21, O_CLOEXEC));
	value("FD_CLOEXEC on 21", fcntl(21, F_GETFD) & FD_CLOEXEC);
	value("FD_CLOEXEC on 20", fcntl(20, F_GETFD) & FD_CLOEXEC);
	/* By number: musl 1.2.3's dup3() ignores unknown flags. */
	result("dup3 bad flags", syscall(SYS_dup3, fd, 22, 12345));
	result("dup of bad fd", dup(777));
	result("dup2 of bad fd", dup2(777, 23));
	result("dup2 onto huge fd", dup2(fd, 1 << 30));

	int e = MUST(open("/dev/null", O_RDONLY));
	MUST(dup2(e, 20));
	value("dup2 closed the old 20 (now /dev/null: read)", read(20, &c, 1));
	close(fd);
	close(d);
	int n = MUST(dup(0));
	yesno("lowest free reuses closed fd", n == fd);
	return 0;
}

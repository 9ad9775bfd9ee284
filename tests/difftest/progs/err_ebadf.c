/* EBADF everywhere a descriptor is not open (or open the wrong way). */
#include "dt.h"
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>

int main(void)
{
	char b[8];
	struct stat st;
	result("read -1", read(-1, b, 1));
	result("write 1000", write(1000, b, 1));
	result("close 1000", close(1000));
	int fd = MUST(open("/dev/null", O_RDONLY));
	close(fd);
	result("close twice", close(fd));
	result("read closed", read(fd, b, 1));
	result("fstat closed", fstat(fd, &st));
	result("lseek closed", lseek(fd, 0, SEEK_SET));
	result("dup closed", dup(fd));
	result("fchdir closed", fchdir(fd));
	result("fsync closed", fsync(fd));
	result("ftruncate closed", ftruncate(fd, 0));
	result("getdents64 closed", syscall(SYS_getdents64, fd, b, sizeof b));
	result("openat closed dirfd", openat(fd, "x", O_RDONLY));
	result("mmap closed", mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED ? -1 : 0);
	result("fcntl closed", fcntl(fd, F_GETFD));
	result("ioctl closed", syscall(SYS_ioctl, fd, 0x5401, b));
	result("write to O_RDONLY", write(MUST(open("/dev/null", O_RDONLY)), b, 1));
	int w = MUST(open("x", O_WRONLY | O_CREAT, 0644));
	result("read from O_WRONLY", read(w, b, 1));
	int pa = MUST(open("x", O_PATH));
	result("read from O_PATH", read(pa, b, 1));
	result("fstat O_PATH", fstat(pa, &st));
	return 0;
}

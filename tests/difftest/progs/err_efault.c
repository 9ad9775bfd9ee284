/* Bad user pointers give EFAULT, not a crash: read/write buffers, path
 * names, stat buffers, iovecs, pipe, time, wait status. */
#include "dt.h"
#include <sys/syscall.h>
#include <sys/uio.h>

#define BAD ((void *)0x10)
#define KERNEL ((void *)0xffff800000001000UL)
#define NONCANON ((void *)0x0000900000000000UL)

int main(void)
{
	int fd = MUST(open("f", O_RDWR | O_CREAT, 0644));
	MUST(write(fd, "data", 4));
	lseek(fd, 0, SEEK_SET);
	result("read into NULL+16", read(fd, BAD, 4));
	result("read into kernel address", read(fd, KERNEL, 4));
	result("read into unmapped high address", read(fd, NONCANON, 4));
	result("write from NULL+16", write(fd, BAD, 4));
	result("write from kernel address", write(fd, KERNEL, 4));
	result("open bad path", syscall(SYS_open, BAD, O_RDONLY));
	result("stat bad path", syscall(SYS_stat, BAD, BAD));
	result("stat bad buffer", syscall(SYS_stat, "f", BAD));
	result("fstat bad buffer", syscall(SYS_fstat, fd, KERNEL));
	result("pipe bad array", syscall(SYS_pipe, BAD));
	result("clock_gettime bad", syscall(SYS_clock_gettime, 1, BAD));
	result("readv bad iovec array", syscall(SYS_readv, fd, BAD, 1));
	result("getcwd bad buffer", syscall(SYS_getcwd, BAD, 100));
	result("uname bad", syscall(SYS_uname, BAD));
	result("rt_sigaction bad act", syscall(SYS_rt_sigaction, SIGUSR1, BAD, NULL, 8));
	pid_t k = fork();
	if (k == 0)
		_exit(0);
	usleep(10000);
	result("wait4 bad status pointer", syscall(SYS_wait4, k, BAD, 0, NULL));
	printf("still running\n");
	return 0;
}

/* File mappings through the system library and the file server (ramfs
 * keeps a mapped file in its shared memory; the kernel maps those pages
 * into each mapper): MAP_SHARED stores reach read() and other mappings,
 * write() reaches the mappings, MAP_PRIVATE follows the file until it
 * writes a page and then keeps its copy, a forked child shares a
 * MAP_SHARED mapping and copies a private one, a mapping made by another
 * process sees the same bytes, truncation makes the pages past the end
 * SIGBUS in every mapping and the rest of the last page zero (a private
 * page written before stays its copy on K42-rs, where Linux takes it
 * away too, so the check uses one only read) and a call given a buffer
 * there EFAULT, a protection fault stays
 * SIGSEGV, an unlinked file stays mapped, thousands of maps leave
 * nothing behind, and the errors (mprotect's EACCES too).
 * Prints one line per check; the same checks pass on Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096

static int failed;

static void check(const char *what, int ok)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAILED");
	if (!ok)
		failed++;
}

static void fails(const char *what, void *r, int e)
{
	int got = errno;
	check(what, r == MAP_FAILED && got == e);
	if (!(r == MAP_FAILED && got == e))
		printf("  (r=%p errno=%d, wanted %d)\n", r, got, e);
}

static sigjmp_buf env;
static void on_signal(int s) { siglongjmp(env, s); }

/* The signal a read (or a write) of *p raises: 0 if none. */
static int touch(volatile char *p, int write)
{
	int s = sigsetjmp(env, 1);
	if (s == 0) {
		if (write)
			*p = 1;
		else
			(void)*p;
	}
	return s;
}

static char byte_at(int fd, off_t off)
{
	char c = 0;
	pread(fd, &c, 1, off);
	return c;
}

int main(void)
{
	signal(SIGBUS, on_signal);
	signal(SIGSEGV, on_signal);
	mkdir("/tmp", 0777);
	int fd = open("/tmp/mapped", O_RDWR | O_CREAT | O_TRUNC, 0644);
	static char data[4 * PG];
	for (int i = 0; i < 4 * PG; i++)
		data[i] = 'a' + i % 26;
	write(fd, data, sizeof data);

	char *s = mmap(0, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *p = mmap(0, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	check("shared and private mappings", s != MAP_FAILED && p != MAP_FAILED);
	check("a mapping reads the file", memcmp(s, data, sizeof data) == 0);
	s[PG + 7] = 'S';
	check("a shared store reaches read()", byte_at(fd, PG + 7) == 'S');
	pwrite(fd, "W", 1, 2 * PG);
	check("write() reaches the shared mapping", s[2 * PG] == 'W');
	check("and an untouched private page", p[2 * PG] == 'W');
	p[PG] = 'P';
	check("a private store stays private", byte_at(fd, PG) != 'P' && s[PG] != 'P');
	s[PG + 1] = 'Q';
	check("a copied private page no longer follows", p[PG + 1] != 'Q');
	char before = p[3 * PG + 5];
	s[3 * PG + 5] = 'R';
	check("a private page only read follows the file", before != 'R' && p[3 * PG + 5] == 'R');

	/* A fork shares MAP_SHARED and copies MAP_PRIVATE. */
	pid_t c = fork();
	if (c == 0) {
		s[10] = 'C';
		p[11] = 'c';
		int again = open("/tmp/mapped", O_RDWR);
		char *o = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, again, 2 * PG);
		o[1] = 'O';
		_exit(o == MAP_FAILED);
	}
	int st;
	waitpid(c, &st, 0);
	check("the child ends well", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	check("the child's shared store is seen", s[10] == 'C');
	check("the child's private store is not", p[11] != 'c');
	check("another process's own mapping is the same file", s[2 * PG + 1] == 'O' && byte_at(fd, 2 * PG + 1) == 'O');

	/* Truncation: past the end is SIGBUS in every mapping. */
	ftruncate(fd, PG + 100);
	check("past the end: SIGBUS (shared)", touch(s + 2 * PG, 0) == SIGBUS);
	check("past the end: SIGBUS (private, a page only read)", touch(p + 3 * PG, 0) == SIGBUS);
	check("the rest of the last page reads zero", s[PG + 100] == 0 && s[PG + 4000] == 0);
	check("the part before the end stays", s[PG + 7] == 'S' && s[PG + 99] == data[PG + 99]);
	int pp[2];
	pipe(pp);
	errno = 0;
	check("write() from past the end: EFAULT", write(pp[1], s + 2 * PG, 10) < 0 && errno == EFAULT);
	check("read() at the end into past the end: 0", read(fd, s + 2 * PG, 10) == 0);
	close(pp[0]);
	close(pp[1]);
	ftruncate(fd, 4 * PG);
	check("grown again: zeros", touch(s + 2 * PG, 0) == 0 && s[2 * PG] == 0 && s[2 * PG + 1] == 0);

	/* A read-only view: a store is SIGSEGV, not SIGBUS. */
	char *r = mmap(0, PG, PROT_READ, MAP_SHARED, fd, 0);
	check("a store into a read-only mapping: SIGSEGV", touch(r, 1) == SIGSEGV);
	mprotect(s, PG, PROT_READ);
	check("after mprotect too", touch(s, 1) == SIGSEGV);
	mprotect(s, PG, PROT_READ | PROT_WRITE);
	check("and writable again", touch(s, 1) == 0 && byte_at(fd, 0) == 1);

	/* An unlinked file stays mapped. */
	munmap(p, 4 * PG);
	munmap(r, PG);
	close(fd);
	unlink("/tmp/mapped");
	s[5] = 'U';
	check("an unlinked, closed file stays mapped", s[5] == 'U' && s[PG + 7] == 'S');
	munmap(s, 4 * PG);
	check("unmapped: SIGSEGV", touch(s, 0) == SIGSEGV);

	/* Many maps: handles and windows do not pile up. */
	fd = open("/tmp/many", O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(fd, data, PG);
	int bad = 0;
	for (int i = 0; i < 5000; i++) {
		char *m = mmap(0, PG, PROT_READ, (i & 1) ? MAP_PRIVATE : MAP_SHARED, fd, 0);
		if (m == MAP_FAILED || m[3] != 'd')
			bad++;
		else
			munmap(m, PG);
	}
	check("5000 maps and unmaps", bad == 0);
	close(fd);
	unlink("/tmp/many");

	/* Errors. */
	fd = open("/tmp/e", O_RDWR | O_CREAT, 0644);
	write(fd, "x", 1);
	int wo = open("/tmp/e", O_WRONLY), ro = open("/tmp/e", O_RDONLY);
	fails("O_WRONLY: EACCES", mmap(0, PG, PROT_READ, MAP_SHARED, wo, 0), EACCES);
	fails("shared writable O_RDONLY: EACCES", mmap(0, PG, PROT_WRITE, MAP_SHARED, ro, 0), EACCES);
	check("private writable O_RDONLY", mmap(0, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0) != MAP_FAILED);
	char *rs = mmap(0, PG, PROT_READ, MAP_SHARED, ro, 0);
	errno = 0;
	check("mprotect(PROT_WRITE) of a shared O_RDONLY mapping: EACCES", mprotect(rs, PG, PROT_READ | PROT_WRITE) < 0 && errno == EACCES);
	/* Nor the kernel's own protect (K42-rs's native call; ENOSYS on Linux):
	 * the grant of the file server bounds it. */
	syscall(0x4b420000 | 17, rs, PG, PROT_READ | PROT_WRITE);
	check("nor a native protect call", touch(rs, 1) == SIGSEGV);
	fails("unaligned offset: EINVAL", mmap(0, PG, PROT_READ, MAP_SHARED, ro, 1), EINVAL);
	fails("a directory: ENODEV", mmap(0, PG, PROT_READ, MAP_SHARED, open("/", O_RDONLY | O_DIRECTORY), 0), ENODEV);
	int pfd[2];
	pipe(pfd);
	fails("a pipe: ENODEV", mmap(0, PG, PROT_READ, MAP_SHARED, pfd[0], 0), ENODEV);
	fails("a closed fd: EBADF", mmap(0, PG, PROT_READ, MAP_SHARED, 99, 0), EBADF);
	unlink("/tmp/e");

	/* A program of the boot image, privately. */
	int exe = open("/bin/linux-hello", O_RDONLY);
	if (exe < 0) /* on Linux */
		exe = open("/proc/self/exe", O_RDONLY);
	char *e = mmap(0, PG, PROT_READ, MAP_PRIVATE, exe, 0);
	check("a boot file maps", e != MAP_FAILED && memcmp(e, "\177ELF", 4) == 0);

	printf("mmap: %d failed\n", failed);
	return failed != 0;
}

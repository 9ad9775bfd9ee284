/* getdents64: every entry once (with . and ..), d_type, small buffers,
 * ENOTDIR; printed sorted since the order is the file system's. */
#include "dt.h"
#include <dirent.h>
#include <stdint.h>
#include <sys/syscall.h>

struct d64 {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *dir, size_t bufsize)
{
	int fd = MUST(open(dir, O_RDONLY | O_DIRECTORY));
	char buf[4096];
	char *names[64];
	int n = 0, calls = 0;
	long r;
	while ((r = syscall(SYS_getdents64, fd, buf, bufsize)) > 0) {
		calls++;
		for (long off = 0; off < r;) {
			struct d64 *d = (struct d64 *)(buf + off);
			const char *t = d->type == DT_DIR ? "dir" : d->type == DT_REG ? "file"
				      : d->type == DT_LNK ? "link" : "other";
			if (n < 64)
				asprintf(&names[n++], "%s (%s)", d->name, t);
			off += d->reclen;
		}
	}
	result("last getdents64", r);
	qsort(names, n, sizeof *names, cmp);
	printf("%s with %zu-byte buffer: %d entries, several calls: %s\n", dir, bufsize, n,
	       calls > 1 ? "yes" : "no");
	for (int i = 0; i < n; i++)
		printf("  %s\n", names[i]);
	close(fd);
}

int main(void)
{
	MUST(mkdir("d", 0755));
	char p[64];
	for (int i = 0; i < 20; i++) {
		snprintf(p, sizeof p, "d/file%02d", i);
		put_file(p, "x");
	}
	MUST(mkdir("d/sub", 0755));
	MUST(symlink("file00", "d/link"));
	list("d", sizeof(char[4096]));
	list("d", 64);
	MUST(unlink("d/file05"));
	MUST(rmdir("d/sub"));
	list("d", 4096);
	int fd = MUST(open("d/file00", O_RDONLY));
	char buf[256];
	result("getdents64 on a file", syscall(SYS_getdents64, fd, buf, sizeof buf));
	fd = MUST(open("d", O_RDONLY | O_DIRECTORY));
	result("getdents64 tiny buffer", syscall(SYS_getdents64, fd, buf, 8));
	result("getdents64 bad fd", syscall(SYS_getdents64, 555, buf, sizeof buf));
	return 0;
}

/* statx (by number: musl 1.2.3 has no wrapper): mask, type, size, links,
 * AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH, agreement with stat. */
#include "dt.h"
#include <sys/syscall.h>
#include <stdint.h>

struct sx_ts { int64_t tv_sec; uint32_t tv_nsec; int32_t pad; };
struct sx {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, pad1;
	uint64_t ino, size, blocks, attributes_mask;
	struct sx_ts atime, btime, ctime, mtime;
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t spare[14];
};
#define SX_BASIC 0x7ffU

static long sx(int dirfd, const char *p, int flags, struct sx *b)
{
	memset(b, 0xa5, sizeof *b);
	return syscall(SYS_statx, dirfd, p, flags, SX_BASIC, b);
}

int main(void)
{
	put_file("f", "0123456789abcdef");
	struct sx b;
	struct stat st;
	MUST(sx(AT_FDCWD, "f", 0, &b));
	MUST(stat("f", &st));
	yesno("basic stats present", (b.mask & SX_BASIC) == SX_BASIC);
	printf("mode=%06o size=%llu nlink=%u uid=%u\n", b.mode, (unsigned long long)b.size,
	       b.nlink, b.uid);
	yesno("ino == stat ino", b.ino == st.st_ino);
	yesno("mtime == stat mtime", b.mtime.tv_sec == st.st_mtime);
	MUST(symlink("f", "l"));
	MUST(sx(AT_FDCWD, "l", AT_SYMLINK_NOFOLLOW, &b));
	printf("nofollow: mode=%06o size=%llu\n", b.mode, (unsigned long long)b.size);
	MUST(sx(AT_FDCWD, "l", 0, &b));
	printf("follow: mode=%06o size=%llu\n", b.mode, (unsigned long long)b.size);
	int fd = MUST(open("f", O_RDONLY));
	MUST(sx(fd, "", AT_EMPTY_PATH, &b));
	printf("empty path on fd: size=%llu\n", (unsigned long long)b.size);
	result("empty path without flag", sx(fd, "", 0, &b));
	result("missing", sx(AT_FDCWD, "nope", 0, &b));
	result("bad flags", sx(AT_FDCWD, "f", 0x7fffffff, &b));
	result("bad buffer", syscall(SYS_statx, AT_FDCWD, "f", 0, SX_BASIC, (void *)16));
	return 0;
}

/* stat/fstat/lstat: the deterministic fields (type, permissions, size,
 * link count, owner) and the relations between the three calls. */
#include "dt.h"
#include <sys/sysmacros.h>

static void show(const char *what, struct stat *st)
{
	printf("%s: type=%s perm=%04o size=%lld nlink=%ld uid=%d gid=%d\n", what,
	       S_ISREG(st->st_mode)   ? "file"
	       : S_ISDIR(st->st_mode) ? "dir"
	       : S_ISLNK(st->st_mode) ? "symlink"
	       : S_ISCHR(st->st_mode) ? "chr"
	       : S_ISFIFO(st->st_mode) ? "fifo"
				       : "other",
	       st->st_mode & 07777, (long long)st->st_size, (long)st->st_nlink, st->st_uid,
	       st->st_gid);
}

int main(void)
{
	put_file("f", "twelve bytes");
	struct stat a, b, c;
	MUST(stat("f", &a));
	show("stat f", &a);
	int fd = MUST(open("f", O_RDONLY));
	MUST(fstat(fd, &b));
	yesno("fstat ino == stat ino", a.st_ino == b.st_ino);
	yesno("fstat dev == stat dev", a.st_dev == b.st_dev);
	MUST(symlink("f", "l"));
	MUST(lstat("l", &c));
	show("lstat l", &c);
	yesno("lstat ino != target ino", c.st_ino != a.st_ino);
	MUST(stat("l", &c));
	yesno("stat through link ino == target ino", c.st_ino == a.st_ino);
	MUST(mkdir("d", 0750));
	MUST(stat("d", &c));
	printf("stat d: type=%s perm=%04o\n", S_ISDIR(c.st_mode) ? "dir" : "other",
	       c.st_mode & 07777);
	MUST(mkdir("d/sub", 0755));
	MUST(stat("d", &c));
	value("nlink of dir with one subdir", c.st_nlink);
	MUST(stat("/dev/null", &c));
	show("stat /dev/null", &c);
	printf("rdev of /dev/null: %u,%u\n", major(c.st_rdev), minor(c.st_rdev));
	MUST(mkfifo("p", 0600));
	MUST(stat("p", &c));
	show("stat fifo", &c);
	yesno("blksize > 0", a.st_blksize > 0);
	yesno("mtime within a day of now", a.st_mtime > time(NULL) - 86400 && a.st_mtime <= time(NULL));
	result("stat missing", stat("nope", &c));
	result("stat through file as dir", stat("f/x", &c));
	result("lstat empty path", lstat("", &c));
	result("fstat bad fd", fstat(99, &c));
	return 0;
}

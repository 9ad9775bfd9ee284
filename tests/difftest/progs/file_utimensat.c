/* utimensat/futimens: explicit times, UTIME_OMIT, UTIME_NOW, symlinks. */
#include "dt.h"

int main(void)
{
	put_file("f", "x");
	struct timespec ts[2] = {{1000000000, 5}, {1234567890, 987654321}};
	result("utimensat explicit", utimensat(AT_FDCWD, "f", ts, 0));
	struct stat st;
	stat("f", &st);
	printf("atime=%ld.%09ld mtime=%ld.%09ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
	       (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	struct timespec omit[2] = {{0, UTIME_OMIT}, {42, 0}};
	result("UTIME_OMIT atime", utimensat(AT_FDCWD, "f", omit, 0));
	stat("f", &st);
	printf("atime=%ld mtime=%ld\n", (long)st.st_atim.tv_sec, (long)st.st_mtim.tv_sec);
	time_t t0 = time(NULL);
	struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
	int fd = MUST(open("f", O_RDONLY));
	result("futimens UTIME_NOW", futimens(fd, now));
	fstat(fd, &st);
	yesno("mtime now", st.st_mtime >= t0 && st.st_mtime <= time(NULL));
	result("NULL times = now", utimensat(AT_FDCWD, "f", NULL, 0));
	struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
	result("nsec out of range", utimensat(AT_FDCWD, "f", bad, 0));
	MUST(symlink("f", "l"));
	result("AT_SYMLINK_NOFOLLOW on link", utimensat(AT_FDCWD, "l", ts, AT_SYMLINK_NOFOLLOW));
	lstat("l", &st);
	printf("link mtime=%ld\n", (long)st.st_mtim.tv_sec);
	stat("f", &st);
	yesno("target untouched", st.st_mtim.tv_sec != 1234567890);
	result("missing file", utimensat(AT_FDCWD, "nope", ts, 0));
	return 0;
}

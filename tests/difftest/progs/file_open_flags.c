/* open/openat flags: O_CREAT|O_EXCL, O_TRUNC, O_APPEND, access modes,
 * O_DIRECTORY, O_NOFOLLOW, openat relative to a directory fd. */
#include "dt.h"

int main(void)
{
	int fd = MUST(open("f", O_WRONLY | O_CREAT | O_EXCL, 0644));
	MUST(write(fd, "hello", 5));
	close(fd);
	result("O_CREAT|O_EXCL on existing", open("f", O_WRONLY | O_CREAT | O_EXCL, 0644));
	result("open missing without O_CREAT", open("nope", O_RDONLY));

	fd = MUST(open("f", O_WRONLY | O_APPEND));
	MUST(write(fd, " world", 6));
	value("lseek after O_APPEND write", lseek(fd, 0, SEEK_CUR));
	close(fd);

	char buf[64] = {0};
	fd = MUST(open("f", O_RDONLY));
	value("read", read(fd, buf, sizeof buf - 1));
	printf("content: %s\n", buf);
	result("write on O_RDONLY", write(fd, "x", 1));
	close(fd);

	fd = MUST(open("f", O_WRONLY));
	result("read on O_WRONLY", read(fd, buf, 1));
	close(fd);

	fd = MUST(open("f", O_RDWR | O_TRUNC));
	struct stat st;
	fstat(fd, &st);
	value("size after O_TRUNC", st.st_size);
	close(fd);

	result("O_DIRECTORY on a file", open("f", O_RDONLY | O_DIRECTORY));
	MUST(mkdir("d", 0755));
	fd = open("d", O_RDONLY | O_DIRECTORY);
	result("O_DIRECTORY on a directory", fd);
	result("open directory O_WRONLY", open("d", O_WRONLY));

	int in = MUST(openat(fd, "inner", O_WRONLY | O_CREAT, 0600));
	close(in);
	result("openat relative to dirfd, seen by path", access("d/inner", F_OK));
	result("openat AT_FDCWD", openat(AT_FDCWD, "f", O_RDONLY));
	result("openat with bad dirfd", openat(12345, "inner", O_RDONLY));
	result("openat absolute ignores dirfd", openat(12345, "/difftest", O_RDONLY));

	MUST(symlink("f", "link"));
	result("O_NOFOLLOW on symlink", open("link", O_RDONLY | O_NOFOLLOW));
	result("open through symlink", open("link", O_RDONLY));
	result("O_CREAT|O_EXCL on dangling symlink target",
	       (symlink("missing", "dangling"), open("dangling", O_WRONLY | O_CREAT | O_EXCL, 0644)));
	result("O_CREAT through dangling symlink", open("dangling", O_WRONLY | O_CREAT, 0644));
	yesno("target created", access("missing", F_OK) == 0);
	return 0;
}

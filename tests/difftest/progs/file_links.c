/* link/symlink/readlink: link counts, shared contents, dangling and
 * looping links, readlink's lack of a terminating NUL. */
#include "dt.h"

int main(void)
{
	put_file("f", "data");
	struct stat st;
	result("link f g", link("f", "g"));
	stat("f", &st);
	value("nlink after link", st.st_nlink);
	result("link onto existing", link("f", "g"));
	result("link missing", link("nope", "h"));
	MUST(mkdir("d", 0755));
	result("link a directory", link("d", "d2"));
	int fd = MUST(open("g", O_WRONLY | O_APPEND));
	MUST(write(fd, "+more", 5));
	close(fd);
	char b[64] = {0};
	fd = MUST(open("f", O_RDONLY));
	MUST(read(fd, b, sizeof b - 1));
	printf("f after appending to g: %s\n", b);
	unlink("f");
	stat("g", &st);
	value("nlink after unlink f", st.st_nlink);

	result("symlink s -> g", symlink("g", "s"));
	memset(b, 'X', sizeof b);
	long n = readlink("s", b, sizeof b);
	value("readlink length", n);
	yesno("no NUL written", b[n] == 'X');
	printf("target: %.*s\n", (int)n, b);
	value("readlink truncated to 1", readlink("s", b, 1));
	result("readlink on a file", readlink("g", b, sizeof b));
	result("readlink missing", readlink("nope", b, sizeof b));
	result("symlink onto existing", symlink("x", "s"));
	MUST(symlink("loop2", "loop1"));
	MUST(symlink("loop1", "loop2"));
	result("open a symlink loop", open("loop1", O_RDONLY));
	MUST(symlink("nowhere", "dangling"));
	result("stat dangling", stat("dangling", &st));
	result("lstat dangling", lstat("dangling", &st));
	MUST(symlink("d", "dl"));
	result("mkdir through dir symlink", mkdir("dl/inner", 0755));
	yesno("d/inner exists", access("d/inner", F_OK) == 0);
	result("readlinkat", readlinkat(AT_FDCWD, "dl", b, sizeof b));
	result("unlink symlink (not target)", unlink("dl"));
	yesno("d still there", access("d", F_OK) == 0);
	return 0;
}

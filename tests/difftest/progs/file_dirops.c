/* mkdir/rmdir/unlink/rename: the usual successes and the errors. */
#include "dt.h"

int main(void)
{
	result("mkdir a", mkdir("a", 0755));
	result("mkdir a again", mkdir("a", 0755));
	result("mkdir a/b/c (missing parent)", mkdir("a/b/c", 0755));
	result("mkdir a/b", mkdir("a/b", 0755));
	put_file("a/b/f", "x");
	result("rmdir non-empty", rmdir("a/b"));
	result("rmdir a file", rmdir("a/b/f"));
	result("unlink a directory", unlink("a/b"));
	result("rmdir .", rmdir("a/b/."));
	result("unlink f", unlink("a/b/f"));
	result("unlink f again", unlink("a/b/f"));
	result("rmdir a/b", rmdir("a/b"));
	put_file("x", "X");
	put_file("y", "Y");
	result("rename x -> y (replaces)", rename("x", "y"));
	char c = 0;
	int fd = MUST(open("y", O_RDONLY));
	MUST(read(fd, &c, 1));
	printf("y holds: %c\n", c);
	yesno("x gone", access("x", F_OK) < 0 && errno == ENOENT);
	result("rename missing", rename("x", "z"));
	result("rename to itself", rename("y", "y"));
	MUST(mkdir("d1", 0755));
	MUST(mkdir("d2", 0755));
	put_file("d2/f", "f");
	result("rename dir over non-empty dir", rename("d1", "d2"));
	result("rename file over dir", rename("y", "d1"));
	result("rename dir over file", rename("d1", "y"));
	result("rename dir into itself", rename("d1", "d1/sub"));
	result("rename dir to new name", rename("d1", "d3"));
	result("rename file into dir", rename("y", "d3/y"));
	yesno("d3/y exists", access("d3/y", F_OK) == 0);
	MUST(mkdir("e", 0755));
	result("rename dir over empty dir", rename("d3", "e"));
	yesno("e/y exists", access("e/y", F_OK) == 0);
	result("renameat", renameat(AT_FDCWD, "e/y", AT_FDCWD, "top"));
	result("mkdirat", mkdirat(AT_FDCWD, "m", 0700));
	result("unlinkat AT_REMOVEDIR", unlinkat(AT_FDCWD, "m", AT_REMOVEDIR));
	result("unlinkat file", unlinkat(AT_FDCWD, "top", 0));
	return 0;
}

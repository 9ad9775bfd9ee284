/* chdir/fchdir/getcwd: relative paths follow the working directory;
 * getcwd's buffer errors. */
#include "dt.h"
#include <sys/syscall.h>

int main(void)
{
	char start[256], b[256];
	MUST((long)getcwd(start, sizeof start) ? 0 : -1);
	printf("cwd is /scratch/<name>: %s\n",
	       strcmp(start, "/scratch/file_cwd") == 0 ? "yes" : start);
	MUST(mkdir("a", 0755));
	MUST(mkdir("a/b", 0755));
	result("chdir a/b", chdir("a/b"));
	getcwd(b, sizeof b);
	printf("relative cwd: %s\n", b + strlen(start));
	put_file("here", "x");
	result("chdir ..", chdir(".."));
	yesno("b/here visible", access("b/here", F_OK) == 0);
	result("chdir /", chdir("/"));
	getcwd(b, sizeof b);
	printf("cwd: %s\n", b);
	result("chdir ..  at /", chdir(".."));
	getcwd(b, sizeof b);
	printf("cwd: %s\n", b);
	result("chdir missing", chdir("/nope"));
	result("chdir to a file", chdir("/difftest/file_cwd"));
	int fd = MUST(open(start, O_RDONLY | O_DIRECTORY));
	result("fchdir", fchdir(fd));
	getcwd(b, sizeof b);
	yesno("back at start", strcmp(b, start) == 0);
	int f = MUST(open("a/b/here", O_RDONLY));
	result("fchdir to a file", fchdir(f));
	result("getcwd size 1", syscall(SYS_getcwd, b, 1));
	value("getcwd syscall returns length+1", syscall(SYS_getcwd, b, sizeof b) - (long)strlen(start));
	MUST(chdir("a/b"));
	MUST(rmdir("../b") == 0 ? 0 : (unlink("here"), rmdir("../b")));
	result("getcwd of removed dir", getcwd(b, sizeof b) ? 0 : -1);
	return 0;
}

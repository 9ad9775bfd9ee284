/* Path errors: ENOENT, ENOTDIR, EISDIR, EEXIST, ENAMETOOLONG, ELOOP,
 * ENOTEMPTY, EINVAL and ENOTTY for ioctl on a file. */
#include "dt.h"
#include <sys/ioctl.h>
#include <termios.h>

int main(void)
{
	put_file("f", "x");
	MUST(mkdir("d", 0755));
	result("open missing", open("missing", O_RDONLY));
	result("open f/x", open("f/x", O_RDONLY));
	result("open f/ (trailing slash)", open("f/", O_RDONLY));
	result("open dir for writing", open("d", O_WRONLY));
	result("mkdir existing file", mkdir("f", 0755));
	char longname[300];
	memset(longname, 'n', sizeof longname);
	longname[299] = 0;
	result("open 299-byte name", open(longname, O_RDONLY | O_CREAT, 0644));
	static char longpath[5000];
	for (int i = 0; i < 4999; i++)
		longpath[i] = i % 2 ? '/' : 'a';
	result("open 4999-byte path", open(longpath, O_RDONLY));
	char deep[256] = "l0";
	symlink("l0", "l0");
	result("self-referential symlink", open(deep, O_RDONLY));
	result("empty path", open("", O_RDONLY));
	result("rmdir .", rmdir("."));
	result("rmdir ..", rmdir(".."));
	result("rmdir /", rmdir("/"));
	result("unlink /", unlink("/"));
	result("link dir", link("d", "e"));
	result("symlink empty target", symlink("", "s"));
	int fd = MUST(open("f", O_RDONLY));
	struct termios t;
	result("TCGETS on a file", ioctl(fd, TCGETS, &t));
	struct winsize ws;
	result("TIOCGWINSZ on a file", ioctl(fd, TIOCGWINSZ, &ws));
	result("isatty(file)", isatty(fd) ? 0 : -1);
	result("ioctl unknown request", ioctl(fd, 0x7f7f7f, 0));
	return 0;
}

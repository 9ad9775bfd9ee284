/* chmod/fchmod/fchmodat: permission bits, set-id and sticky bits, errors. */
#include "dt.h"

static void perm(const char *p)
{
	struct stat st;
	MUST(stat(p, &st));
	printf("%s: %04o\n", p, st.st_mode & 07777);
}

int main(void)
{
	put_file("f", "x");
	result("chmod 0600", chmod("f", 0600));
	perm("f");
	result("chmod 04755", chmod("f", 04755));
	perm("f");
	result("chmod 0 (type bits ignored)", chmod("f", S_IFDIR | 0640));
	perm("f");
	int fd = MUST(open("f", O_RDONLY));
	result("fchmod 0444", fchmod(fd, 0444));
	perm("f");
	MUST(mkdir("d", 0755));
	result("chmod dir 01777", chmod("d", 01777));
	perm("d");
	result("fchmodat", fchmodat(AT_FDCWD, "f", 0640, 0));
	perm("f");
	MUST(symlink("f", "l"));
	result("chmod through symlink", chmod("l", 0604));
	perm("f");
	result("chmod missing", chmod("nope", 0644));
	result("fchmod bad fd", fchmod(444, 0644));
	struct stat st;
	time_t before = (stat("f", &st), st.st_ctime);
	chmod("f", 0600);
	stat("f", &st);
	yesno("ctime not earlier after chmod", st.st_ctime >= before);
	return 0;
}

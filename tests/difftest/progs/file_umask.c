/* umask: returns the old mask, filters the mode of new files, directories
 * and FIFOs, not of chmod. */
#include "dt.h"

static void perm(const char *p)
{
	struct stat st;
	MUST(lstat(p, &st));
	printf("%s: %04o\n", p, st.st_mode & 07777);
}

int main(void)
{
	printf("initial umask: %04o\n", umask(027));
	printf("umask returns previous: %04o\n", umask(027));
	close(MUST(open("f", O_CREAT | O_WRONLY, 0666)));
	perm("f");
	MUST(mkdir("d", 0777));
	perm("d");
	MUST(mkfifo("p", 0666));
	perm("p");
	MUST(chmod("f", 0777));
	perm("f");
	umask(0);
	close(MUST(open("g", O_CREAT | O_WRONLY, 0777)));
	perm("g");
	printf("umask keeps only 0777: %04o\n", (umask(07777), umask(0)));
	pid_t pid = fork();
	if (pid == 0) {
		umask(077);
		_exit(0);
	}
	reap("child", pid);
	printf("child's umask did not leak: %04o\n", umask(0));
	return 0;
}

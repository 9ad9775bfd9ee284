/* Files through the system library and the file server (ramfs, by PPC):
 * open/read/write/lseek, offsets shared by dup and fork, O_APPEND,
 * stat, directories and the working directory, getdents, rename, links,
 * unlink while open, pread/pwrite, truncate, /dev and /proc, and the
 * errors. Prints one line per check; the kernel test compares them. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void check(const char *what, int ok)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAILED");
}

static void fails(const char *what, long r, int e)
{
	int got = errno;
	printf("%s: %s\n", what, r < 0 && got == e ? "ok" : "FAILED");
	if (!(r < 0 && got == e))
		printf("  (r=%ld errno=%d, wanted %d)\n", r, got, e);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	char b[64];

	int fd = open("/f", O_RDWR | O_CREAT | O_EXCL, 0644);
	check("create", fd == 3);
	check("write", write(fd, "hello world", 11) == 11);
	check("lseek", lseek(fd, 6, SEEK_SET) == 6);
	memset(b, 0, sizeof b);
	check("read from the offset", read(fd, b, sizeof b) == 5 && !strcmp(b, "world"));
	check("read at end", read(fd, b, sizeof b) == 0);

	int d = dup(fd);
	lseek(fd, 0, SEEK_SET);
	check("dup shares the offset", lseek(d, 0, SEEK_CUR) == 0);
	close(d);

	pid_t pid = fork();
	if (pid == 0) {
		write(fd, "HELLO", 5);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	check("fork shares the offset", lseek(fd, 0, SEEK_CUR) == 5);
	check("pread", pread(fd, b, 11, 0) == 11 && !memcmp(b, "HELLO world", 11));
	check("pwrite leaves the offset", pwrite(fd, "!", 1, 11) == 1 && lseek(fd, 0, SEEK_CUR) == 5);
	close(fd);

	fd = open("/f", O_WRONLY | O_APPEND);
	lseek(fd, 0, SEEK_SET);
	write(fd, "?", 1);
	struct stat s;
	check("append writes at the end", fstat(fd, &s) == 0 && s.st_size == 13);
	check("a regular file, mode 0644", S_ISREG(s.st_mode) && (s.st_mode & 0777) == 0644);
	close(fd);
	fails("create existing with O_EXCL", open("/f", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	fails("open missing", open("/missing", O_RDONLY), ENOENT);

	check("mkdir", mkdir("/dir", 0755) == 0);
	check("chdir", chdir("/dir") == 0);
	check("getcwd", getcwd(b, sizeof b) && !strcmp(b, "/dir"));
	close(open("a", O_CREAT | O_WRONLY, 0600));
	close(open("b", O_CREAT | O_WRONLY, 0600));
	check("relative paths", access("/dir/a", F_OK) == 0);
	check("stat a directory", stat(".", &s) == 0 && S_ISDIR(s.st_mode));
	DIR *dir = opendir("/dir");
	int n = 0, dots = 0;
	struct dirent *e;
	while (dir && (e = readdir(dir))) {
		n++;
		dots += e->d_name[0] == '.';
	}
	closedir(dir);
	check("readdir lists . .. a b", n == 4 && dots == 2);
	fails("rmdir a non-empty directory", rmdir("/dir"), ENOTEMPTY);
	check("rename", rename("a", "c") == 0 && access("c", F_OK) == 0 && access("a", F_OK) < 0);
	check("symlink and readlink", symlink("/f", "l") == 0 && readlink("l", b, sizeof b) == 2 && !memcmp(b, "/f", 2));
	check("stat follows the link", stat("l", &s) == 0 && S_ISREG(s.st_mode) && s.st_size == 13);
	check("lstat does not", lstat("l", &s) == 0 && S_ISLNK(s.st_mode));
	check("hard link", link("/f", "h") == 0 && stat("/f", &s) == 0 && s.st_nlink == 2);
	fails("open a file as a directory", open("/f", O_RDONLY | O_DIRECTORY), ENOTDIR);
	fails("mkdir under a file", mkdir("/f/x", 0755), ENOTDIR);

	fd = open("c", O_RDWR);
	unlink("c");
	check("unlinked while open", write(fd, "still", 5) == 5 && pread(fd, b, 5, 0) == 5 && !memcmp(b, "still", 5));
	check("ftruncate", ftruncate(fd, 2) == 0 && fstat(fd, &s) == 0 && s.st_size == 2);
	close(fd);
	fails("read a closed fd", read(fd, b, 1), EBADF);
	check("truncate", truncate("/f", 100) == 0 && stat("/f", &s) == 0 && s.st_size == 100);

	fd = open("/dev/null", O_RDWR);
	check("/dev/null", write(fd, b, 10) == 10 && read(fd, b, 10) == 0);
	fd = open("/dev/zero", O_RDONLY);
	b[0] = 1;
	check("/dev/zero", read(fd, b, 8) == 8 && b[0] == 0);
	check("/proc/self/exe", readlink("/proc/self/exe", b, sizeof b) > 0);
	mode_t old = umask(077);
	close(open("/u", O_CREAT | O_WRONLY, 0666));
	check("umask", umask(old) == 077 && stat("/u", &s) == 0 && (s.st_mode & 0777) == 0600);
	check("fcntl append flag", (fcntl(open("/u", O_WRONLY | O_APPEND), F_GETFL) & O_APPEND) != 0);
	return 0;
}

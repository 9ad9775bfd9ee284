/* lseek: SEEK_SET/CUR/END, seeking past the end and holes, errors. */
#include "dt.h"

int main(void)
{
	int fd = MUST(open("f", O_RDWR | O_CREAT, 0644));
	MUST(write(fd, "0123456789", 10));
	value("SEEK_SET 3", lseek(fd, 3, SEEK_SET));
	value("SEEK_CUR +2", lseek(fd, 2, SEEK_CUR));
	value("SEEK_CUR -4", lseek(fd, -4, SEEK_CUR));
	value("SEEK_END 0", lseek(fd, 0, SEEK_END));
	value("SEEK_END -3", lseek(fd, -3, SEEK_END));
	result("SEEK_SET -1", lseek(fd, -1, SEEK_SET));
	value("offset unchanged after error", lseek(fd, 0, SEEK_CUR));
	result("whence 99", lseek(fd, 0, 99));
	value("SEEK_END +4086 (past end)", lseek(fd, 4086, SEEK_END));
	struct stat st;
	fstat(fd, &st);
	value("size before write", st.st_size);
	MUST(write(fd, "end", 3));
	fstat(fd, &st);
	value("size after write past end", st.st_size);
	char b[4096];
	lseek(fd, 10, SEEK_SET);
	value("read hole", read(fd, b, 4086));
	int zeros = 1;
	for (int i = 0; i < 4086; i++)
		zeros &= b[i] == 0;
	yesno("hole is zeros", zeros);
	value("read after hole", read(fd, b, 10));
	printf("tail: %.3s\n", b);

	int p[2];
	MUST(pipe(p));
	result("lseek on pipe", lseek(p[0], 0, SEEK_CUR));
	result("lseek on bad fd", lseek(999, 0, SEEK_SET));
	int d = MUST(open(".", O_RDONLY | O_DIRECTORY));
	result("lseek on directory to 0", lseek(d, 0, SEEK_SET));
	return 0;
}

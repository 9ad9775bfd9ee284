/* pread/pwrite leave the file offset alone; ESPIPE on pipes. */
#include "dt.h"

int main(void)
{
	int fd = MUST(open("f", O_RDWR | O_CREAT, 0644));
	MUST(write(fd, "abcdefghij", 10));
	value("pwrite at 2", pwrite(fd, "XY", 2, 2));
	value("offset after pwrite", lseek(fd, 0, SEEK_CUR));
	char b[16] = {0};
	value("pread 4 at 1", pread(fd, b, 4, 1));
	printf("got: %s\n", b);
	value("offset after pread", lseek(fd, 0, SEEK_CUR));
	value("pread past end", pread(fd, b, 4, 100));
	value("pwrite past end", pwrite(fd, "Z", 1, 20));
	struct stat st;
	fstat(fd, &st);
	value("size", st.st_size);
	memset(b, 'q', sizeof b);
	value("pread over hole", pread(fd, b, 10, 10));
	yesno("hole reads as zeros", b[0] == 0 && b[9] == 0);
	result("pread negative offset", pread(fd, b, 1, -1));

	int fd2 = MUST(open("f", O_WRONLY | O_APPEND));
	MUST(pwrite(fd2, "!", 1, 0));
	fstat(fd, &st);
	value("size after pwrite on O_APPEND (appends on Linux)", st.st_size);

	int p[2];
	MUST(pipe(p));
	result("pread on pipe", pread(p[0], b, 1, 0));
	result("pwrite on pipe", pwrite(p[1], b, 1, 0));
	return 0;
}

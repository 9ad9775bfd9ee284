/* truncate/ftruncate: shrink, grow with zeros, errors. */
#include "dt.h"

int main(void)
{
	put_file("f", "0123456789");
	struct stat st;
	result("truncate to 4", truncate("f", 4));
	stat("f", &st);
	value("size", st.st_size);
	int fd = MUST(open("f", O_RDWR));
	result("ftruncate to 8192", ftruncate(fd, 8192));
	fstat(fd, &st);
	value("size", st.st_size);
	char b[8192];
	value("read", read(fd, b, sizeof b));
	printf("head: %.4s, zero tail: %s\n", b, b[4] == 0 && b[8191] == 0 ? "yes" : "no");
	value("offset unchanged by ftruncate", (ftruncate(fd, 2), lseek(fd, 0, SEEK_CUR)));
	value("write at old offset extends", write(fd, "Z", 1));
	fstat(fd, &st);
	value("size", st.st_size);
	result("ftruncate negative", ftruncate(fd, -1));
	int ro = MUST(open("f", O_RDONLY));
	result("ftruncate read-only fd", ftruncate(ro, 0));
	MUST(mkdir("d", 0755));
	result("truncate a directory", truncate("d", 0));
	result("truncate missing", truncate("nope", 0));
	int p[2];
	MUST(pipe(p));
	result("ftruncate a pipe", ftruncate(p[1], 0));
	return 0;
}

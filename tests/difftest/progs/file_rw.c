/* read/write: short reads at end of file, zero at EOF, zero-length calls,
 * large transfers, the file offset they share. */
#include "dt.h"

int main(void)
{
	int fd = MUST(open("f", O_RDWR | O_CREAT, 0644));
	value("write 10", write(fd, "0123456789", 10));
	value("write 0", write(fd, "", 0));
	value("offset", lseek(fd, 0, SEEK_CUR));
	char b[32];
	value("read at EOF", read(fd, b, sizeof b));
	lseek(fd, 6, SEEK_SET);
	value("short read", read(fd, b, sizeof b));
	printf("got: %.4s\n", b);
	value("read 0 bytes", read(fd, b, 0));

	static char big[200000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 7 + 3);
	lseek(fd, 0, SEEK_SET);
	value("write 200000", write(fd, big, sizeof big));
	static char back[200000];
	lseek(fd, 0, SEEK_SET);
	size_t got = 0;
	while (got < sizeof back) {
		ssize_t n = read(fd, back + got, sizeof back - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	printf("read back %zu, equal: %s\n", got, memcmp(big, back, sizeof big) ? "no" : "yes");
	close(fd);

	result("read on closed fd", read(fd, b, 1));
	fd = MUST(open("/dev/null", O_RDWR));
	value("write to /dev/null", write(fd, big, 5000));
	value("read from /dev/null", read(fd, b, sizeof b));
	close(fd);
	fd = MUST(open("/dev/zero", O_RDONLY));
	memset(b, 1, sizeof b);
	value("read from /dev/zero", read(fd, b, sizeof b));
	yesno("all zero", b[0] == 0 && b[31] == 0);
	return 0;
}

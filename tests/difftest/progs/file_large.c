/* A 1 MiB file written in odd-sized pieces and read back in others. */
#include "dt.h"

int main(void)
{
	int fd = MUST(open("big", O_RDWR | O_CREAT, 0644));
	unsigned sum_w = 0, sum_r = 0;
	size_t total = 0, piece = 1;
	static unsigned char b[70000];
	while (total < (1 << 20)) {
		size_t n = piece;
		if (total + n > (1 << 20))
			n = (1 << 20) - total;
		for (size_t i = 0; i < n; i++) {
			b[i] = (unsigned char)((total + i) * 2654435761u >> 13);
			sum_w = sum_w * 31 + b[i];
		}
		MUST(write(fd, b, n));
		total += n;
		piece = piece * 3 + 1;
		if (piece > sizeof b)
			piece = 4093;
	}
	struct stat st;
	fstat(fd, &st);
	value("size", st.st_size);
	lseek(fd, 0, SEEK_SET);
	ssize_t n;
	total = 0;
	while ((n = read(fd, b, 65521)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			sum_r = sum_r * 31 + b[i];
		total += (size_t)n;
	}
	printf("read %zu, checksums equal: %s, checksum %08x\n", total,
	       sum_r == sum_w ? "yes" : "no", sum_r);
	return 0;
}

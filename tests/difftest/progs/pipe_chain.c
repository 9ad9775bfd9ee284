/* A pipeline of processes: parent -> upper-casing child -> reversing
 * child -> parent, 64 KiB through it, blocking reads and writes. */
#include "dt.h"
#include <ctype.h>

static void filter(int in, int out, int mode)
{
	char b[1000];
	ssize_t n;
	while ((n = read(in, b, sizeof b)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			b[i] = mode ? (char)toupper(b[i]) : (char)(b[i] ^ 1);
		write(out, b, n);
	}
	_exit(0);
}

int main(void)
{
	int a[2], b[2], c[2];
	MUST(pipe(a));
	MUST(pipe(b));
	MUST(pipe(c));
	pid_t x = fork();
	if (x == 0) {
		close(a[1]); close(b[0]); close(c[0]); close(c[1]);
		filter(a[0], b[1], 1);
	}
	pid_t y = fork();
	if (y == 0) {
		close(a[0]); close(a[1]); close(b[1]); close(c[0]);
		filter(b[0], c[1], 0);
	}
	close(a[0]); close(b[0]); close(b[1]); close(c[1]);
	pid_t w = fork();
	if (w == 0) {
		close(c[0]);
		for (int i = 0; i < 1024; i++)
			write(a[1], "the quick brown fox jumps over the lazy dog, 0123456789 abcdefg\n", 64);
		_exit(0);
	}
	close(a[1]);
	unsigned sum = 0;
	long total = 0;
	char buf[777];
	ssize_t n;
	while ((n = read(c[0], buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			sum = sum * 33 + (unsigned char)buf[i];
		total += n;
	}
	printf("received %ld bytes, checksum %08x\n", total, sum);
	reap("writer", w);
	reap("upper", x);
	reap("xor", y);
	return 0;
}

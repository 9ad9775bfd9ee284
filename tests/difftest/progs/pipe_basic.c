/* Pipes: data in order, EOF once every writer is closed (including the
 * copies a child holds), partial reads, fstat type. */
#include "dt.h"

int main(void)
{
	int p[2];
	MUST(pipe(p));
	yesno("two new descriptors", p[0] >= 3 && p[1] > p[0]);
	value("write", write(p[1], "hello pipe", 10));
	char b[64] = {0};
	value("read 5", read(p[0], b, 5));
	value("read rest", read(p[0], b + 5, sizeof b));
	printf("got: %s\n", b);
	struct stat st;
	fstat(p[0], &st);
	yesno("fstat says FIFO", S_ISFIFO(st.st_mode));
	result("write to read end", write(p[0], "x", 1));
	result("read from write end", read(p[1], b, 1));
	pid_t c = fork();
	if (c == 0) {
		close(p[0]);
		for (int i = 0; i < 5; i++) {
			char m[16];
			int n = snprintf(m, sizeof m, "msg%d;", i);
			write(p[1], m, n);
			usleep(2000);
		}
		_exit(0);
	}
	close(p[1]);
	char all[128] = {0};
	size_t len = 0;
	ssize_t n;
	while ((n = read(p[0], all + len, sizeof all - 1 - len)) > 0)
		len += (size_t)n;
	printf("from child until EOF: %s (read returned %zd)\n", all, n);
	reap("writer", c);
	MUST(pipe(p));
	c = fork();
	if (c == 0)
		_exit(0); /* holds a copy of the write end until it exits */
	close(p[1]);
	value("EOF after child's copy closed too", read(p[0], b, 1));
	reap("child", c);
	return 0;
}

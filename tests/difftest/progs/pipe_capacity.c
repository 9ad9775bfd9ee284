/* Pipe capacity with O_NONBLOCK: fills to at least 4 KiB, then EAGAIN;
 * writes up to PIPE_BUF are atomic; FIONREAD counts. */
#include "dt.h"
#include <limits.h>
#include <sys/ioctl.h>

int main(void)
{
	int p[2];
	MUST(pipe2(p, O_NONBLOCK));
	static char buf[4096];
	long total = 0;
	ssize_t n;
	while ((n = write(p[1], buf, 1000)) > 0)
		total += n;
	result("write to full pipe", n);
	yesno("capacity >= 4096", total >= 4096);
	yesno("capacity is a multiple of 1000 or stopped at a page edge", total % 1000 == 0 || total % 4096 == 0);
	int avail = 0;
	ioctl(p[0], FIONREAD, &avail);
	yesno("FIONREAD == bytes written", avail == total);
	value("PIPE_BUF", PIPE_BUF);
	value("read 4096", read(p[0], buf, 4096));
	value("atomic write of 4096 after draining 4096", write(p[1], buf, 4096));
	value("atomic write of 4096 on full pipe", write(p[1], buf, 4096));
	close(p[1]);
	long drained = 0;
	while ((n = read(p[0], buf, sizeof buf)) > 0)
		drained += n;
	yesno("drained everything then EOF", n == 0 && drained == total);
	return 0;
}

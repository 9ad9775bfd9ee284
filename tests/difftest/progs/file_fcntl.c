/* fcntl: F_GETFL/F_SETFL, F_DUPFD(_CLOEXEC), F_GETFD/F_SETFD. */
#include "dt.h"

int main(void)
{
	int fd = MUST(open("f", O_RDWR | O_CREAT, 0644));
	int fl = MUST(fcntl(fd, F_GETFL));
	printf("access mode O_RDWR: %s\n", (fl & O_ACCMODE) == O_RDWR ? "yes" : "no");
	yesno("O_APPEND initially", fl & O_APPEND);
	MUST(fcntl(fd, F_SETFL, fl | O_APPEND | O_NONBLOCK));
	fl = fcntl(fd, F_GETFL);
	yesno("O_APPEND after F_SETFL", fl & O_APPEND);
	yesno("O_NONBLOCK after F_SETFL", fl & O_NONBLOCK);
	MUST(fcntl(fd, F_SETFL, O_WRONLY));
	fl = fcntl(fd, F_GETFL);
	yesno("F_SETFL cannot change access mode", (fl & O_ACCMODE) == O_RDWR);

	value("F_DUPFD >= 10", fcntl(fd, F_DUPFD, 10));
	value("F_DUPFD >= 10 again", fcntl(fd, F_DUPFD, 10));
	int c = MUST(fcntl(fd, F_DUPFD_CLOEXEC, 30));
	value("F_DUPFD_CLOEXEC >= 30", c);
	value("F_GETFD of it", fcntl(c, F_GETFD));
	value("F_GETFD of original", fcntl(fd, F_GETFD));
	MUST(fcntl(fd, F_SETFD, FD_CLOEXEC));
	value("F_GETFD after F_SETFD", fcntl(fd, F_GETFD));
	result("F_DUPFD negative", fcntl(fd, F_DUPFD, -1));
	result("fcntl bad fd", fcntl(555, F_GETFL));
	result("fcntl bad command", fcntl(fd, 0x7fff));

	int p[2];
	MUST(pipe(p));
	MUST(fcntl(p[0], F_SETFL, O_NONBLOCK));
	char b;
	result("nonblocking read of empty pipe", read(p[0], &b, 1));
	return 0;
}

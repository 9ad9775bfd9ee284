/* Terminal basics on the serial console: isatty, TCGETS (canonical mode
 * and echo on), TIOCGWINSZ, /dev/tty without a controlling terminal,
 * TCGETS on a pipe. */
#include "dt.h"
#include <sys/ioctl.h>
#include <termios.h>

int main(void)
{
	int fd = MUST(open("/dev/console", O_RDWR | O_NOCTTY));
	yesno("isatty(/dev/console)", isatty(fd));
	struct termios t;
	result("TCGETS", ioctl(fd, TCGETS, &t));
	yesno("ICANON", t.c_lflag & ICANON);
	yesno("ECHO", t.c_lflag & ECHO);
	yesno("ISIG", t.c_lflag & ISIG);
	yesno("OPOST|ONLCR", (t.c_oflag & OPOST) && (t.c_oflag & ONLCR));
	printf("VINTR is ^C: %s, VEOF is ^D: %s\n", t.c_cc[VINTR] == 3 ? "yes" : "no",
	       t.c_cc[VEOF] == 4 ? "yes" : "no");
	struct winsize ws;
	result("TIOCGWINSZ", ioctl(fd, TIOCGWINSZ, &ws));
	result("TCSETS (unchanged)", ioctl(fd, TCSETS, &t));
	yesno("stdin (/dev/null) is not a tty", !isatty(0));
	yesno("stdout (a pipe) is not a tty", !isatty(1));
	int p[2];
	MUST(pipe(p));
	result("TCGETS on a pipe", ioctl(p[0], TCGETS, &t));
	result("open /dev/tty without a controlling terminal", open("/dev/tty", O_RDWR));
	return 0;
}

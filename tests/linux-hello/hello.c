/* hello.c: the smallest Linux program K42-rs runs unmodified: musl's
 * start-up (arch_prctl, set_tid_address, ...), printf through stdio
 * (ioctl TIOCGWINSZ, writev), exit_group with a status. */
#include <stdio.h>

int main(void)
{
	printf("hello from Linux on K42-rs\n");
	return 7;
}

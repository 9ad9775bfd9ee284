/* Process groups and sessions: the harness puts each program in its own
 * group; setpgid, setsid, getsid, their errors. */
#include "dt.h"

int main(void)
{
	yesno("harness made us a group leader", getpgrp() == getpid());
	yesno("getpgid(0) == getpgrp()", getpgid(0) == getpgrp());
	yesno("not a session leader", getsid(0) != getpid());
	result("setsid as group leader", setsid());
	int p[2];
	MUST(pipe(p));
	pid_t c = fork();
	if (c == 0) {
		int ok = getpgrp() != getpid();
		ok = ok << 1 | (setpgid(0, 0) == 0);
		ok = ok << 1 | (getpgrp() == getpid());
		pid_t s = setsid();
		ok = ok << 1 | (s < 0 && errno == EPERM);
		pid_t g = fork();
		if (g == 0) {
			_exit(setsid() == getpid() && getsid(0) == getpid() && getpgrp() == getpid());
		}
		int st;
		waitpid(g, &st, 0);
		ok = ok << 1 | WEXITSTATUS(st);
		write(p[1], &ok, sizeof ok);
		_exit(0);
	}
	int ok = 0;
	read(p[0], &ok, sizeof ok);
	reap("child", c);
	yesno("child starts in parent's group", ok & 16);
	yesno("setpgid(0,0) works", ok & 8);
	yesno("child now leads its group", ok & 4);
	yesno("setsid as new group leader fails EPERM", ok & 2);
	yesno("grandchild setsid: sid == pgid == pid", ok & 1);
	result("setpgid of unknown pid", setpgid(999999, 0));
	result("setpgid negative pgid", setpgid(0, -1));
	result("getsid unknown pid", getsid(999999));
	c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	setpgid(c, c);
	result("kill(-pgid) of child's group", kill(-c, SIGTERM));
	reap("group member", c);
	return 0;
}

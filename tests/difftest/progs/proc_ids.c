/* Identities and system facts: the uid/gid family (root in both guests),
 * uname, resource limits, sysinfo sanity. */
#include "dt.h"
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

int main(void)
{
	printf("uid=%d euid=%d gid=%d egid=%d\n", getuid(), geteuid(), getgid(), getegid());
	uid_t r, e, s;
	getresuid(&r, &e, &s);
	printf("resuid=%d,%d,%d\n", r, e, s);
	gid_t groups[8];
	int n = getgroups(8, groups);
	yesno("getgroups returns >= 0", n >= 0);
	struct utsname u;
	MUST(uname(&u));
	printf("sysname=%s machine=%s\n", u.sysname, u.machine);
	struct rlimit rl;
	MUST(getrlimit(RLIMIT_NOFILE, &rl));
	yesno("RLIMIT_NOFILE soft >= 64", rl.rlim_cur >= 64);
	yesno("soft <= hard", rl.rlim_cur <= rl.rlim_max);
	rl.rlim_cur = 32;
	result("lower RLIMIT_NOFILE to 32", setrlimit(RLIMIT_NOFILE, &rl));
	result("dup2 onto 40", dup2(1, 40));
	struct sysinfo si;
	MUST(sysinfo(&si));
	yesno("sysinfo totalram > 0", si.totalram > 0);
	yesno("sysinfo procs >= 1", si.procs >= 1);
	yesno("getpid > 0", getpid() > 0);
	yesno("getppid > 0", getppid() > 0);
	return 0;
}

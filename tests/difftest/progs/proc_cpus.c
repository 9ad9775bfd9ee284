/* The machine as a process sees it: the processors online (musl's sysconf
 * counts sched_getaffinity's bits), the affinity mask and its errors,
 * sched_setaffinity (empty mask, processor 0 only, inherited by a fork),
 * /proc/cpuinfo's processor blocks, and memory figures only as relations
 * (/proc/meminfo, sysinfo): absolute amounts differ between kernels. The
 * processor counts are the machine's (1 at smp1, 4 at smp4) on both. */
#include "dt.h"
#include <sched.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>

/* sched_getaffinity by number (musl's wrapper hides the byte count). */
static long getaff(pid_t pid, long len, void *mask)
{
	return syscall(SYS_sched_getaffinity, pid, len, mask);
}

static void show_affinity(const char *what)
{
	unsigned long mask[16];
	memset(mask, 0, sizeof mask);
	long n = getaff(0, sizeof mask, mask);
	printf("%s: ", what);
	value("bytes", n);
	int count = 0;
	for (unsigned i = 0; i < 16; i++)
		count += __builtin_popcountl(mask[i]);
	printf("%s: %d processors, first word %#lx\n", what, count, mask[0]);
}

/* The value of a /proc/meminfo line, in kB (-1: missing). */
static long meminfo(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	return p ? atol(p + strlen(key)) : -1;
}

int main(void)
{
	long onln = sysconf(_SC_NPROCESSORS_ONLN);
	long conf = sysconf(_SC_NPROCESSORS_CONF);
	printf("sysconf NPROCESSORS_ONLN: %ld\n", onln);
	printf("sysconf NPROCESSORS_CONF: %ld\n", conf);
	show_affinity("getaffinity");

	unsigned long saved[16], word[2] = {0, 0};
	memset(saved, 0, sizeof saved);
	MUST(getaff(0, sizeof saved, saved));
	value("getaffinity len 8", getaff(0, 8, word));
	value("getaffinity own pid", getaff(getpid(), 8, word));
	value("getaffinity len 4", getaff(0, 4, word));
	value("getaffinity len 12", getaff(0, 12, word));
	value("getaffinity len 0", getaff(0, 0, word));
	value("getaffinity bad pointer", getaff(0, 8, (void *)8));
	value("getaffinity no such pid", getaff(999999, 8, word));

	cpu_set_t set;
	CPU_ZERO(&set);
	result("setaffinity empty mask", sched_setaffinity(0, sizeof set, &set));
	result("setaffinity bad pointer", syscall(SYS_sched_setaffinity, 0, 8, (void *)8));
	CPU_SET(0, &set);
	result("setaffinity no such pid", sched_setaffinity(999999, sizeof set, &set));
	result("setaffinity processor 0", sched_setaffinity(0, sizeof set, &set));
	show_affinity("after setaffinity 0");
	printf("sysconf NPROCESSORS_ONLN after: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	pid_t c = fork();
	if (c == 0) {
		show_affinity("forked child");
		_exit(0);
	}
	reap("child", c);
	result("setaffinity back to all", syscall(SYS_sched_setaffinity, 0, sizeof saved, saved));
	show_affinity("restored");

	static char text[65536];
	int fd = open("/proc/cpuinfo", O_RDONLY);
	MUST(fd);
	long len = 0, r;
	while ((r = read(fd, text + len, sizeof text - 1 - len)) > 0)
		len += r;
	text[len] = 0;
	close(fd);
	int lines = 0;
	for (char *p = text; *p;) {
		lines += strncmp(p, "processor", 9) == 0;
		char *nl = strchr(p, '\n');
		if (!nl)
			break;
		p = nl + 1;
	}
	printf("/proc/cpuinfo processor lines: %d\n", lines);
	yesno("/proc/cpuinfo processors == sysconf ONLN", lines == onln);

	fd = open("/proc/meminfo", O_RDONLY);
	MUST(fd);
	len = 0;
	while ((r = read(fd, text + len, sizeof text - 1 - len)) > 0)
		len += r;
	text[len] = 0;
	close(fd);
	long total = meminfo(text, "MemTotal:"), free = meminfo(text, "MemFree:");
	long avail = meminfo(text, "MemAvailable:");
	yesno("MemTotal > 0", total > 0);
	yesno("0 <= MemFree <= MemTotal", free >= 0 && free <= total);
	yesno("0 <= MemAvailable <= MemTotal", avail >= 0 && avail <= total);

	struct sysinfo si;
	MUST(sysinfo(&si));
	yesno("sysinfo totalram > 0", si.totalram > 0);
	yesno("sysinfo freeram <= totalram", si.freeram <= si.totalram);
	yesno("sysinfo mem_unit >= 1", si.mem_unit >= 1);
	/* Both in kB, within 1% of each other: the same figure two ways. */
	unsigned long long si_kb = (unsigned long long)si.totalram * si.mem_unit / 1024;
	yesno("sysinfo totalram ~ MemTotal",
	      si_kb <= (unsigned long long)total + total / 100 &&
	      si_kb + total / 100 >= (unsigned long long)total);
	return 0;
}

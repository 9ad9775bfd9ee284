/* The minimal /proc and /dev the Linux personality promises:
 * /proc/self/exe, /proc/self/fd, /proc/meminfo, /proc/cpuinfo,
 * /proc/mounts, /dev/null, /dev/zero, /dev/urandom. */
#include "dt.h"

static int has_line(const char *path, const char *prefix)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[512];
	int found = 0;
	while (fgets(line, sizeof line, f))
		found |= strncmp(line, prefix, strlen(prefix)) == 0;
	fclose(f);
	return found;
}

int main(void)
{
	char b[256] = {0};
	value("readlink /proc/self/exe", readlink("/proc/self/exe", b, sizeof b - 1));
	printf("exe: %s\n", b);
	int fd = MUST(open("/difftest", O_RDONLY | O_DIRECTORY));
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	memset(b, 0, sizeof b);
	readlink(p, b, sizeof b - 1);
	printf("fd link: %s\n", b);
	yesno("/proc/meminfo has MemTotal", has_line("/proc/meminfo", "MemTotal:"));
	yesno("/proc/cpuinfo has processor", has_line("/proc/cpuinfo", "processor"));
	yesno("/proc/mounts has proc", has_line("/proc/mounts", "proc /proc proc"));
	yesno("/proc/self/stat readable", access("/proc/self/stat", R_OK) == 0);
	int u = MUST(open("/dev/urandom", O_RDONLY));
	unsigned char r[64];
	value("read /dev/urandom", read(u, r, sizeof r));
	int same = 1;
	for (int i = 1; i < 64; i++)
		same &= r[i] == r[0];
	yesno("urandom bytes not all equal", !same);
	struct stat st;
	MUST(stat("/dev/zero", &st));
	yesno("/dev/zero is a char device", S_ISCHR(st.st_mode));
	int z = MUST(open("/dev/zero", O_RDWR));
	value("write to /dev/zero", write(z, r, sizeof r));
	result("open /dev/console", open("/dev/console", O_WRONLY));
	return 0;
}

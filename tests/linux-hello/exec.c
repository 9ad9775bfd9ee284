/* execve through the system library: errors leave the caller running
 * (ENOENT, ENOEXEC, EACCES, EFAULT, E2BIG), a forked child execs and its
 * parent collects the new program's status, #! scripts (in the initramfs
 * and in the file system) run their interpreter, and the program
 * re-executes itself: argv and envp arrive, the pid stays, the signal
 * mask and ignored signals survive, caught signals are reset, descriptors
 * stay open (close-on-exec ones close), the working directory and the
 * umask stay.
 *
 * `linux-exec bench N` measures instead: N execs of itself in a row, then
 * N rounds of fork + exec + exit + wait, and prints `kbench:` lines in
 * cycles. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SELF
#define SELF "/bin/linux-exec"
#endif
/* A symbolic link to SELF. */
#ifndef LINK
#define LINK "/bin/linux-exec-link"
#endif

static const char *errname(int e)
{
	switch (e) {
	case ENOENT: return "ENOENT";
	case ENOEXEC: return "ENOEXEC";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case E2BIG: return "E2BIG";
	case ENOTDIR: return "ENOTDIR";
	default: return "other";
	}
}

static void try(const char *what, const char *path, char *const *argv, char *const *envp)
{
	fflush(stdout);
	int r = execve(path, argv, envp);
	printf("%s: %d %s\n", what, r, errname(errno));
}

static void handler(int s) { (void)s; }

static void put(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) || chmod(path, mode))
		perror(path);
}

/* The re-executed image. */
static int child(int argc, char **argv, char **envp)
{
	printf("exec'd: argc=%d", argc);
	for (int i = 1; i < argc; i++)
		printf(" [%s]", i == 2 ? "<pid>" : argv[i]);
	printf("\n");
	for (char **e = envp; *e; e++)
		printf("env %s\n", *e);
	char pid[32];
	snprintf(pid, sizeof pid, "%d", getpid());
	printf("same pid: %s\n", strcmp(pid, argv[2]) == 0 ? "yes" : "no");
	sigset_t m;
	sigprocmask(SIG_BLOCK, NULL, &m);
	printf("SIGUSR2 still blocked: %s\n", sigismember(&m, SIGUSR2) ? "yes" : "no");
	struct sigaction sa;
	sigaction(SIGUSR1, NULL, &sa);
	printf("SIGUSR1 reset to default: %s\n", sa.sa_handler == SIG_DFL ? "yes" : "no");
	sigaction(SIGPIPE, NULL, &sa);
	printf("SIGPIPE still ignored: %s\n", sa.sa_handler == SIG_IGN ? "yes" : "no");
	char wd[256] = {0}, was[256] = {0};
	if (!getcwd(wd, sizeof wd))
		perror("getcwd");
	ssize_t n = read(10, was, sizeof was - 1);
	printf("descriptor 10 kept, at its offset: %s\n", n == (ssize_t)strlen(wd) ? "yes" : "no");
	printf("working directory kept: %s\n", strcmp(was, wd) == 0 ? "yes" : "no");
	printf("close-on-exec descriptor 11 closed: %s\n", fcntl(11, F_GETFD) < 0 && errno == EBADF ? "yes" : "no");
	printf("umask kept: %s\n", umask(0) == 027 ? "yes" : "no");
	char exe[256] = {0};
	printf("/proc/self/exe is the program: %s\n",
	       readlink("/proc/self/exe", exe, sizeof exe - 1) > 0 && strcmp(exe, SELF) == 0 ? "yes" : "no");
	return 5;
}

static int wait_for(pid_t p)
{
	int status = 0;
	if (waitpid(p, &status, 0) != p)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + status;
}

static unsigned long long rdtsc(void)
{
	unsigned lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((unsigned long long)hi << 32) | lo;
}

/* `loop LEFT N T0`: exec itself LEFT more times, then report. */
static int bench(char **argv, char **envp)
{
	long left = atol(argv[2]), n = atol(argv[3]);
	unsigned long long t0 = strtoull(argv[4], NULL, 10);
	if (left > 0) {
		char l[32];
		snprintf(l, sizeof l, "%ld", left - 1);
		char *a[] = {"linux-exec", "loop", l, argv[3], argv[4], NULL};
		execve(SELF, a, envp);
		perror("execve");
		return 1;
	}
	printf("kbench: linux.exec execve of itself cycles/exec=%llu\n", (rdtsc() - t0) / n);
	t0 = rdtsc();
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			char *a[] = {"linux-exec", "exit", NULL};
			execve(SELF, a, envp);
			_exit(1);
		}
		if (wait_for(p) != 0)
			return 1;
	}
	printf("kbench: linux.exec fork+execve+exit+wait cycles/spawn=%llu\n", (rdtsc() - t0) / n);
	return 0;
}

int main(int argc, char **argv, char **envp)
{
	const char *mode = getenv("EXEC_MODE");
	if (mode && strcmp(mode, "noargs") == 0) {
		printf("exec'd without argv: argc=%d argv[0]=[%s]\n", argc, argc > 0 ? argv[0] : "(none)");
		return 6;
	}
	if (argc == 2 && strcmp(argv[1], "exit") == 0)
		return 0;
	if (argc == 5 && strcmp(argv[1], "loop") == 0)
		return bench(argv, envp);
	if (argc == 3 && strcmp(argv[1], "bench") == 0) {
		char t0[32];
		snprintf(t0, sizeof t0, "%llu", rdtsc());
		char *a[] = {"linux-exec", "loop", argv[2], argv[2], t0, NULL};
		fflush(stdout);
		execve(SELF, a, envp);
		perror("execve");
		return 1;
	}
	if (argc > 2 && strcmp(argv[1], "child") == 0)
		return child(argc, argv, envp);
	if (argc > 2 && strcmp(argv[1], "forked") == 0) {
		char exe[256] = {0};
		int same = readlink("/proc/self/exe", exe, sizeof exe - 1) > 0 && strcmp(exe, SELF) == 0;
		printf("forked child runs the new program: %s (/proc/self/exe is the program: %s)\n", argv[2],
		       same ? "yes" : "no");
		return 9;
	}
	if (argc == 2 && strcmp(argv[1], "exe") == 0) {
		char exe[256] = {0};
		if (readlink("/proc/self/exe", exe, sizeof exe - 1) < 0)
			perror("readlink");
		printf("exe %s\n", exe);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "script-arg") == 0) {
		printf("interpreter argv:");
		for (int i = 0; i < argc; i++)
			printf(" [%s]", argv[i]);
		printf("\n");
		return 4;
	}

	char *plain[] = {"x", NULL};
	char *noenv[] = {NULL};
	try("missing file", "/no/such/file", plain, noenv);
	try("not an executable", "/bin/linux-exec-garbage", plain, noenv);
	try("a directory", "/bin", plain, noenv);
	try("a file as a directory", SELF "/", plain, noenv);
	try("bad path pointer", (const char *)16, plain, noenv);
	try("bad argv pointer", SELF, (char *const *)16, noenv);
	char *bad_string[] = {"x", (char *)16, NULL};
	try("bad argv string", SELF, bad_string, noenv);
	size_t n = 200 * 1024;
	char *big = malloc(n + 1);
	memset(big, 'a', n);
	big[n] = 0;
	char *huge[] = {"x", big, NULL};
	try("an argument over 128 KiB", SELF, huge, noenv);
	free(big);
	printf("still running after the failed execs\n");

	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		char *a[] = {"linux-exec", "forked", "hello", NULL};
		execve(SELF, a, noenv);
		_exit(100);
	}
	printf("forked child's status: %d\n", wait_for(p));

	fflush(stdout);
	p = fork();
	if (p == 0) {
		char *a[] = {"linux-exec", "forked", "through a symbolic link", NULL};
		execve(LINK, a, noenv);
		_exit(100);
	}
	printf("linked child's status: %d\n", wait_for(p));

	fflush(stdout);
	p = fork();
	if (p == 0) {
		char *e[] = {"EXEC_MODE=noargs", NULL};
		execve(SELF, NULL, e);
		_exit(100);
	}
	printf("no-argv child's status: %d\n", wait_for(p));

	fflush(stdout);
	p = fork();
	if (p == 0) {
		char *a[] = {"script", "x", "y", NULL};
		execve("/bin/linux-exec-script", a, noenv);
		_exit(100);
	}
	printf("script's status: %d\n", wait_for(p));

	/* Programs of the file system. */
	if (mkdir("exec-wd", 0755) || chdir("exec-wd")) {
		perror("exec-wd");
		return 1;
	}
	put("noexec.sh", "#!" SELF "\n", 0644);
	try("a file without execute permission", "noexec.sh", plain, noenv);
	put("garbage", "neither ELF nor script\n", 0755);
	try("a file neither ELF nor script", "./garbage", plain, noenv);
	put("s.sh", "#!" SELF " script-arg\n", 0755);
	fflush(stdout);
	p = fork();
	if (p == 0) {
		char *a[] = {"s", "x", NULL};
		execve("./s.sh", a, noenv);
		_exit(100);
	}
	printf("file system script's status: %d\n", wait_for(p));

	signal(SIGUSR1, handler);
	signal(SIGPIPE, SIG_IGN);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	sigprocmask(SIG_BLOCK, &m, NULL);
	char pid[32];
	snprintf(pid, sizeof pid, "%d", getpid());
	/* Descriptor 10 holds the working directory's path, at offset 0. */
	char wd[256] = {0};
	if (!getcwd(wd, sizeof wd))
		perror("getcwd");
	put("kept", wd, 0644);
	int fd = open("kept", O_RDONLY);
	if (fd < 0 || dup2(fd, 10) != 10 || dup3(fd, 11, O_CLOEXEC) != 11 || close(fd))
		perror("kept");
	umask(027);
	char *nargv[] = {"linux-exec", "child", pid, "with space", "", NULL};
	char *nenv[] = {"A=1", "B=two words", "EMPTY=", NULL};
	try("self", SELF, nargv, nenv);
	return 1;
}

/* difftest-run: the harness that runs each difftest program inside the
 * guest (Linux or K42-rs) and frames its output on the console.
 *
 *   difftest-run LIST [TIMEOUT_MS]
 *
 * LIST has one program a line: "NAME PATH [ARG...]" (space separated).
 * For each one it makes a fresh directory /scratch/NAME, runs PATH there
 * with a fixed environment, stdin on /dev/null and stdout+stderr on one
 * pipe, in a process group of its own, and prints
 *
 *   @@difftest@@ begin NAME
 *   ...the program's output, bytes outside printable ASCII as \xNN...
 *   (and the first '@' of a line starting with the marker as \x40)
 *   @@difftest@@ end NAME status=exit:0 bytes=123 newline=yes ms=45
 *
 * status is exit:N, signal:N or timeout; bytes is the raw output length;
 * newline=no means the output did not end with a newline (one was added
 * before the end marker); ms is how long the program ran (until its exit,
 * not counting processes it left behind). A program still running after TIMEOUT_MS
 * (default 10000) is killed with its process group; so are processes it
 * left behind holding the pipe, one second after it exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MARK "@@difftest@@"
#define MAX_OUT (256 * 1024)

static char out[MAX_OUT];
static const char *scratch = "/scratch";

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void put(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(1, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void puts1(const char *s) { put(s, strlen(s)); }

/* Writes the output, escaping what a serial console would mangle, and
 * the '@' of a line that starts with the marker, so that no program can
 * forge a frame. */
static void put_escaped(const char *s, size_t n)
{
	char buf[4096];
	size_t k = 0;
	size_t mark = strlen(MARK);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (k > sizeof buf - 8) {
			put(buf, k);
			k = 0;
		}
		int line_start = i == 0 || s[i - 1] == '\n';
		int forged = line_start && n - i >= mark && memcmp(s + i, MARK, mark) == 0;
		if (!forged && (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f))) {
			buf[k++] = (char)c;
		} else {
			k += (size_t)snprintf(buf + k, 8, "\\x%02x", c);
		}
	}
	put(buf, k);
}

static void run_one(char *name, char **argv, long timeout_ms)
{
	char dir[512], line[1024];
	snprintf(dir, sizeof dir, "%s/%s", scratch, name);
	mkdir(dir, 0755);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(line, sizeof line, MARK " begin %s\nharness: pipe failed\n"
			 MARK " end %s status=harness bytes=0 newline=yes\n", name, name);
		puts1(line);
		return;
	}
	snprintf(line, sizeof line, MARK " begin %s\n", name);
	puts1(line);
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		if (chdir(dir) < 0)
			_exit(126);
		umask(022);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int s = 1; s < 32; s++)
			signal(s, SIG_DFL);
		char *env[] = {"PATH=/bin:/difftest", "HOME=/", "LC_ALL=C", "TZ=UTC",
			       "TERM=dumb", NULL};
		execve(argv[0], argv, env);
		dprintf(2, "harness: execve %s: errno %d\n", argv[0], errno);
		_exit(127);
	}
	close(p[1]);
	size_t len = 0;
	int status = 0, reaped = 0, eof = 0, timed_out = 0;
	long long started = now_ms();
	long long deadline = started + timeout_ms, exited_at = 0;
	while (!(reaped && eof)) {
		long long t = now_ms();
		if (t > deadline || (reaped && t > exited_at + 1000)) {
			kill(-pid, SIGKILL);
			if (!reaped) {
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				reaped = 1;
				timed_out = 1;
			}
			break;
		}
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		int r = eof ? 0 : poll(&pf, 1, 20);
		if (eof)
			usleep(5000);
		if (r > 0) {
			char tmp[4096];
			ssize_t n = read(p[0], tmp, sizeof tmp);
			if (n <= 0) {
				eof = 1;
			} else {
				size_t k = (size_t)n;
				if (len + k > MAX_OUT)
					k = MAX_OUT - len;
				memcpy(out + len, tmp, k);
				len += k;
			}
		}
		if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
			reaped = 1;
			exited_at = now_ms();
		}
	}
	close(p[0]);
	put_escaped(out, len);
	int nl = len == 0 || out[len - 1] == '\n';
	if (!nl)
		puts1("\n");
	char st[32];
	if (timed_out)
		snprintf(st, sizeof st, "timeout");
	else if (WIFEXITED(status))
		snprintf(st, sizeof st, "exit:%d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(st, sizeof st, "signal:%d", WTERMSIG(status));
	else
		snprintf(st, sizeof st, "raw:%#x", status);
	long long ms = (exited_at ? exited_at : now_ms()) - started;
	snprintf(line, sizeof line, MARK " end %s status=%s bytes=%zu newline=%s ms=%lld\n", name,
		 st, len, nl ? "yes" : "no", ms);
	puts1(line);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		dprintf(2, "usage: difftest-run LIST [TIMEOUT_MS]\n");
		return 2;
	}
	long timeout_ms = argc > 2 ? atol(argv[2]) : 10000;
	FILE *f = fopen(argv[1], "r");
	if (!f) {
		dprintf(2, "difftest-run: cannot open %s\n", argv[1]);
		return 2;
	}
	if (getenv("DIFFTEST_SCRATCH"))
		scratch = getenv("DIFFTEST_SCRATCH");
	mkdir(scratch, 0755);
	char line[1024];
	while (fgets(line, sizeof line, f)) {
		char *words[32];
		int n = 0;
		for (char *w = strtok(line, " \t\n"); w && n < 31; w = strtok(NULL, " \t\n"))
			words[n++] = w;
		if (n < 2 || words[0][0] == '#')
			continue;
		words[n] = NULL;
		run_one(words[0], words + 1, timeout_ms);
	}
	puts1(MARK " all done\n");
	return 0;
}

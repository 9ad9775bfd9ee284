/* vfork and posix_spawn through the system library (the kernel's
 * vfork_process): the child runs in the parent's memory while the parent
 * waits; a signal to the waiting parent comes after the child let it go;
 * the child has its own ids; posix_spawn's file actions and a failed
 * spawn; with "kill-parent", the child kills its waiting parent; with
 * "bench N", their cost against fork's (`kbench:` lines). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static volatile int shared;
static volatile int seen_by_handler = -1;

static void on_usr1(int sig)
{
	(void)sig;
	seen_by_handler = shared;
}

static unsigned long long rdtsc(void)
{
	unsigned lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((unsigned long long)hi << 32) | lo;
}

static int status_of(pid_t pid)
{
	int st = 0;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "exit") == 0)
		return 5;
	if (argc > 2 && strcmp(argv[1], "bench") == 0) {
		/* N rounds each: vfork, fork (each child exits at once),
		 * posix_spawn of this program and fork + execve of it (each
		 * exits 5); then `kbench:` lines. */
		long n = atol(argv[2]);
		char *av[] = {argv[0], "exit", NULL};
		pid_t pid;
		unsigned long long t0 = rdtsc();
		for (long i = 0; i < n; i++) {
			if ((pid = vfork()) == 0)
				_exit(0);
			if (status_of(pid) != 0)
				return 1;
		}
		unsigned long long v = (rdtsc() - t0) / n;
		t0 = rdtsc();
		for (long i = 0; i < n; i++) {
			if ((pid = fork()) == 0)
				_exit(0);
			if (status_of(pid) != 0)
				return 1;
		}
		printf("kbench: linux.vfork cycles/round vfork+exit+wait=%llu fork+exit+wait=%llu\n", v,
		       (rdtsc() - t0) / n);
		t0 = rdtsc();
		for (long i = 0; i < n; i++) {
			if (posix_spawn(&pid, "/bin/linux-vfork", NULL, NULL, av, environ) ||
			    status_of(pid) != 5)
				return 1;
		}
		v = (rdtsc() - t0) / n;
		t0 = rdtsc();
		for (long i = 0; i < n; i++) {
			if ((pid = fork()) == 0) {
				execve("/bin/linux-vfork", av, environ);
				_exit(1);
			}
			if (status_of(pid) != 5)
				return 1;
		}
		printf("kbench: linux.vfork cycles/spawn posix_spawn+exit+wait=%llu "
		       "fork+execve+exit+wait=%llu\n",
		       v, (rdtsc() - t0) / n);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "kill-parent") == 0) {
		printf("parent %d\n", getpid());
		fflush(stdout);
		if (vfork() == 0) {
			kill(getppid(), SIGKILL);
			shared = 2;
			_exit(0);
		}
		printf("the parent ran on after SIGKILL\n");
		return 1;
	}
	signal(SIGUSR1, on_usr1);
	shared = 1;
	pid_t pid = vfork();
	if (pid == 0) {
		kill(getppid(), SIGUSR1);
		shared = 2;
		_exit(3);
	}
	int st = status_of(pid);
	printf("child's store seen: %d, the signal handled after the child: %s, status %d\n", shared,
	       seen_by_handler == 2 ? "yes" : "no", st);

	static volatile pid_t cpid, cppid;
	pid_t me = getpid();
	pid = vfork();
	if (pid == 0) {
		cpid = getpid();
		cppid = getppid();
		_exit(0);
	}
	status_of(pid);
	printf("child's getpid: %s, its getppid: %s, the parent's getpid after: %s\n",
	       cpid == pid ? "the child's" : "wrong", cppid == me ? "the parent" : "wrong",
	       getpid() == me ? "its own" : "wrong");

	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "spawned.out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char *av[] = {argv[0], "exit", NULL};
	int r = posix_spawn(&pid, "/bin/linux-vfork", &fa, NULL, av, environ);
	printf("posix_spawn: %s, status %d\n", r ? strerror(r) : "ok", r ? -1 : status_of(pid));
	char *bad[] = {"x", NULL};
	r = posix_spawn(&pid, "/nonexistent", NULL, NULL, bad, environ);
	printf("posix_spawn of a missing file: %s\n", r == ENOENT ? "ENOENT" : strerror(r));
	return 0;
}

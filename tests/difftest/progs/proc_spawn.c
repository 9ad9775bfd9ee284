/* posix_spawn (musl: clone with CLONE_VM|CLONE_VFORK): file actions,
 * argument passing, exit statuses, a failed spawn's error. */
#include "dt.h"
#include <spawn.h>

extern char **environ;

int main(void)
{
	pid_t p;
	char *argv[] = {"echo", "spawned", "echo", NULL};
	int r = posix_spawn(&p, "/bin/echo", NULL, NULL, argv, environ);
	/* The child's line and this one race (on Linux too): reap first. */
	reap("echo", p);
	printf("posix_spawn echo: %s\n", errname(r));
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char *argv2[] = {"sh", "-c", "echo to file; exit 6", NULL};
	r = posix_spawn(&p, "/bin/sh", &fa, NULL, argv2, environ);
	printf("posix_spawn with redirect: %s\n", errname(r));
	reap("sh", p);
	char b[64] = {0};
	int fd = MUST(open("out", O_RDONLY));
	MUST(read(fd, b, sizeof b - 1));
	printf("file holds: %s", b);
	char *argv3[] = {"x", NULL};
	r = posix_spawn(&p, "/nonexistent", NULL, NULL, argv3, environ);
	printf("posix_spawn missing: %s\n", errname(r));
	char *argv5[] = {"true", NULL};
	r = posix_spawnp(&p, "true", NULL, NULL, argv5, environ);
	printf("posix_spawnp true: %s\n", errname(r));
	reap("true", p);
	posix_spawnattr_t at;
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&at, 0);
	char *argv4[] = {"sh", "-c", "sleep 0.05", NULL};
	r = posix_spawn(&p, "/bin/sh", NULL, &at, argv4, environ);
	printf("posix_spawn new group: %s, child leads its group: %s\n", errname(r),
	       getpgid(p) == p ? "yes" : "no");
	reap("grouped", p);
	return 0;
}

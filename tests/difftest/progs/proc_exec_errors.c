/* execve errors, and exec of busybox and of a #! script. */
#include "dt.h"

static void try(const char *path)
{
	pid_t p = fork();
	if (p == 0) {
		char *argv[] = {(char *)path, NULL};
		char *env[] = {NULL};
		execve(path, argv, env);
		printf("execve %s: %s\n", path, errname(errno));
		_exit(0);
	}
	waitpid(p, NULL, 0);
}

int main(void)
{
	try("/nonexistent");
	put_file("notexec", "#!/bin/sh\necho hi\n");
	try("./notexec");
	put_file("garbage", "this is neither ELF nor a script\n");
	chmod("garbage", 0755);
	try("./garbage");
	try("/difftest");
	try("/difftest/file_rw/x");
	put_file("script", "#!/bin/sh\necho script ran with $# args: \"$0\" \"$1\"\n");
	chmod("script", 0755);
	pid_t p = fork();
	if (p == 0) {
		char *argv[] = {"./script", "arg1", NULL};
		char *env[] = {"PATH=/bin", NULL};
		execve("./script", argv, env);
		_exit(127);
	}
	reap("script", p);
	put_file("badinterp", "#!/no/such/interpreter\n");
	chmod("badinterp", 0755);
	try("./badinterp");
	p = fork();
	if (p == 0) {
		execl("/bin/busybox", "busybox", "echo", "busybox", "says", "hi", (char *)0);
		_exit(127);
	}
	reap("busybox echo", p);
	p = fork();
	if (p == 0) {
		execl("/bin/sh", "sh", "-c", "exit 17", (char *)0);
		_exit(127);
	}
	reap("sh -c 'exit 17'", p);
	p = fork();
	if (p == 0) {
		execlp("true", "true", (char *)0);
		_exit(127);
	}
	reap("execlp true (PATH search)", p);
	return 0;
}

/* args.c: argv, the environment and the auxiliary vector as the kernel
 * built them, seen through musl. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>

extern char **environ;

int main(int argc, char **argv)
{
	printf("argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	for (char **e = environ; *e; e++)
		printf("env %s\n", *e);
	const char *home = getenv("HOME");
	printf("HOME=%s\n", home ? home : "(unset)");
	printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
	printf("AT_RANDOM %s\n", getauxval(AT_RANDOM) ? "present" : "missing");
	return 0;
}

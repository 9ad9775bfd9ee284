/* Reads lines from the console (the library's terminal: echo, erase,
 * carriage return as newline) until end of file and prints them in upper
 * case. The kernel test types for it. */
#include <ctype.h>
#include <stdio.h>

int main(void)
{
	char line[128];
	int n = 0;
	while (fgets(line, sizeof line, stdin)) {
		n++;
		for (char *p = line; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		printf("got: %s", line);
	}
	printf("%d lines, then end of file\n", n);
	return 0;
}

/* access/faccessat as root: F_OK and R/W always, X only if some x bit. */
#include "dt.h"

int main(void)
{
	put_file("f", "x");
	chmod("f", 0644);
	result("F_OK", access("f", F_OK));
	result("R_OK", access("f", R_OK));
	result("W_OK", access("f", W_OK));
	result("X_OK on 0644", access("f", X_OK));
	chmod("f", 0000);
	result("R_OK on 0000 as root", access("f", R_OK));
	result("X_OK on 0000 as root", access("f", X_OK));
	chmod("f", 0010);
	result("X_OK on 0010 as root", access("f", X_OK));
	result("F_OK missing", access("nope", F_OK));
	result("missing parent", access("nope/f", F_OK));
	result("file as directory", access("f/x", F_OK));
	result("bad mode", access("f", 0100));
	result("faccessat", faccessat(AT_FDCWD, "f", R_OK, 0));
	result("X_OK on a directory", access(".", X_OK));
	result("X_OK on /difftest/file_access", access("/difftest/file_access", X_OK));
	return 0;
}

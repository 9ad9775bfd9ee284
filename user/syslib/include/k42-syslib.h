/* k42-syslib.h: the direct-branch path into the K42-rs system library.
 *
 * K42 ran unmodified Linux binaries by reflecting their system-call traps
 * into a user-level system library; a program (or a libc) built for it can
 * instead call the library directly through a vector it publishes at a
 * fixed address (paper §10: 44% faster than the reflected trap). This
 * header is that path for programs built with musl-gcc: the library maps
 * the vector at K42_SYSLIB_VECTOR, read-only, in every Linux process on
 * K42-rs (see user/syslib, syslib::abi::DIRECT_VECTOR).
 *
 *   if (k42_direct_init())                // on K42-rs, with the library
 *       r = k42_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
 *
 * k42_syscall returns what the kernel's `syscall` would: a value or
 * -errno. On Linux (no vector) k42_direct_init() returns 0 and
 * k42_syscall falls back to the `syscall` instruction.
 */
#ifndef K42_SYSLIB_H
#define K42_SYSLIB_H

#include <string.h>
#include <sys/utsname.h>

#define K42_SYSLIB_VECTOR 0x7fff0000UL
#define K42_SYSLIB_MAGIC 0x424c53595332344bULL /* "K42SYSLB" */

struct k42_syslib_vector {
	unsigned long long magic;
	unsigned long long version;
	long (*syscall)(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
};

static long (*k42_direct)(long, long, long, long, long, long, long);

/* Finds the vector: only under K42-rs (uname's version names it), so
 * that on Linux the unmapped address is never touched. */
static inline int k42_direct_init(void)
{
	struct utsname u;
	if (uname(&u) != 0 || !strstr(u.version, "K42-rs"))
		return 0;
	const struct k42_syslib_vector *v = (const void *)K42_SYSLIB_VECTOR;
	if (v->magic != K42_SYSLIB_MAGIC || v->version < 1)
		return 0;
	k42_direct = v->syscall;
	return 1;
}

static inline long k42_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	if (k42_direct)
		return k42_direct(nr, a1, a2, a3, a4, a5, a6);
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long r;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return r;
}

#endif

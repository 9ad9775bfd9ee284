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
 *
 * The paper's macros, for switching an application's hot calls in and
 * out of Linux emulation one call site at a time, are libc's syscall()
 * with the same arguments (-1 and errno on failure):
 *
 *   K42_SYSCALL(SYS_write, fd, buf, n)       // the vector where it can
 *   K42_SYSCALL_TRAP(SYS_read, pipe, buf, n) // always the trap
 *
 * Not every call can take the direct branch: the library runs it as a
 * function call, with no saved frame of the program. k42_syscall traps,
 * even where the vector is, for the calls k42_trap_only() names:
 *
 *   - fork, vfork, clone, clone3 ("fork"): the kernel starts the child
 *     from the program's frame, which only the trap saves;
 *   - rt_sigreturn ("frame"): it replaces the trapped frame;
 *   - calls that wait ("waits": wait4, waitid, pause, rt_sigsuspend,
 *     rt_sigtimedwait, nanosleep, clock_nanosleep, poll, ppoll, select,
 *     pselect6, epoll_wait, epoll_pwait, a futex wait): the direct path
 *     has no frame to deliver a signal in or to restart the call from, so
 *     a signal would end the wait with EINTR; and the library switches its
 *     threads where one waits, from a trap's entry, not from the middle
 *     of a function call on the program's stack;
 *   - calls that switch the library's threads ("switch": sched_yield, and
 *     exit, which ends one thread and runs the next).
 *
 * Whether a call waits only sometimes (a read or write of a pipe, the
 * open of a FIFO) only the caller can tell: K42_SYSCALL_TRAP.
 *
 * k42_calls counts which way the calls went, and the first reason one
 * trapped ("no-vector" without the library), for a program that wants to
 * show it really took the vector (plain counters: a count for a program
 * whose one thread makes the calls).
 */
#ifndef K42_SYSLIB_H
#define K42_SYSLIB_H

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#define K42_SYSLIB_VECTOR 0x7fff0000UL
#define K42_SYSLIB_MAGIC 0x424c53595332344bULL /* "K42SYSLB" */

struct k42_syslib_vector {
	unsigned long long magic;
	unsigned long long version;
	long (*syscall)(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
};

static long (*k42_direct)(long, long, long, long, long, long, long);

/* Which way calls went: through the vector, or the trap (and why the
 * first one that trapped did). */
static struct {
	unsigned long direct;
	unsigned long trapped;
	const char *why;
} k42_calls;

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

/* Why call `nr` (with first arguments a1, a2) must trap, or 0 if the
 * direct branch can make it. */
static inline const char *k42_trap_only(long nr, long a1, long a2)
{
	(void)a1;
	switch (nr) {
	case SYS_fork:
	case SYS_vfork:
	case SYS_clone:
#ifdef SYS_clone3
	case SYS_clone3:
#endif
		return "fork";
	case SYS_rt_sigreturn:
		return "frame";
	case SYS_wait4:
	case SYS_waitid:
	case SYS_pause:
	case SYS_rt_sigsuspend:
	case SYS_rt_sigtimedwait:
	case SYS_nanosleep:
	case SYS_clock_nanosleep:
	case SYS_poll:
	case SYS_ppoll:
	case SYS_select:
	case SYS_pselect6:
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
		return "waits";
	case SYS_sched_yield:
	case SYS_exit:
		return "switch";
	case SYS_futex:
		/* FUTEX_WAIT, FUTEX_LOCK_PI, FUTEX_WAIT_BITSET,
		 * FUTEX_WAIT_REQUEUE_PI, FUTEX_LOCK_PI2 (the command, without
		 * the private and clock flags). */
		switch (a2 & 127) {
		case 0:
		case 6:
		case 9:
		case 11:
		case 13:
			return "waits";
		}
		return 0;
	}
	return 0;
}

/* The trap: the `syscall` instruction, counted. */
static inline long k42_trap(const char *why, long nr, long a1, long a2, long a3, long a4, long a5,
			    long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long r;
	k42_calls.trapped++;
	if (!k42_calls.why)
		k42_calls.why = why;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return r;
}

/* Call `nr` through the vector where there is one and the call can take
 * it, else through the trap. */
static inline long k42_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	const char *why = k42_direct ? k42_trap_only(nr, a1, a2) : "no-vector";
	if (!why) {
		k42_calls.direct++;
		return k42_direct(nr, a1, a2, a3, a4, a5, a6);
	}
	return k42_trap(why, nr, a1, a2, a3, a4, a5, a6);
}

/* A kernel-style result (-errno) as libc's: -1 with errno set. */
static inline long k42_ret(long r)
{
	if ((unsigned long)r > -4096UL) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* The call number and up to six arguments, padded with zeros. */
#define K42__ARGS(nr, a1, a2, a3, a4, a5, a6, ...)                                             \
	(long)(nr), (long)(a1), (long)(a2), (long)(a3), (long)(a4), (long)(a5), (long)(a6)

/* syscall(nr, ...) through the vector where it can go (k42_syscall). */
#define K42_SYSCALL(...) k42_ret(k42_syscall(K42__ARGS(__VA_ARGS__, 0, 0, 0, 0, 0, 0, 0)))

/* syscall(nr, ...) through the trap: a call the caller knows may wait. */
#define K42_SYSCALL_TRAP(...)                                                                  \
	k42_ret(k42_trap("waits", K42__ARGS(__VA_ARGS__, 0, 0, 0, 0, 0, 0, 0)))

#endif

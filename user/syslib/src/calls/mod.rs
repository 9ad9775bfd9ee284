//! The Linux system calls, one file each. Every file has `call(ctx,
//! args)` (the table's handler), its doc saying what of Linux it does and
//! what not yet, and its tests against the mock kernel.

pub mod access;
pub mod alarm;
pub mod arch_prctl;
pub mod brk;
pub mod chdir;
pub mod chmod;
pub mod chown;
pub mod clock_getres;
pub mod clock_gettime;
pub mod clock_nanosleep;
pub mod clock_settime;
pub mod clone;
pub mod close;
pub mod creat;
pub mod dup;
pub mod dup2;
pub mod dup3;
pub mod execve;
pub mod execveat;
pub mod exit;
pub mod exit_group;
pub mod faccessat;
pub mod faccessat2;
pub mod fchdir;
pub mod fchmod;
pub mod fchmodat;
pub mod fchown;
pub mod fchownat;
pub mod fcntl;
pub mod fdatasync;
pub mod fork;
pub mod fstat;
pub mod fsync;
pub mod ftruncate;
pub mod futex;
pub mod getcwd;
pub mod getdents64;
pub mod getegid;
pub mod geteuid;
pub mod getgid;
pub mod getgroups;
pub mod getitimer;
pub mod getpgid;
pub mod getpgrp;
pub mod getpid;
pub mod getppid;
pub mod getrandom;
pub mod getsid;
pub mod gettid;
pub mod gettimeofday;
pub mod getuid;
pub mod ioctl;
pub mod kill;
pub mod lchown;
pub mod link;
pub mod linkat;
pub mod lseek;
pub mod lstat;
pub mod madvise;
pub mod mkdir;
pub mod mkdirat;
pub mod mknod;
pub mod mknodat;
pub mod mmap;
pub mod mount;
pub mod mprotect;
pub mod mremap;
pub mod msync;
pub mod munmap;
pub mod nanosleep;
pub mod newfstatat;
pub mod open;
pub mod openat;
pub mod pause;
pub mod pipe;
pub mod pipe2;
pub mod poll;
pub mod ppoll;
pub mod prctl;
pub mod pread64;
pub mod preadv;
pub mod prlimit64;
pub mod pselect6;
pub mod pwrite64;
pub mod pwritev;
pub mod read;
pub mod readlink;
pub mod readlinkat;
pub mod readv;
pub mod rename;
pub mod renameat;
pub mod renameat2;
pub mod rmdir;
pub mod rseq;
pub mod rt_sigaction;
pub mod rt_sigpending;
pub mod rt_sigprocmask;
pub mod rt_sigqueueinfo;
pub mod rt_sigreturn;
pub mod rt_sigsuspend;
pub mod rt_sigtimedwait;
pub mod sched_getaffinity;
pub mod sched_setaffinity;
pub mod sched_yield;
pub mod select;
pub mod sendfile;
pub mod set_robust_list;
pub mod set_tid_address;
pub mod setitimer;
pub mod setpgid;
pub mod setsid;
pub mod sigaltstack;
pub mod stat;
pub mod statx;
pub mod symlink;
pub mod symlinkat;
pub mod sync;
pub mod sysinfo;
pub mod tgkill;
pub mod time;
pub mod tkill;
pub mod truncate;
pub mod umask;
pub mod uname;
pub mod unlink;
pub mod unlinkat;
pub mod utimensat;
pub mod vfork;
pub mod wait4;
pub mod waitid;
pub mod write;
pub mod writev;

use crate::{Ctx, Errno};

/// Linux's cap on one read or write (`MAX_RW_COUNT`).
pub const MAX_RW_COUNT: u64 = 0x7fff_f000;

/// Checks that `fd` (an `unsigned int` in Linux) is one of the console's
/// three: until there are files, descriptors 0, 1 and 2 are the console
/// (a terminal) and nothing else is open.
pub fn console_fd(fd: u64) -> Result<(), Errno> {
    if (fd as u32) < 3 {
        Ok(())
    } else {
        Err(Errno::EBADF)
    }
}

/// Writes `[addr, addr + len)` of the program (already checked) to the
/// console, a buffer at a time. The kernel's console takes text: a UTF-8
/// sequence cut by the end of a buffer is carried over to the next one.
pub fn console_out(ctx: &mut Ctx<'_>, addr: u64, len: u64) {
    let mut buf = [0u8; 512];
    let (mut done, mut carried) = (0, 0);
    while done < len {
        let n = (len - done).min((buf.len() - carried) as u64) as usize;
        ctx.native.read(addr + done, &mut buf[carried..carried + n]);
        done += n as u64;
        let filled = carried + n;
        let cut = match core::str::from_utf8(&buf[..filled]) {
            Err(e) if e.error_len().is_none() && done < len => e.valid_up_to(),
            _ => filled,
        };
        ctx.native.console_write(&buf[..cut]);
        buf.copy_within(cut..filled, 0);
        carried = filled - cut;
    }
}

/// The bit of signal `sig` (1..=64) in a signal set.
pub const fn sig_bit(sig: u32) -> u64 {
    1 << (sig - 1)
}

/// Signals no program may catch or block.
pub const UNBLOCKABLE: u64 =
    sig_bit(linux_raw_sys::general::SIGKILL) | sig_bit(linux_raw_sys::general::SIGSTOP);

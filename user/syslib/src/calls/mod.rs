//! The Linux system calls, one file each. Every file has `call(ctx,
//! args)` (the table's handler), its doc saying what of Linux it does and
//! what not yet, and its tests against the mock kernel.

pub mod arch_prctl;
pub mod brk;
pub mod clock_gettime;
pub mod exit;
pub mod exit_group;
pub mod getpid;
pub mod getppid;
pub mod getrandom;
pub mod gettid;
pub mod ioctl;
pub mod madvise;
pub mod mmap;
pub mod mprotect;
pub mod mremap;
pub mod munmap;
pub mod prlimit64;
pub mod read;
pub mod rt_sigaction;
pub mod rt_sigprocmask;
pub mod set_tid_address;
pub mod uname;
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
/// console, a buffer at a time.
pub fn console_out(ctx: &mut Ctx<'_>, addr: u64, len: u64) {
    let mut buf = [0u8; 512];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        ctx.native.read(addr + done, &mut buf[..n]);
        ctx.native.console_write(&buf[..n]);
        done += n as u64;
    }
}

/// The bit of signal `sig` (1..=64) in a signal set.
pub const fn sig_bit(sig: u32) -> u64 {
    1 << (sig - 1)
}

/// Signals no program may catch or block.
pub const UNBLOCKABLE: u64 =
    sig_bit(linux_raw_sys::general::SIGKILL) | sig_bit(linux_raw_sys::general::SIGSTOP);

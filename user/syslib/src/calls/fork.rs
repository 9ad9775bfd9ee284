//! `fork()`: a copy-on-write copy of the process (the kernel's
//! `fork_process`), which starts after the program's `syscall` with 0;
//! the parent gets the child's id. The child inherits the descriptors:
//! before the copy, every file server description gets one more
//! reference (the child's), given back if the fork fails ([`hold_all`],
//! which `vfork` shares). Only through trap reflection (the kernel copies
//! the program's frame from the save area): a fork through the direct
//! branch is not supported yet.

use crate::fd::Fd;
use crate::fs;
use crate::{Ctx, SysResult};
use alloc::vec::Vec;

/// A child's references to the descriptions of the descriptor table:
/// each file-server description is held once more (those the server
/// refuses are left out). What was held, for [`release_all`] if the
/// child is not made after all.
pub fn hold_all(ctx: &mut Ctx<'_>) -> Vec<Fd> {
    let inherited: Vec<Fd> = ctx.st.fds.iter().map(|(_, f)| f.clone()).collect();
    let mut held = Vec::new();
    for f in inherited {
        if fs::hold(ctx, &f).is_ok() {
            held.push(f);
        }
    }
    held
}

/// Gives back what [`hold_all`] held.
pub fn release_all(ctx: &mut Ctx<'_>, held: Vec<Fd>) {
    for f in held {
        fs::release(ctx, f);
    }
}

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    let held = hold_all(ctx);
    let r = ctx.native.fork_process().map(u64::from);
    if r == Ok(0) {
        // The child: its own id; no pending signals or alarm (Linux's
        // rules, `signal::forked`).
        ctx.st.pid = ctx.native.process_id().unwrap_or(ctx.st.pid);
        crate::signal::forked(ctx.st);
        // Only the calling thread lives on in the child (`threads`).
        for id in ctx.st.threads.forked(ctx.st.pid) {
            ctx.native.thread_free(id);
        }
    }
    if r.is_err() {
        release_all(ctx, held);
    }
    r
}

#[cfg(test)]
mod tests {
    use crate::mock::t::{call, err, lib};
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn without_the_kernel_call_fork_is_enosys() {
        let mut l = lib();
        assert_eq!(call(&mut l, g::__NR_fork, &[]), err(Errno::ENOSYS));
    }
}

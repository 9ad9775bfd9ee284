//! `clone(flags, stack, parent_tid, child_tid, tls)`: the `fork` that C
//! libraries make of it (glibc's `fork()` is `clone(CLONE_CHILD_SETTID |
//! CLONE_CHILD_CLEARTID | SIGCHLD, 0, ...)`, which busybox's shell uses to
//! start every command). Only that form: no new stack, and no flags but
//! the exit signal and the thread-id ones, which act as on Linux: the
//! child's id is stored at `child_tid` in the child
//! (`CLONE_CHILD_SETTID`) and at `parent_tid` in the parent
//! (`CLONE_PARENT_SETTID`), and `child_tid` is the child's
//! `set_tid_address` (`CLONE_CHILD_CLEARTID`). Threads (`CLONE_VM`,
//! `CLONE_THREAD`, a stack) are `ENOSYS`: a process has one thread here.

use crate::{Ctx, SysResult};
use linux_raw_sys::general as g;

/// Flags a fork may carry.
const FORK_FLAGS: u64 = g::CSIGNAL as u64
    | g::CLONE_CHILD_SETTID as u64
    | g::CLONE_CHILD_CLEARTID as u64
    | g::CLONE_PARENT_SETTID as u64;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let [flags, stack, parent_tid, child_tid, ..] = a;
    if flags & !FORK_FLAGS != 0 || stack != 0 {
        return Err(crate::Errno::ENOSYS);
    }
    let pid = super::fork::call(ctx, a)?;
    let set = |f: u32| flags & u64::from(f) != 0;
    if pid == 0 {
        if set(g::CLONE_CHILD_SETTID) {
            let me = ctx.st.pid;
            ctx.write_user(child_tid, &me.to_le_bytes())?;
        }
        if set(g::CLONE_CHILD_CLEARTID) {
            ctx.st.clear_child_tid = child_tid;
        }
    } else if set(g::CLONE_PARENT_SETTID) {
        ctx.write_user(parent_tid, &(pid as u32).to_le_bytes())?;
    }
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn threads_and_new_stacks_are_enosys() {
        let mut l = lib();
        let vm = u64::from(g::CLONE_VM | g::CLONE_VFORK | g::SIGCHLD);
        assert_eq!(call(&mut l, g::__NR_clone, &[vm, 0]), err(Errno::ENOSYS));
        let fork = u64::from(g::SIGCHLD);
        assert_eq!(
            call(&mut l, g::__NR_clone, &[fork, 0x7000_0000]),
            err(Errno::ENOSYS)
        );
        // The fork form reaches the kernel's fork (which the mock lacks).
        assert_eq!(call(&mut l, g::__NR_clone, &[fork, 0]), err(Errno::ENOSYS));
    }
}

//! `clone(flags, stack, parent_tid, child_tid, tls)` in the two forms C
//! libraries make of it:
//!
//! - a **thread** (`CLONE_VM | CLONE_THREAD | CLONE_SIGHAND`, what
//!   `pthread_create` passes, with a stack and usually `CLONE_SETTLS`):
//!   a thread of the library ([`crate::threads::spawn`]) that starts
//!   from the caller's frame returning 0 on `stack`, with `tls` as its FS
//!   base;
//! - a **fork** (glibc's `fork()` is `clone(CLONE_CHILD_SETTID |
//!   CLONE_CHILD_CLEARTID | SIGCHLD, 0, ...)`, which busybox's shell uses
//!   to start every command): no new stack, and no flags but the exit
//!   signal and the thread-id ones.
//!
//! The thread-id flags act as on Linux: the new thread's or child's id
//! is stored at `child_tid` in it (`CLONE_CHILD_SETTID`) and at
//! `parent_tid` in the caller (`CLONE_PARENT_SETTID`), and `child_tid`
//! is its `set_tid_address` (`CLONE_CHILD_CLEARTID`). With
//! `CLONE_VFORK` (`CLONE_VM | CLONE_VFORK`, what `posix_spawn` passes)
//! it is a vfork ([`super::vfork::clone`]). Other forms (`CLONE_VM`
//! without `CLONE_THREAD` or `CLONE_VFORK`, a fork with a stack) are
//! `ENOSYS`.

use crate::{Ctx, SysResult};
use linux_raw_sys::general as g;

/// Flags a fork may carry.
const FORK_FLAGS: u64 = g::CSIGNAL as u64
    | g::CLONE_CHILD_SETTID as u64
    | g::CLONE_CHILD_CLEARTID as u64
    | g::CLONE_PARENT_SETTID as u64;

/// What a thread must share.
const THREAD: u64 = (g::CLONE_VM | g::CLONE_THREAD | g::CLONE_SIGHAND) as u64;

/// Flags a thread may carry besides [`THREAD`] (shared anyway: one
/// library holds the files, the working directory and the semaphores).
const THREAD_FLAGS: u64 = THREAD
    | (g::CLONE_FS
        | g::CLONE_FILES
        | g::CLONE_SYSVSEM
        | g::CLONE_SETTLS
        | g::CLONE_PARENT_SETTID
        | g::CLONE_CHILD_SETTID
        | g::CLONE_CHILD_CLEARTID
        | g::CLONE_DETACHED) as u64;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let [flags, stack, parent_tid, child_tid, tls, _] = a;
    if flags & u64::from(g::CLONE_VFORK) != 0 {
        return super::vfork::clone(ctx, a);
    }
    if flags & THREAD == THREAD {
        return thread(ctx, flags, stack, parent_tid, child_tid, tls);
    }
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

/// A thread (see the module docs).
fn thread(
    ctx: &mut Ctx<'_>,
    flags: u64,
    stack: u64,
    parent_tid: u64,
    child_tid: u64,
    tls: u64,
) -> SysResult {
    use crate::{Access, Errno};
    let set = |f: u32| flags & u64::from(f) != 0;
    if flags & !THREAD_FLAGS != 0 || stack == 0 {
        return Err(Errno::EINVAL);
    }
    // The pointers are checked before the thread exists.
    ctx.st
        .mem
        .check(stack.checked_sub(8).ok_or(Errno::EFAULT)?, 8, Access::Write)?;
    for (flag, at) in [
        (g::CLONE_PARENT_SETTID, parent_tid),
        (g::CLONE_CHILD_SETTID, child_tid),
        (g::CLONE_CHILD_CLEARTID, child_tid),
    ] {
        if set(flag) {
            ctx.st.mem.check(at, 4, Access::Write)?;
        }
    }
    let clear = if set(g::CLONE_CHILD_CLEARTID) {
        child_tid
    } else {
        0
    };
    let tls = set(g::CLONE_SETTLS).then_some(tls);
    let tid = crate::threads::spawn(ctx, stack, tls, clear)?;
    for (flag, at) in [
        (g::CLONE_PARENT_SETTID, parent_tid),
        (g::CLONE_CHILD_SETTID, child_tid),
    ] {
        if set(flag) {
            ctx.write_user(at, &tid.to_le_bytes())?;
        }
    }
    Ok(u64::from(tid))
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn a_thread_gets_an_id_and_the_ids_are_stored() {
        let mut l = lib();
        let m = scratch(&mut l, 2);
        // musl's pthread_create.
        let flags = u64::from(
            g::CLONE_VM
                | g::CLONE_FS
                | g::CLONE_FILES
                | g::CLONE_SIGHAND
                | g::CLONE_THREAD
                | g::CLONE_SYSVSEM
                | g::CLONE_SETTLS
                | g::CLONE_PARENT_SETTID
                | g::CLONE_CHILD_CLEARTID
                | g::CLONE_DETACHED,
        );
        let (stack, ptid, ctid, tls) = (m + 0x1000, m + 16, m + 32, m + 64);
        let tid = call(&mut l, g::__NR_clone, &[flags, stack, ptid, ctid, tls]);
        assert!(tid > 0 && tid as u32 != l.state.pid, "{tid}");
        assert_eq!(l.native.peek_u32(ptid), tid as u32);
        assert_eq!(l.native.peek_u32(ctid), 0, "no CLONE_CHILD_SETTID");
        assert_eq!(l.state.threads.count(), 2);
        assert_eq!(l.native.threads_made, [tid as u32]);
        assert_eq!(l.state.clear_child_tid, 0, "the caller's is its own");
        assert_eq!(call(&mut l, g::__NR_gettid, &[]), i64::from(l.state.pid));
        // tkill of the new thread is a signal to the process.
        assert_eq!(call(&mut l, g::__NR_tkill, &[tid as u64, 0]), 0);
        assert_eq!(call(&mut l, g::__NR_tgkill, &[1, tid as u64, 0]), 0);
        assert_eq!(
            call(&mut l, g::__NR_tgkill, &[1, tid as u64 + 1, 0]),
            err(Errno::ESRCH)
        );
        // No stack, a bad stack or a bad id pointer.
        assert_eq!(call(&mut l, g::__NR_clone, &[flags, 0]), err(Errno::EINVAL));
        assert_eq!(
            call(&mut l, g::__NR_clone, &[flags, 0x10, ptid, ctid, tls]),
            err(Errno::EFAULT)
        );
        assert_eq!(
            call(&mut l, g::__NR_clone, &[flags, stack, 0x10, ctid, tls]),
            err(Errno::EFAULT)
        );
        assert_eq!(l.state.threads.count(), 2, "nothing made by a bad clone");
    }

    #[test]
    fn shared_memory_without_a_thread_and_new_stacks_are_enosys() {
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

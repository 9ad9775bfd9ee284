//! `vfork()` and `clone(CLONE_VM | CLONE_VFORK, stack)` (musl's and
//! glibc's `posix_spawn`): a child that runs in the parent's memory, on
//! the parent's stack (`vfork`) or the one it is given (`clone`), while
//! the parent waits until the child execs or ends (the kernel's
//! `vfork_process`, `kernel/src/syscall/vfork.rs`).
//!
//! The child does not start in the library, as a forked child does: the
//! library's memory is shared and the parent is suspended in the middle
//! of this call. The kernel starts it from the program's frame of the
//! reflected call, returning 0 (with the new stack pointer for `clone`).
//! Its own reflected calls then run on this very library, so around the
//! kernel call:
//!
//! - **the state**: the library's [`State`] is the child's meanwhile
//!   ([`child_view`]: a copy of the parent's with the child's identity,
//!   its parent's id, one thread, no pending signals or alarm, no
//!   `clear_child_tid` or robust list, which name the parent's memory);
//!   the kernel writes the child's id into it before the child runs. The
//!   parent's state waits aside and is put back when the call returns,
//!   taking back from the child what is shared ([`give_back`]: the
//!   address-space layout, whatever the child mapped or unmapped; the
//!   file server's doorbell and handle, if the child looked them up),
//!   and the signals sent to it meanwhile are taken from the kernel and
//!   its alarm looked at (the child's library may have cleared their bits
//!   in the dispatcher page they share);
//! - **the descriptors**: the child's are held for it (one more reference
//!   on each file-server description, as for `fork`), which its `exit`
//!   or its `execve` gives back or passes on; if the call fails they are
//!   given back here;
//! - **the entries**: they run on a library stack of the child's own and
//!   find the library free while the parent waits (the executable's
//!   [`Native::vfork_process`](crate::Native::vfork_process)).
//!
//! Linux's other `clone(CLONE_VFORK)` forms (without `CLONE_VM`: a copy
//! the parent waits for; with thread-id or TLS flags) are `ENOSYS`.
//!
//! **Not like Linux**: the parent's other threads (the library's,
//! `threads`) wait too, since the whole dispatcher is suspended; a signal
//! sent to the parent meanwhile is handled once it resumes (Linux's
//! vfork parent is not interruptible either).

use crate::abi::frame::{RAX, WORDS};
use crate::signal::RSP;
use crate::{Ctx, Errno, State, SysResult};
use linux_raw_sys::general as g;

/// The kernel's `vfork_process(frame, pid_at, tid_at)`: native number
/// `sched::native::nr::COUNT + 28`.
pub const VFORK_PROCESS: u64 = crate::abi::NATIVE | (12 + 28);

/// The flags of the `clone` form served here (the exit signal may be
/// any).
const FLAGS: u64 = g::CSIGNAL as u64 | g::CLONE_VM as u64 | g::CLONE_VFORK as u64;

/// The handler of `vfork`.
pub fn call(ctx: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    spawn(ctx, None)
}

/// `clone(flags, stack, ...)` with `CLONE_VFORK` in `flags` (from
/// `calls::clone`).
pub fn clone(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let [flags, stack, ..] = a;
    if flags & !FLAGS != 0 || flags & u64::from(g::CLONE_VM) == 0 {
        return Err(Errno::ENOSYS);
    }
    spawn(ctx, (stack != 0).then_some(stack))
}

/// Starts the child from the program's frame, on `stack` if given;
/// returns its id once it exec'd or ended.
fn spawn(ctx: &mut Ctx<'_>, stack: Option<u64>) -> SysResult {
    let mut start: [u64; WORDS] = ctx.st.sig.frame;
    start[RAX] = 0;
    if let Some(sp) = stack {
        start[RSP] = sp;
    }
    let held = super::fork::hold_all(ctx);
    let child = child_view(ctx.st);
    let parent = core::mem::replace(ctx.st, child);
    // The kernel writes the child's id here (shared memory) before the
    // child runs. Their addresses reach the kernel, so the compiler
    // assumes the call may change the state.
    let ids = [
        core::ptr::addr_of_mut!(ctx.st.pid) as u64,
        core::ptr::addr_of_mut!(ctx.st.threads.current) as u64,
    ];
    let r = ctx.native.vfork_process(&start, ids);
    let child = core::mem::replace(ctx.st, core::hint::black_box(parent));
    give_back(ctx.st, child);
    // Signals sent to the parent meanwhile, and its alarm: the child's
    // library may have taken their soft-interrupt bits off the page they
    // share.
    crate::signal::take(ctx);
    crate::signal::alarm_check(ctx);
    if r.is_err() {
        super::fork::release_all(ctx, held);
    }
    r.map(u64::from)
}

/// The child's state, from the parent's: a copy, with the child's
/// identity to be written in by the kernel (0 until then).
pub fn child_view(parent: &State) -> State {
    let mut c = parent.clone();
    c.ppid = parent.pid;
    c.pid = 0;
    c.threads = crate::threads::Threads::new(0);
    c.clear_child_tid = 0;
    c.robust_list = 0;
    c.exit = None;
    crate::signal::forked(&mut c);
    c
}

/// The parent's state `st` back after its vfork child `child` exec'd or
/// ended: what the child changed of the shared memory stays so.
pub fn give_back(st: &mut State, child: State) {
    st.mem = child.mem;
    if st.doorbell == crate::pipe::Doorbell::Unknown {
        st.doorbell = child.doorbell;
    }
    if st.fs_server.is_none() {
        st.fs_server = child.fs_server;
    }
}

#[cfg(test)]
mod tests {
    use crate::mock::t::{call, err, lib};
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn the_child_view_is_a_new_process_of_one_thread() {
        let mut l = lib();
        l.state.pid = 5;
        l.state.clear_child_tid = 0x1000;
        l.state.blocked = 1 << 9;
        l.state.sig.alarm_at = 77;
        let c = super::child_view(&l.state);
        assert_eq!((c.pid, c.ppid, c.threads.current), (0, 5, 0));
        assert!(c.threads.single());
        assert_eq!((c.clear_child_tid, c.robust_list), (0, 0));
        assert_eq!(c.blocked, 1 << 9, "the signal mask is inherited");
        assert_eq!(c.sig.alarm_at, 0, "no alarm");
        assert_eq!(c.cwd, l.state.cwd);
        assert_eq!(c.fds.iter().count(), l.state.fds.iter().count());
    }

    #[test]
    fn the_parent_takes_back_what_the_child_changed_of_the_shared_space() {
        let mut l = lib();
        let mut c = super::child_view(&l.state);
        c.mem.brk += 0x5000;
        c.doorbell = crate::pipe::Doorbell::Mapped(0x7000_0000);
        c.cwd = "/elsewhere".into();
        c.umask = 0o777;
        let brk = c.mem.brk;
        super::give_back(&mut l.state, c);
        assert_eq!(l.state.mem.brk, brk, "the layout is the child's");
        assert_eq!(l.state.doorbell, crate::pipe::Doorbell::Mapped(0x7000_0000));
        assert_eq!(
            (l.state.cwd.as_str(), l.state.umask),
            ("/", 0o022),
            "not its own"
        );
    }

    #[test]
    fn without_the_kernel_call_the_parent_keeps_its_state() {
        let mut l = lib();
        l.state.pid = 5;
        let fds = l.state.fds.iter().count();
        assert_eq!(call(&mut l, g::__NR_vfork, &[]), err(Errno::ENOSYS));
        let spawn = u64::from(g::CLONE_VM | g::CLONE_VFORK | g::SIGCHLD);
        assert_eq!(
            call(&mut l, g::__NR_clone, &[spawn, 0x7000_0000]),
            err(Errno::ENOSYS)
        );
        assert_eq!((l.state.pid, l.state.ppid), (5, 0));
        assert_eq!(l.state.threads.current, 1, "the mock's first thread");
        assert_eq!(l.state.fds.iter().count(), fds);
    }

    #[test]
    fn other_vfork_forms_are_enosys() {
        let mut l = lib();
        let copy = u64::from(g::CLONE_VFORK | g::SIGCHLD);
        assert_eq!(call(&mut l, g::__NR_clone, &[copy, 0]), err(Errno::ENOSYS));
        let settid = u64::from(g::CLONE_VM | g::CLONE_VFORK | g::CLONE_PARENT_SETTID);
        assert_eq!(
            call(&mut l, g::__NR_clone, &[settid, 0]),
            err(Errno::ENOSYS)
        );
    }
}

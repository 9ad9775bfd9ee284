//! `vfork_process(frame, pid_at, tid_at)`: a child in the caller's own
//! address space, the caller suspended until the child execs or ends (Linux's
//! `vfork()` and `clone(CLONE_VM | CLONE_VFORK)`, musl's `posix_spawn`).
//!
//! Unlike [`fork_process`](super::fork), the child does not start inside
//! the system library: the library's stack and state are memory the
//! child shares, and the parent's library is suspended in the middle of
//! them. So the library hands the kernel the frame the child starts
//! from: `frame` points at 22 words in the layout of the dispatcher
//! page's save area (`reflect::frame_bytes`), normally the program's
//! frame of the reflected call with `rax` = 0 (and, for `clone`, the new
//! stack pointer). The child gets the caller's FS/GS bases and FPU state,
//! its entry points, its process group and session; its id is written
//! (u32) at `pid_at` and at `tid_at` (each unless 0) before it runs, so
//! the library's view of the child knows it (its process id and its
//! thread's).
//!
//! The call returns the child's id once the child has exec'd (its
//! process then has a space of its own) or ended (its zombie is there
//! for `wait_child`), or an error at once (`EFAULT`: `frame` unreadable,
//! `pid_at` or `tid_at` unwritable; `EAGAIN`/`ENOMEM`: no dispatcher;
//! `ESRCH`: the caller is being killed). Meanwhile the caller's
//! dispatcher is blocked and nothing but that wakes it: a soft interrupt
//! (a signal, a message) waits in its wake-up token, and the run loop
//! blocks it again ([`may_run`]); `SIGKILL` still ends it.
//!
//! **The dispatcher pages.** They are part of the shared space, one per
//! processor, so the child uses the same page as the suspended parent on
//! the same processor. The parent was inside its library (the page
//! *disabled*); the child starts in the program, so the call enables the
//! page, and the parent's value (disabled or not) is written back on the
//! page of the processor it resumes on before it runs again. The page's
//! save area is the child's meanwhile: the library keeps the parent's
//! frame in its own state, not in the page.
//!
//! **The state word** ([`Dispatcher::vfork`](crate::dispatch::Dispatcher)):
//! [`WAITING`] while the child runs, [`RELEASED`] once the child let it
//! go, with the parent's saved `DISABLED` word in the low bit; 0 when it
//! runs normally. [`release`] (called by `dispatch::exec` and
//! `dispatch::finish`) sets it and raises [`SOFT_VFORK`], the kernel's own
//! soft-interrupt bit, which makes the wake-up stick even if the parent
//! has not blocked yet.

use super::{Context, Errno, SyscallResult};
use crate::arch::uaccess::{copy_from_user, copy_to_user};
use crate::arch::usermode::{self, UserContext};
use crate::dispatch::{self, CreateError, Dispatcher, Process};
use crate::mm::user::Space;
use crate::ppc;
use core::sync::atomic::Ordering;

/// The kernel's soft-interrupt bit of a vfork child's release (never in
/// the dispatcher page: the run loop clears it before the dispatcher
/// runs).
pub const SOFT_VFORK: u64 = 1 << 62;

/// The parent waits for its child.
pub const WAITING: u64 = 1 << 63;
/// The child let the parent go; it may run.
pub const RELEASED: u64 = 1 << 62;
/// The parent's dispatcher-page `DISABLED` word (0 or 1) at the call.
const WAS_DISABLED: u64 = 1;

const FRAME_BYTES: usize = core::mem::size_of::<crate::arch::trap::TrapFrame>();

/// `vfork_process(frame, pid_at, tid_at)`.
pub fn sys_vfork_process(cx: &mut Context<'_>) -> SyscallResult {
    let [frame_at, pid_at, tid_at, ..] = cx.args;
    let d = dispatch::current().ok_or(Errno::Einval)?;
    let cpu = crate::arch::percpu::current_id();
    let mut bytes = [0u8; FRAME_BYTES];
    copy_from_user(&mut bytes, frame_at)?;
    let mut ctx = UserContext::new(0, 0);
    ctx.frame = super::reflect::frame_from_bytes(&bytes);
    if !usermode::sanitize(&mut ctx.frame) {
        return Err(Errno::Efault);
    }
    ctx.fs_base = x86_64::registers::model_specific::FsBase::read().as_u64();
    ctx.gs_base = x86_64::registers::model_specific::KernelGsBase::read().as_u64();
    usermode::save_fpu(&mut ctx.fpu);
    let space = d.process.space().ok_or(Errno::Esrch)?;
    let disabled_at = ppc::page_of(cpu) + ppc::page::DISABLED;
    let was = u64::from(ppc::read_word(&space, disabled_at)? != 0);
    let pid = dispatch::alloc_pid();
    for at in [pid_at, tid_at] {
        if at != 0 {
            copy_to_user(at, &pid.to_le_bytes())?;
        }
    }
    let p = &d.process;
    // Refused while the caller is being killed.
    let child = dispatch::new_child_sharing(pid, p).ok_or(Errno::Esrch)?;
    child.inherit_entry_points(p);
    d.vfork.store(WAITING | was, Ordering::SeqCst);
    child
        .vfork_parent
        .store(d.id.to_raw() + 1, Ordering::SeqCst);
    let made = ppc::write_word(&space, disabled_at, 0).and_then(|()| {
        let (_, info) = dispatch::smp().info(d.id).map_err(|_| Errno::Esrch)?;
        dispatch::create(&child, ctx, cpu, info.params).map_err(|e| match e {
            CreateError::Dying => Errno::Esrch,
            CreateError::Sched(sched::Error::TooManyDispatchers) => Errno::Eagain,
            _ => Errno::Enomem,
        })
    });
    if let Err(e) = made {
        child.vfork_parent.store(0, Ordering::SeqCst);
        d.vfork.store(0, Ordering::SeqCst);
        let _ = ppc::write_word(&space, disabled_at, was);
        dispatch::discard(&child);
        return Err(e);
    }
    // The child may already have let it go (on another processor): then
    // `SOFT_VFORK` is pending and the block does not hold.
    dispatch::user_suspend();
    Ok(u64::from(pid))
}

/// `p` (a vfork child) exec'd or ended: its parent, if it waits for it,
/// may run again.
pub fn release(p: &Process) {
    let raw = p.vfork_parent.swap(0, Ordering::SeqCst);
    if raw == 0 {
        return;
    }
    let Some(parent) = dispatch::get(sched::DispatcherId::from_raw(raw - 1)) else {
        return;
    };
    let state = parent.vfork.load(Ordering::SeqCst);
    if state & WAITING != 0 {
        parent
            .vfork
            .store(RELEASED | (state & WAS_DISABLED), Ordering::SeqCst);
        dispatch::signal(&parent, SOFT_VFORK);
    }
}

/// Whether `d` still waits for its vfork child.
pub fn waiting(d: &Dispatcher) -> bool {
    d.vfork.load(Ordering::SeqCst) & WAITING != 0
}

/// Called by the run loop before `d` enters user mode on `cpu`: false
/// while it waits for its vfork child (the loop blocks it again); once
/// released, its dispatcher page's `DISABLED` word is given back and it
/// runs.
pub fn may_run(d: &Dispatcher, space: &Space, cpu: usize) -> bool {
    let state = d.vfork.load(Ordering::SeqCst);
    if state == 0 {
        return true;
    }
    if state & WAITING != 0 {
        return false;
    }
    let _ = ppc::write_word(
        space,
        ppc::page_of(cpu) + ppc::page::DISABLED,
        state & WAS_DISABLED,
    );
    d.vfork.store(0, Ordering::SeqCst);
    true
}

ktest::ktest! {
    /// vfork in a native program (`native-tests vfork`): the child runs
    /// on its own stack in the parent's memory, and the parent, suspended,
    /// sees its stores when the call returns; the child's exit status
    /// reaches `wait_child`; a child that execs lets the parent go and
    /// keeps its id; a bad frame is EFAULT and makes no child. Afterwards
    /// no frame or page table is left behind.
    fn vfork_child_shares_memory_and_the_parent_waits() {
        let base = crate::mm::user::usage();
        let pid = dispatch::alloc_pid();
        crate::process::capture();
        let d = ppc::start(pid, crate::arch::percpu::current_id(), "vfork", "");
        dispatch::run_loop(&|| d.status().is_some());
        let out = crate::process::take_captured();
        assert_eq!(d.status(), Some(0), "{out}");
        assert!(out.contains("vfork: parent saw 2 after the child's exit, status 7"), "{out}");
        assert!(out.contains("vfork: exec'd child status 9"), "{out}");
        assert!(out.contains("vfork: bad frame -14"), "{out}");
        drop(d);
        assert_eq!(crate::mm::user::usage_back_to(base), base, "nothing left behind");
    }
}

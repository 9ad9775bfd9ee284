//! `fork_process()` and `wait_child(pid)`: processes for the Linux
//! personality.
//!
//! `fork_process`, made by the system library while it handles a
//! reflected `fork`, copies the calling process: its address space
//! copy-on-write (`mm`'s fork), its entry points, and one dispatcher on
//! the least loaded processor (`dispatch::least_loaded`: this one on a
//! tie) that continues from this very call with `rax` = 0, the
//! current FPU state and FS/GS bases. It returns the child's id.
//!
//! `wait_child(pid, options)` (`pid` 0: any child, negative: any child in
//! process group `-pid`; `options` `WUNTRACED`/`WCONTINUED`: stops and
//! continuations too, `dispatch::wait_child`) returns `status << 32 | pid` of
//! an ended child, `-EAGAIN` while the children still run (the caller
//! blocks; a child's end raises [`SOFT_CHILD`](crate::dispatch::SOFT_CHILD)
//! in the parent), `-ECHILD` if there is none.

use super::{Context, Errno, SyscallResult};
use crate::arch::usermode::UserContext;
use crate::dispatch::{self, CreateError, WaitError};
use alloc::sync::Arc;

/// `fork_process()`: the child starts as a copy of the caller's frame
/// ([`Context::frame`]) at this very call, returning 0 (the system
/// library then finishes the reflected `fork` in the child as in the
/// parent, so its own state, such as "a call is in progress", stays
/// consistent).
pub fn sys_fork_process(cx: &mut Context<'_>) -> SyscallResult {
    let d = dispatch::current().ok_or(Errno::Einval)?;
    let here = crate::arch::percpu::current_id();
    // The child's processor: the least loaded one (this one on a tie, or
    // while only this one serves dispatchers), so that forked processes
    // spread over the machine.
    let cpu = dispatch::least_loaded(here);
    let space = d.process.space().ok_or(Errno::Esrch)?;
    let hat = Arc::new(x86_hat::X86Hat::new(&crate::mm::user::TABLES).map_err(|_| Errno::Enomem)?);
    let child_space = space
        .fork(hat, crate::mm::user::process_upcalls())
        .map_err(|_| Errno::Enomem)?;
    if let Err(e) = child_page(&space, &child_space, here, cpu) {
        // (A library that unmapped its dispatcher page.) Nothing is kept.
        if child_space.destroy().is_err() {
            log::warn!("fork_process: the child's address space could not be torn down");
        }
        return Err(e);
    }
    let mut ctx = UserContext::new(0, 0);
    ctx.frame = *cx.frame;
    ctx.frame.rax = 0;
    ctx.fs_base = x86_64::registers::model_specific::FsBase::read().as_u64();
    ctx.gs_base = x86_64::registers::model_specific::KernelGsBase::read().as_u64();
    crate::arch::usermode::save_fpu(&mut ctx.fpu);
    let pid = dispatch::alloc_pid();
    let p = &d.process;
    // Refused while the caller is being killed.
    let child = dispatch::new_child(child_space, pid, p).ok_or(Errno::Esrch)?;
    child.inherit_entry_points(p);
    let made = dispatch::smp()
        .info(d.id)
        .map_err(|_| Errno::Esrch)
        .and_then(|(_, i)| {
            dispatch::create(&child, ctx, cpu, i.params).map_err(|e| match e {
                CreateError::Dying => Errno::Esrch,
                CreateError::Sched(sched::Error::TooManyDispatchers) => Errno::Eagain,
                _ => Errno::Enomem,
            })
        });
    if let Err(e) = made {
        dispatch::discard(&child);
        return Err(e);
    }
    if cpu != here {
        // Out of `hlt`, so its run loop picks the child.
        crate::ipi::run_on(cpu, &|| {});
    }
    Ok(u64::from(pid))
}

/// Sets up the child's dispatcher page on `cpu`, its processor: in the
/// copy it has whatever the parent's page for that processor held (the
/// parent's own page when `cpu` is `here`, else most likely nothing, or a
/// page of an ancestor). The child goes on from the parent's call, so it
/// is disabled if the parent is (a system library mid-call: no upcall may
/// take the library's stack from under it); it has no soft interrupts and
/// no messages yet (those were the parent's).
fn child_page(
    parent: &crate::mm::user::Space,
    child: &crate::mm::user::Space,
    here: usize,
    cpu: usize,
) -> Result<(), Errno> {
    use crate::ppc::{page, page_of, read_word, write_word};
    let disabled = read_word(parent, page_of(here) + page::DISABLED)?;
    let words = [
        (page::SOFT_BITS, 0),
        (page::HEAD, 0),
        (page::TAIL, 0),
        (page::DISABLED, disabled),
    ];
    for (at, value) in words {
        write_word(child, page_of(cpu) + at, value)?;
    }
    Ok(())
}

/// The handler of `wait_child(pid)`.
pub fn sys_wait_child(cx: &mut Context<'_>) -> SyscallResult {
    let a = &cx.args;
    let d = dispatch::current().ok_or(Errno::Einval)?;
    match dispatch::wait_child(d.process.pid, a[0] as i64, a[1]) {
        Ok((pid, status)) => Ok((status << 32) | u64::from(pid)),
        Err(WaitError::Running) => Err(Errno::Eagain),
        Err(WaitError::NoChild) => Err(Errno::Echild),
    }
}

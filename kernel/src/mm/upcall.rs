//! Out-of-core page faults of user processes: K42's *page-fault upcall*
//! and its completion (paper §4 and §7.1, notes §4 last bullet and §6).
//!
//! A fault the memory objects can resolve from memory is resolved in the
//! kernel (`super::user::page_fault`). A fault that needs I/O (an FCM
//! reading a file page through its file server) is answered by `mm` with
//! `Resolved::Pending(io)`, and the kernel never blocks a thread for it:
//!
//! 1. **Pending.** [`Upcalls`], the `mm::Dispatcher` of every process's
//!    address space, records which dispatcher waits for I/O `io`
//!    (`page_fault_pending`, called by the fault path on the faulting
//!    processor). The #PF handler then calls [`user_fault`]:
//!    - if the process registered a *page-fault entry*
//!      (`set_entry_point(3, entry)`, `sched::native::EntryPoint::PageFault`)
//!      and its dispatcher page is not disabled, the interrupted frame goes
//!      to the page's save area, the disabled flag is set, and the
//!      dispatcher continues at `entry(save_area, io, address)` (`rdi`,
//!      `rsi`, `rdx`), like the other upcalls (`crate::dispatch`). Its
//!      thread library parks the faulting thread on `io`, clears the flag
//!      and runs another thread;
//!    - otherwise (no entry, or the fault hit while the dispatcher was
//!      disabled, e.g. inside its own scheduler) the *dispatcher* waits in
//!      the kernel: it leaves the processor, the run loop keeps it blocked
//!      ([`may_run`]) until the I/O completes, and then it retries the
//!      access. Its other dispatchers (other processors) run on.
//! 2. **Done.** Whoever completes the I/O, on any processor, makes `mm`
//!    call `page_fault_done` ([`Upcalls`]): a dispatcher waiting in the
//!    kernel is woken; for one that took the upcall the completion
//!    `(io, result)` is queued for it and the soft interrupt
//!    [`SOFT_PFAULT`] is raised (its dispatcher page and wake-up token,
//!    `crate::ppc::raise_on_home`). Its library takes the completions with
//!    the native call `pfault_take(buf, max)` (`crate::syscall`, file
//!    `pfault_take.rs`), readies the parked threads, and each retries its
//!    access with `resume(save_area)`.
//!
//! A failed read completes with `-EIO`: a thread library decides what the
//! thread sees; a dispatcher waiting in the kernel is stopped with
//! `128 + SIGBUS`.
//!
//! **Lifetime.** Everything here is keyed by dispatcher (its raw id):
//! [`forget`] drops a dispatcher's waits and untaken completions when it
//! ends (`dispatch::finish`), so a process killed with I/O outstanding
//! leaves nothing; a completion arriving later finds no waiter and is
//! dropped. The page being read belongs to the file's FCM, not to the
//! process, and stays in the file cache. Per dispatcher at most
//! [`MAX_DONE`] completions wait to be taken (the oldest go first).
//!
//! Trace events: `pagefault::upcall` (the upcall or the kernel wait),
//! `pagefault::done` (a completion reaching a dispatcher).
//!
//! Not yet: a *kernel* access to a user page that needs I/O (a system
//! call's `copy_from_user`) is not waited for: it fails with `EFAULT`
//! (the waiter recorded for it is dropped, [`abandon`]).

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use ::mm::{IoId, MmError};
use sched::DispatcherId;

use crate::arch::trap::TrapFrame;
use crate::dispatch::{self, Dispatcher};
use crate::sync::IrqMutex;

/// Soft-interrupt bit: page-fault completions wait to be taken
/// (`pfault_take`).
pub const SOFT_PFAULT: u64 = 16;

/// Completions kept per dispatcher until taken.
pub const MAX_DONE: usize = 256;

/// How a dispatcher waiting in the kernel stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KernelWait {
    /// For this I/O.
    On(u64),
    /// The I/O completed with this result (0, or a negated errno).
    Done(i64),
}

struct State {
    /// I/O in flight → the dispatchers (raw ids) whose faults wait for it.
    waiting: BTreeMap<u64, Vec<u64>>,
    /// Dispatchers waiting in the kernel (raw id).
    kernel: BTreeMap<u64, KernelWait>,
    /// Completions not yet taken, per dispatcher (raw id): (io, result).
    done: BTreeMap<u64, VecDeque<(u64, i64)>>,
}

static STATE: IrqMutex<State> = IrqMutex::new(State {
    waiting: BTreeMap::new(),
    kernel: BTreeMap::new(),
    done: BTreeMap::new(),
});

/// Dispatchers waiting in the kernel (a lock-free fast path for
/// [`may_run`], which the run loop asks at every dispatch).
static KERNEL_WAITERS: AtomicUsize = AtomicUsize::new(0);

/// The `mm::Dispatcher` of every process's address space: it routes
/// "page fault pending" and "done" to the dispatcher that faulted
/// (outside a dispatcher, e.g. a kernel test's own accesses, nothing is
/// recorded and the fault simply fails as pending).
pub struct Upcalls;

impl ::mm::Dispatcher for Upcalls {
    fn page_fault_pending(&self, io: IoId, _va: u64) {
        let Some(d) = dispatch::current() else {
            return;
        };
        let raw = d.id.to_raw();
        let mut s = STATE.lock();
        let w = s.waiting.entry(io.0).or_default();
        if !w.contains(&raw) {
            w.push(raw);
        }
    }

    fn page_fault_done(&self, io: IoId, result: Result<(), MmError>) {
        complete(
            io.0,
            result.map_err(|e| -i64::from(e.errno())).err().unwrap_or(0),
        );
    }
}

/// I/O `io` completed with `result` (0 or a negated errno): its waiters
/// learn it.
fn complete(io: u64, result: i64) {
    let mut wake = Vec::new();
    {
        let mut s = STATE.lock();
        let Some(waiters) = s.waiting.remove(&io) else {
            return;
        };
        for raw in waiters {
            let in_kernel = s.kernel.get(&raw) == Some(&KernelWait::On(io));
            if in_kernel {
                s.kernel.insert(raw, KernelWait::Done(result));
            } else {
                let q = s.done.entry(raw).or_default();
                if q.len() == MAX_DONE {
                    q.pop_front();
                }
                q.push_back((io, result));
            }
            wake.push((raw, in_kernel));
        }
    }
    let t = &crate::trace::TRACER;
    for (raw, in_kernel) in wake {
        let Some(d) = dispatch::get(DispatcherId::from_raw(raw)) else {
            continue;
        };
        ktrace::events::pagefault::done(t, io, raw, result);
        if in_kernel {
            // The wake-up token only (not its page: no completion to
            // take); a bit, so that a wake-up racing with its leaving the
            // processor is not lost (the run loop wakes a dispatcher that
            // blocks with bits pending).
            dispatch::signal(&d, SOFT_PFAULT);
        } else {
            crate::ppc::raise_on_home(&d, SOFT_PFAULT);
        }
    }
}

/// The #PF handler's part for a user-mode fault that waits for I/O `io`
/// at `va`: the page-fault upcall if the process has the entry and its
/// dispatcher is enabled (`frame` now enters it), else the dispatcher
/// waits in the kernel and retries `frame` afterwards. False: not a
/// dispatcher's fault (the caller stops the program).
pub fn user_fault(frame: &mut TrapFrame, io: IoId, va: u64) -> bool {
    let Some(d) = dispatch::current() else {
        return false;
    };
    let raw = d.id.to_raw();
    let t = &crate::trace::TRACER;
    let entry = d.process.pfault_entry.load(Ordering::Acquire);
    if entry != 0 && deliver(frame, entry, io.0, va) {
        ktrace::events::pagefault::upcall(t, va, io.0, raw, true);
        return true;
    }
    {
        let mut s = STATE.lock();
        let recorded = s.waiting.get(&io.0).is_some_and(|w| w.contains(&raw));
        if !recorded {
            // Completed since the fault path recorded it: the page is
            // in; the completion queued for an upcall is not wanted.
            if let Some(q) = s.done.get_mut(&raw) {
                q.retain(|(i, _)| *i != io.0);
            }
            return true;
        }
        if s.kernel.insert(raw, KernelWait::On(io.0)).is_none() {
            KERNEL_WAITERS.fetch_add(1, Ordering::SeqCst);
        }
    }
    ktrace::events::pagefault::upcall(t, va, io.0, raw, false);
    // Off the processor when this handler returns; `frame` (the faulting
    // access) is where it continues.
    dispatch::user_suspend();
    true
}

/// Enters the page-fault entry `entry` with `frame`
/// saved in the dispatcher page (as `dispatch::user_trap` does); false if
/// the dispatcher is disabled or its page cannot be written.
fn deliver(frame: &mut TrapFrame, entry: u64, io: u64, va: u64) -> bool {
    if !crate::syscall::reflect::upcall(frame, entry) {
        return false;
    }
    frame.rsi = io;
    frame.rdx = va;
    crate::arch::usermode::sanitize(frame)
}

/// A kernel access to user memory (not the program's own) met I/O `io`:
/// it fails with `EFAULT`, and the running dispatcher no longer waits for
/// that I/O.
pub fn abandon(io: IoId) {
    let Some(d) = dispatch::current() else {
        return;
    };
    let raw = d.id.to_raw();
    let mut s = STATE.lock();
    if let Some(w) = s.waiting.get_mut(&io.0) {
        w.retain(|r| *r != raw);
        if w.is_empty() {
            s.waiting.remove(&io.0);
        }
    }
}

/// What the run loop does with a dispatcher it picked.
#[derive(Debug, PartialEq, Eq)]
pub enum Run {
    /// Run it.
    Yes,
    /// It waits in the kernel for page I/O: block it.
    Wait,
    /// The I/O it waited for failed: stop it with this status.
    Stop(u64),
}

/// Whether the run loop may run `d` (a dispatcher waiting in the kernel
/// for page I/O may not, until the I/O completes).
pub fn may_run(d: &Dispatcher) -> Run {
    if KERNEL_WAITERS.load(Ordering::SeqCst) == 0 {
        return Run::Yes;
    }
    let raw = d.id.to_raw();
    let mut s = STATE.lock();
    match s.kernel.get(&raw).copied() {
        None => Run::Yes,
        Some(KernelWait::On(_)) => Run::Wait,
        Some(KernelWait::Done(r)) => {
            s.kernel.remove(&raw);
            KERNEL_WAITERS.fetch_sub(1, Ordering::SeqCst);
            if r == 0 {
                Run::Yes
            } else {
                Run::Stop(128 + 7) // SIGBUS
            }
        }
    }
}

/// Whether `d` still waits in the kernel for page I/O (not consuming a
/// completion, unlike [`may_run`]).
pub fn waits(d: &Dispatcher) -> bool {
    KERNEL_WAITERS.load(Ordering::SeqCst) != 0
        && matches!(
            STATE.lock().kernel.get(&d.id.to_raw()),
            Some(KernelWait::On(_))
        )
}

/// Takes up to `max` completions queued for `d` (oldest first).
pub fn take(d: &Dispatcher, max: usize) -> Vec<(u64, i64)> {
    let raw = d.id.to_raw();
    let mut s = STATE.lock();
    let Some(q) = s.done.get_mut(&raw) else {
        return Vec::new();
    };
    let n = max.min(q.len());
    let out: Vec<(u64, i64)> = q.drain(..n).collect();
    if q.is_empty() {
        s.done.remove(&raw);
    }
    out
}

/// Dispatcher `raw` ended: its waits and untaken completions go.
pub fn forget(raw: u64) {
    let mut s = STATE.lock();
    s.waiting.retain(|_, w| {
        w.retain(|r| *r != raw);
        !w.is_empty()
    });
    if s.kernel.remove(&raw).is_some() {
        KERNEL_WAITERS.fetch_sub(1, Ordering::SeqCst);
    }
    s.done.remove(&raw);
}

/// Entries held for dispatchers: (I/O waited for, dispatchers waiting in
/// the kernel, untaken completions) (tests: nothing left behind).
pub fn outstanding() -> (usize, usize, usize) {
    let s = STATE.lock();
    (
        s.waiting.values().map(Vec::len).sum(),
        s.kernel.len(),
        s.done.values().map(VecDeque::len).sum(),
    )
}

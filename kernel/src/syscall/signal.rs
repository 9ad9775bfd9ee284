//! `signal_send(pid, sig, code, value)` and `signal_take(buf, max)`: the
//! kernel's part of Linux signals (issue 9).
//!
//! K42 keeps signals where Linux keeps them in the kernel: in the user-
//! level system library of each process (paper §10, notes §10): the
//! actions, the mask, the handler frames, default actions are the
//! library's (`user/syslib/src/signal.rs`). The kernel only carries the
//! notification between processes, as it carries any soft interrupt:
//!
//! - `signal_send` queues `(sig, code, sender, value)` in the target's
//!   [`Pending`] set and raises [`SOFT_SIGNAL`] in its dispatchers (the
//!   bit in the dispatcher page and the wake-up token: a blocked
//!   dispatcher wakes, a blocking call such as `futex_wait` returns
//!   `EINTR`, a program running in user mode gets an interrupt upcall).
//!   `pid` > 0: that process; 0: the caller's process group; -1: every
//!   Linux process but the caller; < -1: the group `-pid`. A signal 0 only
//!   probes. An ended process not yet collected (a zombie) takes any
//!   signal and ignores it. Only Linux processes (those with a system
//!   library) receive signals: anyone else is `EPERM`. Everybody is root,
//!   so there is no other permission check.
//! - Standard signals (1..31) do not queue: a second while one is pending
//!   is merged. Real-time ones (32..64) queue, up to [`MAX_QUEUED`]
//!   (`EAGAIN` beyond).
//! - **SIGKILL** is the kernel's own: it ends the process at once
//!   ([`dispatch::kill_one`]), whatever the library would do; its status
//!   is 128 + 9, "killed by signal 9". SIGSTOP and SIGCONT are left to the
//!   library (which has no stopped state yet: see its docs).
//! - `signal_take(buf, max)` moves up to `max` queued signals of the
//!   caller's process, oldest first, into `buf`: four words each
//!   (signal, `sender | code << 32`, value, 0); how many.
//!
//! **Termination status.** A process a signal ended exits with status
//! 128 + the signal (the library's default actions, the kernel's
//! SIGKILL, an unhandled exception); the parent's `wait4` reports
//! `WIFSIGNALED` for 129..=192 (so `exit(130)` looks like SIGINT: one
//! encoding for both, as with the kernel's earlier fault status).

use super::{Context, Errno, SyscallResult};
use crate::arch::uaccess::copy_to_user;
use crate::dispatch::{self, Process};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::Ordering;

/// Soft-interrupt bit: a signal is pending ([`signal_take`] it).
pub const SOFT_SIGNAL: u64 = 8;
/// `SIGKILL`.
pub const SIGKILL: u32 = 9;
/// `SIGCHLD`.
pub const SIGCHLD: u32 = 17;
/// `SIGCONT`.
pub const SIGCONT: u32 = 18;
/// `si_code` of a `SIGCHLD`: the child stopped.
pub const CLD_STOPPED: i32 = 5;
/// `si_code` of a `SIGCHLD`: the child continued.
pub const CLD_CONTINUED: i32 = 6;
/// Most signals queued for one process.
pub const MAX_QUEUED: usize = 128;
/// Signal numbers go up to this.
pub const NSIG: u64 = 64;

/// One queued signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Queued {
    /// Its number.
    pub sig: u32,
    /// `si_code` (`SI_USER`, `SI_TKILL`, `SI_QUEUE`, `CLD_EXITED`, ...).
    pub code: i32,
    /// The sender's pid (the child's, for `SIGCHLD`).
    pub pid: u32,
    /// `si_value` (`sigqueue`), or the child's status for `SIGCHLD`.
    pub value: u64,
}

/// The signals sent to a process and not taken yet by its library.
pub struct Pending {
    queue: VecDeque<Queued>,
}

impl Pending {
    /// None.
    pub const fn new() -> Self {
        Pending {
            queue: VecDeque::new(),
        }
    }

    /// Adds `q` (merged with a pending standard signal of its number).
    fn push(&mut self, q: Queued) -> Result<(), Errno> {
        if q.sig < 32 && self.queue.iter().any(|p| p.sig == q.sig) {
            return Ok(());
        }
        if self.queue.len() >= MAX_QUEUED {
            return Err(Errno::Eagain);
        }
        self.queue.push_back(q);
        Ok(())
    }
}

impl Default for Pending {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `p` can receive signals: a Linux process (its system library
/// registered the system-call entry, or the library forked it: only it
/// forks, so this holds while a forked process execs, between the old
/// library and the new one, which takes the queue when it starts).
pub fn signalable(p: &Process) -> bool {
    p.syscall_entry.load(Ordering::Acquire) != 0 || p.parent.load(Ordering::Relaxed) != 0
}

/// Queues `q` for `p` and tells its dispatchers (`SIGKILL`: ends it).
/// `sig` 0 only checks.
pub fn post(p: &Process, q: Queued) -> Result<(), Errno> {
    if q.sig == 0 {
        return Ok(());
    }
    if q.sig == SIGKILL {
        dispatch::kill_one(p, 128 + u64::from(SIGKILL));
        return Ok(());
    }
    if q.sig == SIGCONT && p.stopped.swap(0, Ordering::AcqRel) != 0 {
        dispatch::reporting(
            p,
            || tell_parent(p, CLD_CONTINUED, u64::from(SIGCONT)),
            || dispatch::child_event(p, dispatch::CONTINUED),
        );
    }
    p.signals.lock().push(q)?;
    let ids: alloc::vec::Vec<sched::DispatcherId> =
        p.dispatchers.lock().values().copied().collect();
    for id in ids {
        if let Some(d) = dispatch::get(id) {
            crate::ppc::raise_on_home(&d, SOFT_SIGNAL);
        }
    }
    Ok(())
}

/// Queues `SIGCHLD` (`code`, `value`) for `p`'s parent, if it is a
/// Linux process (a native one learns of its children by the soft
/// interrupt alone).
pub fn tell_parent(p: &Process, code: i32, value: u64) {
    let parent = p.parent.load(Ordering::Relaxed) as u32;
    let linux = |pp: &Arc<Process>| pp.syscall_entry.load(Ordering::Acquire) != 0;
    if let Some(pp) = dispatch::process(parent).filter(linux) {
        let q = Queued {
            sig: SIGCHLD,
            code,
            pid: p.pid,
            value,
        };
        let _ = post(&pp, q);
    }
}

/// The calling process stops (its library's default action for a stop
/// signal `sig`, `process_group` op 5): its parent learns it (`wait4`
/// with `WUNTRACED`, `SIGCHLD` with `CLD_STOPPED`); the library then
/// blocks until `SIGCONT`.
pub fn stopped(p: &Process, sig: u32) {
    p.stopped.store(sig.max(1), Ordering::Release);
    dispatch::reporting(
        p,
        || tell_parent(p, CLD_STOPPED, u64::from(sig)),
        || dispatch::child_event(p, dispatch::STOPPED | u64::from(sig)),
    );
}

/// The processes `pid` names for the caller `me` (see the module docs);
/// `Err(ESRCH)` if none, `Ok(empty)` for a zombie.
fn targets(me: &Process, pid: i64) -> Result<alloc::vec::Vec<Arc<Process>>, Errno> {
    let all = dispatch::processes();
    let chosen: alloc::vec::Vec<Arc<Process>> = match pid {
        p if p > 0 => {
            let pid = u32::try_from(p).map_err(|_| Errno::Esrch)?;
            match all.into_iter().find(|q| q.pid == pid) {
                Some(q) => alloc::vec![q],
                None if dispatch::zombie(pid) => return Ok(alloc::vec::Vec::new()),
                None => return Err(Errno::Esrch),
            }
        }
        0 => {
            let g = me.pgid.load(Ordering::Relaxed);
            all.into_iter()
                .filter(|q| q.pgid.load(Ordering::Relaxed) == g)
                .collect()
        }
        -1 => all
            .into_iter()
            .filter(|q| q.pid != me.pid && signalable(q))
            .collect(),
        p => {
            let g = u32::try_from(-p).map_err(|_| Errno::Esrch)?;
            all.into_iter()
                .filter(|q| q.pgid.load(Ordering::Relaxed) == g)
                .collect()
        }
    };
    if chosen.is_empty() {
        return Err(Errno::Esrch);
    }
    Ok(chosen)
}

/// `signal_send(pid, sig, code, value)`.
pub fn sys_signal_send(cx: &mut Context<'_>) -> SyscallResult {
    let [pid, sig, code, value, ..] = cx.args;
    if sig > NSIG {
        return Err(Errno::Einval);
    }
    let me = dispatch::current().ok_or(Errno::Einval)?;
    let targets = targets(&me.process, pid as i64)?;
    let q = Queued {
        sig: sig as u32,
        code: code as i32,
        pid: me.process.pid,
        value,
    };
    let single = pid as i64 > 0;
    let (mut sent, mut refused) = (0, None);
    let mut to_self = false;
    for t in &targets {
        if !signalable(t) {
            refused = Some(Errno::Eperm);
            continue;
        }
        if t.pid == me.process.pid && q.sig == SIGKILL {
            to_self = true;
            continue;
        }
        match post(t, q) {
            Ok(()) => sent += 1,
            Err(e) => refused = Some(e),
        }
    }
    if to_self {
        // The caller itself: it ends when this call returns.
        dispatch::kill_one_others(&me);
        crate::arch::usermode::finish(128 + u64::from(SIGKILL));
        return Ok(0);
    }
    match refused {
        Some(e) if sent == 0 || single => Err(e),
        _ => Ok(0),
    }
}

/// `signal_take(buf, max)`.
pub fn sys_signal_take(cx: &mut Context<'_>) -> SyscallResult {
    let [buf, max, ..] = cx.args;
    let me = dispatch::current().ok_or(Errno::Einval)?;
    let max = max.min(MAX_QUEUED as u64) as usize;
    let mut taken = alloc::vec::Vec::new();
    {
        let mut p = me.process.signals.lock();
        while taken.len() < max {
            let Some(q) = p.queue.pop_front() else { break };
            taken.push(q);
        }
    }
    let mut bytes = alloc::vec![0u8; taken.len() * 32];
    for (q, b) in taken.iter().zip(bytes.chunks_exact_mut(32)) {
        let who = u64::from(q.pid) | (u64::from(q.code as u32) << 32);
        b[..8].copy_from_slice(&u64::from(q.sig).to_le_bytes());
        b[8..16].copy_from_slice(&who.to_le_bytes());
        b[16..24].copy_from_slice(&q.value.to_le_bytes());
    }
    if copy_to_user(buf, &bytes).is_err() {
        // Not lost: back at the front, in order.
        let mut p = me.process.signals.lock();
        for q in taken.into_iter().rev() {
            p.queue.push_front(q);
        }
        return Err(Errno::Efault);
    }
    Ok(taken.len() as u64)
}

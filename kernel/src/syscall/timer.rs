//! `timer(kind, time)` and `clock()`: one timer per dispatcher (the
//! user-level thread library registers only its nearest deadline, K42
//! style), and the kernel clock in nanoseconds.
//!
//! `kind` 0 sets an absolute deadline (`clock()` time), 1 a relative one,
//! 2 cancels. When the deadline passes, the timer tick raises
//! [`SOFT_TIMER`] in the dispatcher (its page and its wake-up token) and
//! wakes it: every timer interrupt sends the running dispatcher back to
//! its run loop, which fires due timers ([`expire`]). The tick is 10 ms,
//! so deadlines are met to within a tick.

use super::{Context, Errno, SyscallResult};
use crate::sync::IrqMutex;
use alloc::collections::BTreeMap;

/// Soft-interrupt bit: the dispatcher's timer expired.
pub const SOFT_TIMER: u64 = 2;

/// Deadline → dispatchers (raw ids) waiting for it.
static TIMERS: IrqMutex<BTreeMap<(u64, u64), ()>> = IrqMutex::new(BTreeMap::new());
/// Each dispatcher's current deadline (raw id → deadline).
static DEADLINES: IrqMutex<BTreeMap<u64, u64>> = IrqMutex::new(BTreeMap::new());

/// `timer(kind, time)`.
pub fn sys_timer(cx: &mut Context<'_>) -> SyscallResult {
    let a = &cx.args;
    let d = crate::dispatch::current().ok_or(Errno::Einval)?;
    let id = d.id.to_raw();
    let now = crate::time::now_ns();
    let deadline = match a[0] {
        0 => Some(a[1]),
        1 => Some(now.saturating_add(a[1])),
        2 => None,
        _ => return Err(Errno::Einval),
    };
    let mut timers = TIMERS.lock();
    let mut deadlines = DEADLINES.lock();
    if let Some(old) = deadlines.remove(&id) {
        timers.remove(&(old, id));
    }
    if let Some(t) = deadline {
        deadlines.insert(id, t);
        timers.insert((t, id), ());
    }
    Ok(0)
}

/// `clock()`: nanoseconds since boot.
pub fn sys_clock(_cx: &mut Context<'_>) -> SyscallResult {
    Ok(crate::time::now_ns())
}

/// Fires the timers whose deadline passed. Called by the dispatcher run
/// loops between dispatches, never from an interrupt handler (raising a
/// soft interrupt writes the target's dispatcher page, which may fault).
pub fn expire() {
    super::futex::expire();
    let now = crate::time::now_ns();
    loop {
        let due = {
            let Some(mut timers) = TIMERS.try_lock() else {
                return;
            };
            let Some((&(t, id), _)) = timers.iter().next() else {
                return;
            };
            if t > now {
                return;
            }
            timers.remove(&(t, id));
            DEADLINES.lock().remove(&id);
            id
        };
        if let Some(d) = crate::dispatch::get(sched::DispatcherId::from_raw(due)) {
            crate::ppc::raise_on_home(&d, SOFT_TIMER);
        }
    }
}

//! The atomics the lock-free parts use: `loom`'s under `--cfg loom`, `core`'s
//! otherwise. Only [`crate::remote`] and [`crate::lock`] go through this shim,
//! because they are the parts the loom model checks.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// Tells the CPU (or loom's scheduler) that we are spinning.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}

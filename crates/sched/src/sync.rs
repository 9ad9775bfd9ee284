//! The synchronisation primitives `Smp` is built from, in one place so that
//! `loom` can replace them: under `--cfg loom` the atomics and the lock are
//! loom's model-checked versions, otherwise `core`'s atomics and the `spin`
//! crate's lock (which needs no operating system).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU32, AtomicU64};

pub(crate) use core::sync::atomic::Ordering;

/// A mutual-exclusion lock: one per processor's scheduler, one for the
/// free-name list.
pub(crate) struct Mutex<T> {
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
    #[cfg(not(loom))]
    inner: spin::Mutex<T>,
}

#[cfg(loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;
#[cfg(not(loom))]
pub(crate) type MutexGuard<'a, T> = spin::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex {
            #[cfg(loom)]
            inner: loom::sync::Mutex::new(value),
            #[cfg(not(loom))]
            inner: spin::Mutex::new(value),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(loom)]
        {
            // A loom mutex is poisoned only if a model thread panicked,
            // which already fails the model.
            self.inner.lock().unwrap_or_else(|e| e.into_inner())
        }
        #[cfg(not(loom))]
        {
            self.inner.lock()
        }
    }
}

/// One step of a retry loop. Under loom it yields to the model's scheduler.
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}

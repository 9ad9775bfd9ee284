//! The synchronisation primitives the crate is built from, in one place so
//! that `loom` can replace them: under `--cfg loom` every atomic, lock and
//! spin-wait below is loom's model-checked version, otherwise it is `core`'s
//! (and the `spin` crate's lock, which works without `std`).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};

pub(crate) use core::sync::atomic::Ordering;

/// One step of a busy-wait. Under loom it yields to the model's scheduler,
/// which is what lets loom explore a spin loop at all.
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}

/// A small mutual-exclusion lock for cold paths (free-id lists, reclamation
/// lists). Never taken on the call path.
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

    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        #[cfg(loom)]
        {
            self.inner.try_lock().ok()
        }
        #[cfg(not(loom))]
        {
            self.inner.try_lock()
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(loom)]
        {
            // A poisoned lock only means another model thread panicked; the
            // model run fails on that panic anyway.
            self.inner.lock().unwrap_or_else(|e| e.into_inner())
        }
        #[cfg(not(loom))]
        {
            self.inner.lock()
        }
    }
}

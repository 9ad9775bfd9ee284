//! A test-and-test-and-set spin lock for the node layer.
//!
//! The node layer's critical sections are a handful of pointer moves (pop or
//! push one whole list), so a spin lock is the right tool; the kernel already
//! runs the allocator with interrupts off, so the lock needs no IRQ handling
//! of its own. `spin` would do, but a dozen lines do not justify a
//! dependency, and this one can be model-checked with loom through
//! [`crate::sync`].

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};

use crate::sync::{spin_hint, AtomicBool, Ordering};

/// A spin lock owning a `T`.
pub struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one holder at a time, so sharing the
// lock between threads is sound whenever moving a `T` between them is.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: as above; the lock owns its `T`.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A lock holding `value`, unlocked.
    pub fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Spins until the lock is ours. `relax` runs between failed attempts
    /// (hosted: yield the thread, so a preempted holder gets to run).
    pub fn lock_with(&self, relax: &dyn Fn()) -> SpinGuard<'_, T> {
        let mut spins = 0u32;
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // Wait for it to look free before trying again, so waiters spin
            // on a shared line instead of bouncing it between caches.
            while self.locked.load(Ordering::Relaxed) {
                spin_hint();
                spins = spins.wrapping_add(1);
                if spins.is_multiple_of(128) {
                    relax();
                }
            }
        }
        SpinGuard { lock: self }
    }

    /// Spins until the lock is ours, without a relax hook.
    #[cfg(loom)]
    pub fn lock(&self) -> SpinGuard<'_, T> {
        self.lock_with(&|| {})
    }
}

/// Proof that the lock is held; unlocks on drop.
pub struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while `locked` is held by us, so no
        // other reference to the value is live.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only borrow.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

//! [`ArcSlot`]: an `Arc` that readers reach without a lock and without
//! touching its reference count.
//!
//! The HAT keeps every table it may walk to in one: a directory's
//! children and each processor's PML4. A walk reads the slot and gets a
//! `&T` that lives as long as its borrow of the slot; writers (who fill
//! and empty slots) serialize on a lock of the owner's. Emptying a slot is
//! `unsafe`: whoever takes the `Arc` out keeps it alive for as long as a
//! reader may still hold a reference from before (the HAT keeps retired
//! tables until their parent goes).

use alloc::sync::Arc;
use core::sync::atomic::{AtomicPtr, Ordering};

/// Empty, or one `Arc<T>` (stored as `Arc::into_raw`, owning one count).
pub struct ArcSlot<T>(AtomicPtr<T>);

impl<T> ArcSlot<T> {
    /// An empty slot.
    pub const fn empty() -> Self {
        ArcSlot(AtomicPtr::new(core::ptr::null_mut()))
    }

    /// What the slot holds: no lock, no reference count.
    pub fn get(&self) -> Option<&T> {
        // SAFETY: a non-null pointer came from `Arc::into_raw` in `set`, and
        // the count it owns is released only by `Drop` (no borrow left) or
        // handed over by `take`, whose caller keeps it alive while readers
        // may hold a reference.
        unsafe { self.0.load(Ordering::Acquire).as_ref() }
    }

    /// What the slot holds, counted: for callers that keep it beyond
    /// their borrow of the slot.
    pub fn get_arc(&self) -> Option<Arc<T>> {
        let p = self.0.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: as in `get`: `p` is a live `Arc`'s pointer, so one more
        // count may be taken for it.
        Some(unsafe {
            Arc::increment_strong_count(p);
            Arc::from_raw(p)
        })
    }

    /// Fills an empty slot and returns the value; `Err(v)` if it was full.
    pub fn set(&self, v: Arc<T>) -> Result<&T, Arc<T>> {
        let p = Arc::into_raw(v).cast_mut();
        match self.0.compare_exchange(
            core::ptr::null_mut(),
            p,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: just stored; see `get`.
            Ok(_) => Ok(unsafe { &*p }),
            // SAFETY: `p` is ours, from `into_raw` above.
            Err(_) => Err(unsafe { Arc::from_raw(p) }),
        }
    }

    /// Empties the slot and returns what it held.
    ///
    /// # Safety
    /// References from [`get`](Self::get) may still be in use: the caller
    /// keeps the returned `Arc` alive until none can be.
    pub unsafe fn take(&self) -> Option<Arc<T>> {
        let p = self.0.swap(core::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: the count the slot owned, handed over once.
        (!p.is_null()).then(|| unsafe { Arc::from_raw(p) })
    }
}

impl<T> Drop for ArcSlot<T> {
    fn drop(&mut self) {
        let p = *self.0.get_mut();
        if !p.is_null() {
            // SAFETY: the count the slot owned; no borrow of it is left.
            drop(unsafe { Arc::from_raw(p) });
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn a_slot_owns_one_count_and_gives_it_back() {
        let v = Arc::new(7);
        let s = ArcSlot::empty();
        assert!(s.get().is_none());
        assert_eq!(s.set(v.clone()).copied(), Ok(7));
        assert_eq!(Arc::strong_count(&v), 2);
        assert_eq!(s.set(Arc::new(8)).map(|_| ()), Err(Arc::new(8)));
        let counted = s.get_arc().unwrap();
        assert_eq!(Arc::strong_count(&v), 3);
        drop(counted);
        // SAFETY: no reference from `get` is alive.
        let taken = unsafe { s.take() }.unwrap();
        assert!(s.get().is_none());
        drop(taken);
        assert_eq!(Arc::strong_count(&v), 1);
        s.set(v.clone()).unwrap();
        drop(s);
        assert_eq!(Arc::strong_count(&v), 1, "dropping the slot releases it");
    }
}

//! Mutex and condition variable for the threads of one dispatcher.
//!
//! Blocking parks the thread and runs another; no kernel call is made. Both
//! types are `!Sync`: they coordinate the threads of one dispatcher, which
//! never run in parallel. Across dispatchers use [`Remote`](crate::Remote).

use alloc::collections::VecDeque;
use core::cell::{Cell, RefCell, RefMut};
use core::ops::{Deref, DerefMut};

use crate::dispatcher::BlockReason;
use crate::{Dispatcher, Error, Platform, ThreadId};

/// A mutual-exclusion lock with FIFO hand-off: `unlock` passes the lock
/// straight to the longest waiter, so no thread can be starved.
pub struct Mutex<T> {
    locked: Cell<bool>,
    waiters: RefCell<VecDeque<ThreadId>>,
    data: RefCell<T>,
}

/// Proof of holding a [`Mutex`]; unlocks when dropped.
pub struct MutexGuard<'a, T, P: Platform> {
    mutex: &'a Mutex<T>,
    dispatcher: &'a Dispatcher<P>,
    data: Option<RefMut<'a, T>>,
}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub fn new(value: T) -> Self {
        Self {
            locked: Cell::new(false),
            waiters: RefCell::new(VecDeque::new()),
            data: RefCell::new(value),
        }
    }

    /// Locks, parking the current thread while another holds the lock.
    pub fn lock<'a, P: Platform>(
        &'a self,
        d: &'a Dispatcher<P>,
    ) -> Result<MutexGuard<'a, T, P>, Error> {
        if self.locked.get() {
            let me = d.current()?;
            self.waiters.borrow_mut().push_back(me);
            // Unlock hands the lock over: when we run again we own it.
            d.park(BlockReason::Mutex)?;
        } else {
            self.locked.set(true);
        }
        Ok(self.guard(d))
    }

    /// Locks if free, without blocking.
    pub fn try_lock<'a, P: Platform>(
        &'a self,
        d: &'a Dispatcher<P>,
    ) -> Option<MutexGuard<'a, T, P>> {
        if self.locked.replace(true) {
            None
        } else {
            Some(self.guard(d))
        }
    }

    /// Whether some thread holds the lock.
    pub fn is_locked(&self) -> bool {
        self.locked.get()
    }

    fn guard<'a, P: Platform>(&'a self, d: &'a Dispatcher<P>) -> MutexGuard<'a, T, P> {
        MutexGuard {
            mutex: self,
            dispatcher: d,
            data: Some(self.data.borrow_mut()),
        }
    }
}

impl<T, P: Platform> Deref for MutexGuard<'_, T, P> {
    type Target = T;
    fn deref(&self) -> &T {
        self.data
            .as_deref()
            .expect("guard holds the data until dropped")
    }
}

impl<T, P: Platform> DerefMut for MutexGuard<'_, T, P> {
    fn deref_mut(&mut self) -> &mut T {
        self.data
            .as_deref_mut()
            .expect("guard holds the data until dropped")
    }
}

impl<T, P: Platform> Drop for MutexGuard<'_, T, P> {
    fn drop(&mut self) {
        self.data = None;
        let next = self.mutex.waiters.borrow_mut().pop_front();
        match next {
            Some(id) => self.dispatcher.make_ready(id),
            None => self.mutex.locked.set(false),
        }
    }
}

/// A condition variable: `wait` atomically (with respect to the dispatcher's
/// other threads) releases the mutex and parks.
#[derive(Default)]
pub struct Condvar {
    waiters: RefCell<VecDeque<ThreadId>>,
}

impl Condvar {
    /// No waiters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Releases `guard`'s mutex, parks until notified, and locks it again.
    pub fn wait<'a, T, P: Platform>(
        &self,
        guard: MutexGuard<'a, T, P>,
    ) -> Result<MutexGuard<'a, T, P>, Error> {
        let (mutex, d) = (guard.mutex, guard.dispatcher);
        let me = d.current()?;
        self.waiters.borrow_mut().push_back(me);
        drop(guard);
        d.park(BlockReason::Condvar)?;
        mutex.lock(d)
    }

    /// Waits until `condition` is false.
    pub fn wait_while<'a, T, P: Platform>(
        &self,
        mut guard: MutexGuard<'a, T, P>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> Result<MutexGuard<'a, T, P>, Error> {
        while condition(&mut guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Wakes the longest waiter; returns whether there was one.
    pub fn notify_one<P: Platform>(&self, d: &Dispatcher<P>) -> bool {
        let next = self.waiters.borrow_mut().pop_front();
        match next {
            Some(id) => {
                d.make_ready(id);
                true
            }
            None => false,
        }
    }

    /// Wakes every waiter; returns how many.
    pub fn notify_all<P: Platform>(&self, d: &Dispatcher<P>) -> usize {
        let all = core::mem::take(&mut *self.waiters.borrow_mut());
        let n = all.len();
        for id in all {
            d.make_ready(id);
        }
        n
    }
}

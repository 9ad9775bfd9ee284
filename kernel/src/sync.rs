//! Locks for kernel data shared with interrupt handlers.
//!
//! [`IrqMutex`] disables interrupts on this processor while held, so an
//! interrupt handler that takes the same lock cannot deadlock against the
//! code it interrupted. It wraps `spin::Mutex`; K42's MCS-style and
//! clustered locks come with the clustered-object work.
//!
//! Each acquisition, contention and release is a `lock` trace event with
//! the lock's address as its id (see [`crate::trace`]).

use crate::arch::cpu;
use crate::trace::TRACER;
use core::ops::{Deref, DerefMut};
use ktrace::events::lock as ev;

/// A spin lock that keeps interrupts off while held.
pub struct IrqMutex<T> {
    inner: spin::Mutex<T>,
}

/// Guard of an [`IrqMutex`]; restores the interrupt flag when dropped.
pub struct IrqGuard<'a, T> {
    guard: Option<spin::MutexGuard<'a, T>>,
    were_enabled: bool,
    /// The lock's address, its id in the trace.
    id: u64,
}

impl<T> IrqMutex<T> {
    /// A new unlocked mutex.
    pub const fn new(value: T) -> Self {
        Self {
            inner: spin::Mutex::new(value),
        }
    }

    fn id(&self) -> u64 {
        core::ptr::from_ref(self).addr() as u64
    }

    /// Disables interrupts, then spins for the lock.
    pub fn lock(&self) -> IrqGuard<'_, T> {
        let were_enabled = cpu::interrupts_enabled();
        cpu::disable_interrupts();
        let guard = self.inner.try_lock().unwrap_or_else(|| {
            ev::contended(&TRACER, self.id());
            self.inner.lock()
        });
        ev::acquire(&TRACER, self.id());
        IrqGuard {
            guard: Some(guard),
            were_enabled,
            id: self.id(),
        }
    }

    /// Takes the lock if it is free.
    pub fn try_lock(&self) -> Option<IrqGuard<'_, T>> {
        let were_enabled = cpu::interrupts_enabled();
        cpu::disable_interrupts();
        match self.inner.try_lock() {
            Some(g) => {
                ev::acquire(&TRACER, self.id());
                Some(IrqGuard {
                    guard: Some(g),
                    were_enabled,
                    id: self.id(),
                })
            }
            None => {
                if were_enabled {
                    cpu::enable_interrupts();
                }
                None
            }
        }
    }
}

impl<T> Deref for IrqGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().expect("guard present until drop")
    }
}

impl<T> DerefMut for IrqGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().expect("guard present until drop")
    }
}

impl<T> Drop for IrqGuard<'_, T> {
    fn drop(&mut self) {
        ev::release(&TRACER, self.id);
        drop(self.guard.take());
        if self.were_enabled {
            cpu::enable_interrupts();
        }
    }
}

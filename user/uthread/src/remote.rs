//! The part of a dispatcher other processors may touch: soft-interrupt bits
//! and a lock-free queue of wake-up tokens (K42's async messages, reduced to
//! one word).

use alloc::sync::Arc;
#[cfg(not(loom))]
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::{Error, Token};

/// Soft-interrupt bit: the kernel timer registered through
/// [`Platform::set_timer`](crate::Platform::set_timer) has fired.
pub const SOFT_TIMER: u32 = 1 << 0;
/// Soft-interrupt bit: wake-up tokens are waiting in the remote queue.
pub const SOFT_WAKEUP: u32 = 1 << 1;
/// Soft-interrupt bit: page-fault completions are waiting to be taken
/// ([`Platform::fault_completions`](crate::Platform::fault_completions)).
pub const SOFT_FAULT: u32 = 1 << 2;

#[cfg(not(loom))]
const QUEUE_SLOTS: usize = 256;
/// Few slots keep the loom model small.
#[cfg(loom)]
const QUEUE_SLOTS: usize = 2;

/// Soft-interrupt bits plus the cross-dispatcher wake-up queue: the piece of
/// the future dispatcher page that other dispatchers write.
pub struct SoftInterrupts {
    pending: AtomicU32,
    queue: [AtomicU64; QUEUE_SLOTS],
}

impl Default for SoftInterrupts {
    fn default() -> Self {
        Self::new()
    }
}

impl SoftInterrupts {
    /// No bits pending, an empty queue.
    pub fn new() -> Self {
        Self {
            pending: AtomicU32::new(0),
            queue: core::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Raises soft-interrupt `bits` (what the kernel does on delivery).
    pub fn raise(&self, bits: u32) {
        self.pending.fetch_or(bits, Ordering::Release);
    }

    /// Whether any soft interrupt is pending.
    pub fn is_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire) != 0
    }

    /// Takes and clears all pending bits.
    pub(crate) fn take(&self) -> u32 {
        self.pending.swap(0, Ordering::Acquire)
    }

    /// Queues `token` (the loom model's entry to [`post`](Self::post)).
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn loom_post(&self, token: u64) -> Result<(), Error> {
        self.post(Token(token))
    }

    /// Takes the pending bits and drains the queue (for the loom model).
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn loom_take_and_drain(&self, seen: &mut alloc::vec::Vec<u64>) -> u32 {
        let bits = self.take();
        if bits & SOFT_WAKEUP != 0 {
            self.drain(|t| seen.push(t.0));
        }
        bits
    }

    /// Queues `token` (lock-free: one compare-and-swap on a free slot) and
    /// raises [`SOFT_WAKEUP`].
    pub(crate) fn post(&self, token: Token) -> Result<(), Error> {
        for slot in &self.queue {
            if slot
                .compare_exchange(0, token.0, Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                self.raise(SOFT_WAKEUP);
                return Ok(());
            }
        }
        Err(Error::QueueFull)
    }

    /// Empties the queue, calling `f` for each token.
    pub(crate) fn drain(&self, mut f: impl FnMut(Token)) {
        for slot in &self.queue {
            let t = slot.swap(0, Ordering::Acquire);
            if t != 0 {
                f(Token(t));
            }
        }
    }
}

/// A handle other dispatchers (other OS threads, other processors) use to
/// wake threads of one dispatcher. `Send + Sync + Clone`.
#[derive(Clone)]
pub struct Remote {
    pub(crate) soft: Arc<SoftInterrupts>,
}

impl Remote {
    /// Completes `token` on the owning dispatcher, as
    /// [`Dispatcher::complete`](crate::Dispatcher::complete) would, but from
    /// anywhere: the token is queued and a soft interrupt raised.
    pub fn complete(&self, token: Token) -> Result<(), Error> {
        self.soft.post(token)
    }
}

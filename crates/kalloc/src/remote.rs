//! The remote-free handoff: a multi-producer, single-consumer stack of
//! blocks, one per processor.
//!
//! A processor that frees strictly-local memory owned by another processor
//! batches such blocks and pushes the whole batch here with one
//! compare-and-swap. The owner takes everything at once with one swap. Since
//! the consumer never pops a single element, the classic ABA problem of
//! Treiber stacks cannot arise: a head pointer seen by a producer is only
//! ever compared, never dereferenced.
//!
//! Memory ordering: the producer's writes to the blocks (the links, and
//! whatever the block held) happen before its `Release` CAS; the owner's
//! `Acquire` swap makes them visible before it walks the list. The loom model
//! in `tests/loom.rs` checks exactly this.

use core::ptr;

use crate::block::Block;
use crate::sync::{AtomicPtr, Ordering};

/// An MPSC stack of free blocks, pushed by any processor, drained by one.
pub struct RemoteStack {
    head: AtomicPtr<Block>,
}

impl RemoteStack {
    /// An empty stack.
    pub fn new() -> Self {
        Self {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Pushes the chain `first ..= last` (linked through `Block::next`).
    ///
    /// # Safety
    /// `first ..= last` is a well-formed chain of free blocks that the caller
    /// owns and gives away: nobody touches them after this call except the
    /// consumer.
    pub unsafe fn push_chain(&self, first: *mut Block, last: *mut Block) {
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: `last` is ours until the CAS below publishes it.
            unsafe { (*last).next = head };
            match self
                .head
                .compare_exchange_weak(head, first, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }

    /// Takes every block pushed so far; returns the head of the chain (null
    /// when empty). Only the owning processor calls this.
    pub fn take_all(&self) -> *mut Block {
        // Cheap check first: most of the time there is nothing, and a load
        // does not pull the line into exclusive state.
        if self.head.load(Ordering::Relaxed).is_null() {
            return ptr::null_mut();
        }
        self.head.swap(ptr::null_mut(), Ordering::Acquire)
    }
}

impl Default for RemoteStack {
    fn default() -> Self {
        Self::new()
    }
}

//! Atomics, from `core` normally and from `loom` when model-checking.
//!
//! Everything in the log that is shared between writers and readers goes
//! through these names, so `RUSTFLAGS="--cfg loom"` swaps in loom's
//! instrumented versions without touching the algorithm.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU64, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicU64, Ordering};

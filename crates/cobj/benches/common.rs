//! Counter implementations shared by the benchmarks.
#![allow(dead_code)]

use cobj::{Format, Local, RepType, Transfer, TransferError};
use std::sync::atomic::{AtomicU64, Ordering};

pub trait Counter: Send + Sync {
    fn inc(&self);
    fn value(&self) -> u64;
}

pub const TOTAL: Format = Format("counter-total");

/// A per-processor count, padded to its own cache lines. Only the owning
/// processor writes it, so `inc` is a plain load and store (no locked
/// instruction), as K42's per-processor counter.
#[repr(align(128))]
pub struct PerCpu(pub AtomicU64);

impl RepType for PerCpu {
    type Interface = dyn Counter;
    type Shared = ();
    fn new(_: &(), _: usize) -> Self {
        PerCpu(AtomicU64::new(0))
    }
    fn interface(l: &Local<Self>) -> &Self::Interface {
        l
    }
    const EXPORTS: &'static [Format] = &[TOTAL];
    const IMPORTS: &'static [Format] = &[TOTAL];
    fn export(l: &Local<Self>, _: Format) -> Option<Transfer> {
        Some(Box::new(l.0.load(Ordering::SeqCst)))
    }
    fn import(l: &Local<Self>, f: Format, s: Transfer) -> Result<(), TransferError> {
        let v = s
            .downcast::<u64>()
            .map_err(|_| TransferError::BadPayload(f))?;
        l.0.fetch_add(*v, Ordering::SeqCst);
        Ok(())
    }
}

impl Counter for Local<PerCpu> {
    #[inline]
    fn inc(&self) {
        self.0
            .store(self.0.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
    fn value(&self) -> u64 {
        self.reps().map(|r| r.0.load(Ordering::Relaxed)).sum()
    }
}

/// One shared count (atomic add), behind a shared Root.
pub struct Shared(pub AtomicU64);

impl RepType for Shared {
    type Interface = dyn Counter;
    type Shared = ();
    fn new(_: &(), _: usize) -> Self {
        Shared(AtomicU64::new(0))
    }
    fn interface(l: &Local<Self>) -> &Self::Interface {
        l
    }
    const EXPORTS: &'static [Format] = &[TOTAL];
    const IMPORTS: &'static [Format] = &[TOTAL];
    fn export(l: &Local<Self>, _: Format) -> Option<Transfer> {
        Some(Box::new(l.0.load(Ordering::SeqCst)))
    }
    fn import(l: &Local<Self>, f: Format, s: Transfer) -> Result<(), TransferError> {
        let v = s
            .downcast::<u64>()
            .map_err(|_| TransferError::BadPayload(f))?;
        l.0.fetch_add(*v, Ordering::SeqCst);
        Ok(())
    }
}

impl Counter for Local<Shared> {
    #[inline]
    fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn value(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The same `inc` as `PerCpu`, on a plain object, for `&dyn` calls.
pub struct Plain(pub AtomicU64);

impl Counter for Plain {
    #[inline]
    fn inc(&self) {
        self.0
            .store(self.0.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
    fn value(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

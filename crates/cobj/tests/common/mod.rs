//! The paper's counter in three implementations, for the tests.
#![allow(dead_code)]

use cobj::{Format, Local, RepType, Transfer, TransferError};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

pub trait Counter: Send + Sync {
    fn inc(&self);
    fn value(&self) -> u64;
    /// Which slot (processor or cluster) serves this call.
    fn slot(&self) -> usize;
    /// How many Reps exist.
    fn reps(&self) -> usize;
}

pub const TOTAL: Format = Format("counter-total");

/// Counts Rep drops, to check that reclamation runs them.
#[derive(Clone, Default)]
pub struct Drops(pub Arc<AtomicUsize>);

impl Drops {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

macro_rules! counter_rep {
    ($name:ident, $sum:expr) => {
        pub struct $name {
            pub n: AtomicU64,
            drops: Drops,
        }

        impl Drop for $name {
            fn drop(&mut self) {
                self.drops.0.fetch_add(1, Ordering::SeqCst);
            }
        }

        impl RepType for $name {
            type Interface = dyn Counter;
            type Shared = Drops;
            fn new(drops: &Drops, _slot: usize) -> Self {
                $name {
                    n: AtomicU64::new(0),
                    drops: drops.clone(),
                }
            }
            fn interface(l: &Local<Self>) -> &Self::Interface {
                l
            }
            const EXPORTS: &'static [Format] = &[TOTAL];
            const IMPORTS: &'static [Format] = &[TOTAL];
            fn export(l: &Local<Self>, _: Format) -> Option<Transfer> {
                Some(Box::new(l.n.load(Ordering::SeqCst)))
            }
            fn import(l: &Local<Self>, f: Format, s: Transfer) -> Result<(), TransferError> {
                let v = s
                    .downcast::<u64>()
                    .map_err(|_| TransferError::BadPayload(f))?;
                l.n.fetch_add(*v, Ordering::SeqCst);
                Ok(())
            }
        }

        impl Counter for Local<$name> {
            fn inc(&self) {
                self.n.fetch_add(1, Ordering::Relaxed);
            }
            fn value(&self) -> u64 {
                let sum: fn(&Local<$name>) -> u64 = $sum;
                sum(self)
            }
            fn slot(&self) -> usize {
                Local::slot(self)
            }
            fn reps(&self) -> usize {
                Local::reps(self).count()
            }
        }
    };
}

// Used with a shared Root: one Rep.
counter_rep!(SharedCount, |l| l.n.load(Ordering::SeqCst));
// Used with a per-processor or clustered Root: sum over the Reps.
counter_rep!(DistCount, |l| l
    .reps()
    .map(|r| r.n.load(Ordering::SeqCst))
    .sum());

/// A counter that speaks no transfer format at all.
pub struct Mute(AtomicU64);

impl RepType for Mute {
    type Interface = dyn Counter;
    type Shared = ();
    fn new(_: &(), _: usize) -> Self {
        Mute(AtomicU64::new(0))
    }
    fn interface(l: &Local<Self>) -> &Self::Interface {
        l
    }
}

impl Counter for Local<Mute> {
    fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn value(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    fn slot(&self) -> usize {
        Local::slot(self)
    }
    fn reps(&self) -> usize {
        1
    }
}

/// Imports the total format, but always rejects the payload.
pub struct Picky(AtomicU64);

impl RepType for Picky {
    type Interface = dyn Counter;
    type Shared = ();
    fn new(_: &(), _: usize) -> Self {
        Picky(AtomicU64::new(0))
    }
    fn interface(l: &Local<Self>) -> &Self::Interface {
        l
    }
    const IMPORTS: &'static [Format] = &[TOTAL];
    fn import(_: &Local<Self>, f: Format, _: Transfer) -> Result<(), TransferError> {
        Err(TransferError::BadPayload(f))
    }
}

impl Counter for Local<Picky> {
    fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn value(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    fn slot(&self) -> usize {
        Local::slot(self)
    }
    fn reps(&self) -> usize {
        1
    }
}

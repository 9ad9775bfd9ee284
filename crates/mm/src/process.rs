//! Process: the root of an address space's objects, its list of Regions
//! (notes §4).
//!
//! Two variants. [`DefaultProcess`] keeps one list under a reader-writer
//! lock (one Rep). [`ReplicatedProcess`] keeps a copy of the list per
//! processor (one Rep per processor), so the fault path reads only
//! processor-local memory; updates (map, unmap) go to a master list and are
//! pushed to every copy, and a copy made concurrently notices the
//! version change and refreshes itself. A fault holds the (local) list's
//! read side while it runs, so an unmap waits for faults in flight on the
//! Regions it removes.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU64, Ordering};

use cobj::{CoRef, Local, Platform, RepType, Runtime, StdRoot};

use crate::fcm::{Resolved, WaiterRef};
use crate::region::{RegionInfo, RegionRef};
use crate::sync::RwLock;
use crate::types::{Access, CpuId, MmError};

/// A handle on a Process.
pub type ProcessRef<P> = CoRef<'static, dyn Process<P>, P>;

/// One entry of a Process's region list.
pub struct RegionEntry<P: Platform> {
    /// What the region maps.
    pub info: RegionInfo,
    /// The Region.
    pub region: RegionRef<P>,
}

impl<P: Platform> Clone for RegionEntry<P> {
    fn clone(&self) -> Self {
        RegionEntry {
            info: self.info,
            region: self.region.clone(),
        }
    }
}

type List<P> = BTreeMap<u64, RegionEntry<P>>;

/// The interface of a Process.
pub trait Process<P: Platform>: Send + Sync {
    /// Finds the Region covering `va` and passes the fault on.
    fn fault(
        &self,
        va: u64,
        access: Access,
        cpu: CpuId,
        waiter: WaiterRef<'_>,
    ) -> Result<Resolved, MmError>;
    /// Adds a Region; overlapping an existing one is an error.
    fn insert(&self, entry: RegionEntry<P>) -> Result<(), MmError>;
    /// Removes the Region starting at `start`.
    fn remove(&self, start: u64) -> Option<RegionEntry<P>>;
    /// The Region covering `va`.
    fn lookup(&self, va: u64) -> Option<RegionEntry<P>>;
    /// All Regions, by address.
    fn regions(&self) -> Vec<RegionEntry<P>>;
}

fn find<P: Platform>(list: &List<P>, va: u64) -> Option<&RegionEntry<P>> {
    let (_, e) = list.range(..=va).next_back()?;
    (va < e.info.end()).then_some(e)
}

fn insert<P: Platform>(list: &mut List<P>, entry: RegionEntry<P>) -> Result<(), MmError> {
    let (s, e) = (entry.info.start, entry.info.end());
    let before = list
        .range(..e)
        .next_back()
        .is_some_and(|(_, x)| x.info.end() > s);
    if before {
        return Err(MmError::Invalid("overlaps an existing region"));
    }
    list.insert(s, entry);
    Ok(())
}

fn fault_in<P: Platform>(
    list: &List<P>,
    va: u64,
    access: Access,
    cpu: CpuId,
    waiter: WaiterRef<'_>,
) -> Result<Resolved, MmError> {
    let e = find(list, va).ok_or(MmError::BadAddress(va))?;
    e.region.call(|r| r.fault(va, access, cpu, waiter))?
}

/// The default Process: one shared list.
pub struct DefaultProcess<P: Platform> {
    list: RwLock<List<P>>,
}

impl<P: Platform> RepType for DefaultProcess<P> {
    type Interface = dyn Process<P>;
    type Shared = ();
    fn new(_: &(), _: usize) -> Self {
        DefaultProcess {
            list: RwLock::new(BTreeMap::new()),
        }
    }
    fn interface(l: &Local<Self>) -> &Self::Interface {
        l
    }
}

impl<P: Platform> Process<P> for Local<DefaultProcess<P>> {
    fn fault(
        &self,
        va: u64,
        access: Access,
        cpu: CpuId,
        waiter: WaiterRef<'_>,
    ) -> Result<Resolved, MmError> {
        fault_in(&self.list.read(), va, access, cpu, waiter)
    }
    fn insert(&self, entry: RegionEntry<P>) -> Result<(), MmError> {
        insert(&mut self.list.write(), entry)
    }
    fn remove(&self, start: u64) -> Option<RegionEntry<P>> {
        self.list.write().remove(&start)
    }
    fn lookup(&self, va: u64) -> Option<RegionEntry<P>> {
        find(&self.list.read(), va).cloned()
    }
    fn regions(&self) -> Vec<RegionEntry<P>> {
        self.list.read().values().cloned().collect()
    }
}

/// Shared state of a replicated Process: the master list.
pub struct Master<P: Platform> {
    list: RwLock<List<P>>,
    version: AtomicU64,
    _p: PhantomData<fn(P)>,
}

/// The replicated Process: a copy of the list per processor.
pub struct ReplicatedProcess<P: Platform> {
    copy: RwLock<(u64, List<P>)>,
}

impl<P: Platform> RepType for ReplicatedProcess<P> {
    type Interface = dyn Process<P>;
    type Shared = Master<P>;
    fn new(m: &Master<P>, _: usize) -> Self {
        let list = m.list.read();
        let version = m.version.load(Ordering::SeqCst);
        ReplicatedProcess {
            copy: RwLock::new((version, list.clone())),
        }
    }
    fn interface(l: &Local<Self>) -> &Self::Interface {
        l
    }
}

/// Runs `f` on an up-to-date local copy.
fn with<P: Platform, R>(me: &Local<ReplicatedProcess<P>>, f: impl FnOnce(&List<P>) -> R) -> R {
    loop {
        {
            let c = me.copy.read();
            if c.0 == me.shared().version.load(Ordering::SeqCst) {
                return f(&c.1);
            }
        }
        let m = me.shared().list.read();
        let v = me.shared().version.load(Ordering::SeqCst);
        *me.copy.write() = (v, m.clone());
    }
}

fn update<P: Platform, R>(
    me: &Local<ReplicatedProcess<P>>,
    f: impl FnOnce(&mut List<P>) -> R,
) -> R {
    let m = me.shared();
    let mut list = m.list.write();
    let r = f(&mut list);
    let v = m.version.fetch_add(1, Ordering::SeqCst) + 1;
    // Push to every copy; each write waits for faults in flight there.
    for rep in me.reps() {
        *rep.copy.write() = (v, list.clone());
    }
    r
}

impl<P: Platform> Process<P> for Local<ReplicatedProcess<P>> {
    fn fault(
        &self,
        va: u64,
        access: Access,
        cpu: CpuId,
        waiter: WaiterRef<'_>,
    ) -> Result<Resolved, MmError> {
        with(self, |l| fault_in(l, va, access, cpu, waiter))
    }
    fn insert(&self, entry: RegionEntry<P>) -> Result<(), MmError> {
        update(self, |l| insert(l, entry))
    }
    fn remove(&self, start: u64) -> Option<RegionEntry<P>> {
        update(self, |l| l.remove(&start))
    }
    fn lookup(&self, va: u64) -> Option<RegionEntry<P>> {
        with(self, |l| find(l, va).cloned())
    }
    fn regions(&self) -> Vec<RegionEntry<P>> {
        with(self, |l| l.values().cloned().collect())
    }
}

/// Makes a Process object, replicated or not.
pub fn create_process<P: Platform>(
    rt: &'static Runtime<P>,
    replicated: bool,
) -> Result<ProcessRef<P>, MmError> {
    Ok(if replicated {
        rt.create(StdRoot::<ReplicatedProcess<P>>::per_cpu(Master {
            list: RwLock::new(BTreeMap::new()),
            version: AtomicU64::new(0),
            _p: PhantomData,
        }))?
    } else {
        rt.create(StdRoot::<DefaultProcess<P>>::shared(()))?
    })
}

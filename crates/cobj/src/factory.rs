//! Factories and dynamic upgrade (notes §3, paper §5).
//!
//! Each clustered-object type has a [`Factory`]: it makes instances from
//! its current [`Version`] and tracks the live ones. The factory is itself
//! a clustered object (one Rep per processor, each listing the instances
//! created there), so creating an instance touches only processor-local
//! state. [`Factory::upgrade`] to a new version first hot-swaps the factory
//! itself (its instance lists move by state transfer), then hot-swaps every
//! live instance to a Root made by the new version, and reports how many
//! were swapped.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::coref::{CoRef, WeakRef};
use crate::error::Error;
use crate::platform::Platform;
use crate::root::{Format, Local, RepType, Root, StdRoot, Transfer, TransferError};
use crate::runtime::Runtime;
use crate::sync::Mutex;

/// One implementation version of a clustered-object type: it makes Roots.
pub trait Version<I: ?Sized + 'static>: Send + Sync + 'static {
    /// The version number, for reports.
    fn number(&self) -> u32;
    /// A Root for a new instance (or for an instance being upgraded).
    fn make_root(&self) -> Box<dyn Root<I>>;
}

/// The interface of a factory's Reps.
pub trait FactoryOps<I: ?Sized + 'static>: Send + Sync {
    /// The current version number.
    fn version(&self) -> u32;
    /// A Root from the current version.
    fn make_root(&self) -> Box<dyn Root<I>>;
    /// Records a new instance (on the calling processor's list).
    fn register(&self, instance: WeakRef<I>);
    /// All recorded instances, from every processor.
    fn instances(&self) -> Vec<WeakRef<I>>;
    /// Keeps only the instances `live` approves of.
    fn retain(&self, live: &dyn Fn(&WeakRef<I>) -> bool);
}

const INSTANCES: Format = Format("factory-instance-list");

/// A factory Rep: the instances created on one processor.
pub struct FactoryRep<I: ?Sized + 'static> {
    list: Mutex<Vec<WeakRef<I>>>,
}

impl<I: ?Sized + 'static> RepType for FactoryRep<I> {
    type Interface = dyn FactoryOps<I>;
    type Shared = Arc<dyn Version<I>>;

    fn new(_: &Self::Shared, _: usize) -> Self {
        FactoryRep {
            list: Mutex::new(Vec::new()),
        }
    }

    fn interface(local: &Local<Self>) -> &Self::Interface {
        local
    }

    const EXPORTS: &'static [Format] = &[INSTANCES];
    const IMPORTS: &'static [Format] = &[INSTANCES];

    fn export(local: &Local<Self>, _: Format) -> Option<Transfer> {
        Some(Box::new(local.list.lock().clone()))
    }

    fn import(local: &Local<Self>, format: Format, state: Transfer) -> Result<(), TransferError> {
        let list = state
            .downcast::<Vec<WeakRef<I>>>()
            .map_err(|_| TransferError::BadPayload(format))?;
        local.list.lock().extend(*list);
        Ok(())
    }
}

impl<I: ?Sized + 'static> FactoryOps<I> for Local<FactoryRep<I>> {
    fn version(&self) -> u32 {
        self.shared().number()
    }

    fn make_root(&self) -> Box<dyn Root<I>> {
        self.shared().make_root()
    }

    fn register(&self, instance: WeakRef<I>) {
        self.list.lock().push(instance);
    }

    fn instances(&self) -> Vec<WeakRef<I>> {
        self.reps().flat_map(|r| r.list.lock().clone()).collect()
    }

    fn retain(&self, live: &dyn Fn(&WeakRef<I>) -> bool) {
        for r in self.reps() {
            r.list.lock().retain(|w| live(w));
        }
    }
}

/// What an upgrade did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpgradeReport {
    /// The version now current.
    pub version: u32,
    /// Live instances swapped to the new version.
    pub swapped: usize,
    /// Instances that were already destroyed (dropped from the lists).
    pub gone: usize,
    /// Instances that could not be swapped (e.g. no common format).
    pub failed: usize,
}

/// The factory of one clustered-object type (itself a clustered object).
pub struct Factory<'rt, I: ?Sized + 'static, P: Platform> {
    rt: &'rt Runtime<P>,
    co: CoRef<'rt, dyn FactoryOps<I>, P>,
}

impl<'rt, I: ?Sized + 'static, P: Platform> Factory<'rt, I, P> {
    /// A factory whose current version is `version`.
    pub fn new(rt: &'rt Runtime<P>, version: impl Version<I>) -> Result<Self, Error> {
        let shared: Arc<dyn Version<I>> = Arc::new(version);
        let co = rt.create(StdRoot::<FactoryRep<I>>::per_cpu(shared))?;
        Ok(Factory { rt, co })
    }

    /// The factory's own clustered object.
    pub fn as_coref(&self) -> &CoRef<'rt, dyn FactoryOps<I>, P> {
        &self.co
    }

    /// The current version number.
    pub fn version(&self) -> Result<u32, Error> {
        self.co.call(|f| f.version())
    }

    /// A new instance from the current version.
    pub fn create(&self) -> Result<CoRef<'rt, I, P>, Error> {
        let root = self.co.call(|f| f.make_root())?;
        let obj = self.rt.create_boxed(root)?;
        let weak = obj.downgrade();
        self.co.call(move |f| f.register(weak))?;
        Ok(obj)
    }

    /// Live instances.
    pub fn live(&self) -> Result<usize, Error> {
        let all = self.co.call(|f| f.instances())?;
        Ok(all.iter().filter(|w| w.upgrade(self.rt).is_ok()).count())
    }

    /// Makes `version` current and hot-swaps every live instance to it.
    pub fn upgrade(&self, version: impl Version<I>) -> Result<UpgradeReport, Error> {
        let shared: Arc<dyn Version<I>> = Arc::new(version);
        let number = shared.number();
        // The factory first: new instances come from the new version, and
        // the instance lists move over by state transfer.
        self.co
            .switch(StdRoot::<FactoryRep<I>>::per_cpu(shared.clone()))
            .map_err(|e| e.error)?;
        let mut report = UpgradeReport {
            version: number,
            ..UpgradeReport::default()
        };
        for weak in self.co.call(|f| f.instances())? {
            let Ok(obj) = weak.upgrade(self.rt) else {
                report.gone += 1;
                continue;
            };
            match obj.switch_boxed(shared.make_root()) {
                Ok(_old) => report.swapped += 1,
                Err(e) if e.error == Error::Destroyed => report.gone += 1,
                Err(_) => report.failed += 1,
            }
        }
        let rt = self.rt;
        self.co.call(|f| f.retain(&|w| w.upgrade(rt).is_ok()))?;
        Ok(report)
    }
}

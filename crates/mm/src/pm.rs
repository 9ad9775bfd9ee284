//! Page managers: where FCMs get frames (notes §4).
//!
//! PMs form a tree. The **root PM** owns the machine's frames (a
//! [`Frames`] source) and counts every frame in use; a **leaf PM** per
//! process charges the frames that process's FCMs hold, enforces an
//! optional limit, and answers **reclaim requests** by asking its FCMs to
//! evict pages with their own local policy. A leaf PM is per-processor
//! (one Rep per processor, each with its own charge count), so charging a
//! frame on the fault path writes only processor-local memory.

use crate::sync::Mutex;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use cobj::{Local, Platform, RepType, Runtime, StdRoot, WeakRef};

use crate::fcm::Fcm;
use crate::frames::Frames;
use crate::types::{MmError, Pfn};
use crate::PmRef;

/// The interface of a page manager.
pub trait Pm<P: Platform>: Send + Sync {
    /// A run of `count` frames (1 or 512), charged to this PM.
    fn alloc(&self, count: usize) -> Result<Pfn, MmError>;
    /// Returns a run charged to this PM.
    fn free(&self, pfn: Pfn, count: usize);
    /// Forgets `count` frames without freeing them: their owner moved to
    /// the root PM (the frozen pages of a fork).
    fn uncharge(&self, count: usize);
    /// Takes on `count` frames already allocated (from the root PM's
    /// frozen pages) without allocating.
    fn charge(&self, count: usize);
    /// Frames charged to this PM now.
    fn charged(&self) -> usize;
    /// Sets the most frames this PM may hold (`None`: no limit).
    fn set_limit(&self, limit: Option<usize>);
    /// Registers an FCM that draws from this PM (for reclaim).
    fn register(&self, fcm: WeakRef<dyn Fcm<P>>);
    /// Registers a child PM (root only).
    fn add_child(&self, pm: WeakRef<dyn Pm<P>>);
    /// A reclaim request: free about `frames` frames by evicting pages from
    /// this PM's FCMs (a root PM forwards to its children). Returns the
    /// number freed. Must not be called from inside an FCM call.
    fn reclaim(&self, frames: usize) -> usize;
}

/// Shared state of the root PM.
pub struct RootShared<P: Platform> {
    rt: &'static Runtime<P>,
    frames: Arc<dyn Frames>,
    children: Mutex<Vec<WeakRef<dyn Pm<P>>>>,
}

/// The root PM (a single Rep; its count is the machine's).
pub struct RootPm<P: Platform> {
    used: AtomicUsize,
    _p: core::marker::PhantomData<fn(P)>,
}

impl<P: Platform> RepType for RootPm<P> {
    type Interface = dyn Pm<P>;
    type Shared = RootShared<P>;
    fn new(_: &Self::Shared, _: usize) -> Self {
        RootPm {
            used: AtomicUsize::new(0),
            _p: core::marker::PhantomData,
        }
    }
    fn interface(l: &Local<Self>) -> &Self::Interface {
        l
    }
}

impl<P: Platform> Pm<P> for Local<RootPm<P>> {
    fn alloc(&self, count: usize) -> Result<Pfn, MmError> {
        let pfn = self
            .shared()
            .frames
            .alloc(count)
            .ok_or(MmError::OutOfMemory)?;
        self.used.fetch_add(count, Ordering::Relaxed);
        Ok(pfn)
    }
    fn free(&self, pfn: Pfn, count: usize) {
        self.shared().frames.free(pfn, count);
        self.used.fetch_sub(count, Ordering::Relaxed);
    }
    fn uncharge(&self, _: usize) {}
    fn charge(&self, _: usize) {}
    fn charged(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
    fn set_limit(&self, _: Option<usize>) {}
    fn register(&self, _: WeakRef<dyn Fcm<P>>) {}
    fn add_child(&self, pm: WeakRef<dyn Pm<P>>) {
        self.shared().children.lock().push(pm);
    }
    fn reclaim(&self, frames: usize) -> usize {
        let rt = self.shared().rt;
        let children: Vec<_> = {
            let mut c = self.shared().children.lock();
            c.retain(|w| w.upgrade(rt).is_ok());
            c.clone()
        };
        let mut freed = 0;
        for w in children {
            if freed >= frames {
                break;
            }
            if let Ok(pm) = w.upgrade(rt) {
                freed += pm.call(|p| p.reclaim(frames - freed)).unwrap_or(0);
            }
        }
        freed
    }
}

/// Shared state of a leaf PM.
pub struct LeafShared<P: Platform> {
    rt: &'static Runtime<P>,
    parent: PmRef<P>,
    limit: AtomicUsize,
    fcms: Mutex<Vec<WeakRef<dyn Fcm<P>>>>,
}

/// A process's PM: one Rep per processor, each counting the frames charged
/// on that processor (a frame freed elsewhere makes a count negative; the
/// sum is what matters).
pub struct LeafPm<P: Platform> {
    count: AtomicIsize,
    _p: core::marker::PhantomData<fn(P)>,
}

impl<P: Platform> RepType for LeafPm<P> {
    type Interface = dyn Pm<P>;
    type Shared = LeafShared<P>;
    fn new(_: &Self::Shared, _: usize) -> Self {
        LeafPm {
            count: AtomicIsize::new(0),
            _p: core::marker::PhantomData,
        }
    }
    fn interface(l: &Local<Self>) -> &Self::Interface {
        l
    }
}

fn total<P: Platform>(l: &Local<LeafPm<P>>) -> usize {
    l.reps()
        .map(|r| r.count.load(Ordering::Relaxed))
        .sum::<isize>()
        .max(0) as usize
}

impl<P: Platform> Pm<P> for Local<LeafPm<P>> {
    fn alloc(&self, count: usize) -> Result<Pfn, MmError> {
        let limit = self.shared().limit.load(Ordering::Relaxed);
        if limit != usize::MAX && total(self) + count > limit {
            return Err(MmError::OutOfMemory);
        }
        let pfn = self.shared().parent.call(|p| p.alloc(count))??;
        self.count.fetch_add(count as isize, Ordering::Relaxed);
        Ok(pfn)
    }
    fn free(&self, pfn: Pfn, count: usize) {
        // The root is a long-lived object; a failed call would mean the
        // machine is being torn down, and then the frame is moot.
        let _ = self.shared().parent.call(|p| p.free(pfn, count));
        self.count.fetch_sub(count as isize, Ordering::Relaxed);
    }
    fn uncharge(&self, count: usize) {
        self.count.fetch_sub(count as isize, Ordering::Relaxed);
    }
    fn charge(&self, count: usize) {
        self.count.fetch_add(count as isize, Ordering::Relaxed);
    }
    fn charged(&self) -> usize {
        total(self)
    }
    fn set_limit(&self, limit: Option<usize>) {
        self.shared()
            .limit
            .store(limit.unwrap_or(usize::MAX), Ordering::Relaxed);
    }
    fn register(&self, fcm: WeakRef<dyn Fcm<P>>) {
        self.shared().fcms.lock().push(fcm);
    }
    fn add_child(&self, _: WeakRef<dyn Pm<P>>) {}
    fn reclaim(&self, frames: usize) -> usize {
        let rt = self.shared().rt;
        let fcms: Vec<_> = {
            let mut f = self.shared().fcms.lock();
            f.retain(|w| w.upgrade(rt).is_ok());
            f.clone()
        };
        let mut freed = 0;
        for w in fcms {
            if freed >= frames {
                break;
            }
            if let Ok(fcm) = w.upgrade(rt) {
                freed += fcm.call(|f| f.evict(frames - freed)).unwrap_or(0);
            }
        }
        freed
    }
}

/// Makes the root PM of a machine.
pub fn root_pm<P: Platform>(
    rt: &'static Runtime<P>,
    frames: Arc<dyn Frames>,
) -> Result<PmRef<P>, MmError> {
    Ok(rt.create(StdRoot::<RootPm<P>>::shared(RootShared {
        rt,
        frames,
        children: Mutex::new(Vec::new()),
    }))?)
}

/// Makes a leaf PM under `parent`.
pub fn leaf_pm<P: Platform>(
    rt: &'static Runtime<P>,
    parent: &PmRef<P>,
) -> Result<PmRef<P>, MmError> {
    let pm = rt.create(StdRoot::<LeafPm<P>>::per_cpu(LeafShared {
        rt,
        parent: parent.clone(),
        limit: AtomicUsize::new(usize::MAX),
        fcms: Mutex::new(Vec::new()),
    }))?;
    let weak = pm.downgrade();
    parent.call(|p| p.add_child(weak))?;
    Ok(pm)
}

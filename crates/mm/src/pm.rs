//! Page managers: where FCMs get frames (notes §4).
//!
//! PMs form a tree. The **root PM** owns the machine's frames (a
//! [`Frames`] source), keeps a cache of free frames per processor (so a
//! fault takes the source's lock once per [`FRAME_BATCH`] frames, and gets
//! frames of its own NUMA node) and counts every frame in use; a **leaf PM** per
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
    /// Free frames this PM keeps in its per-processor caches (root only).
    fn cached(&self) -> usize {
        0
    }
    /// Gives every cached free frame back to the frame source (root only);
    /// returns how many.
    fn drain(&self) -> usize {
        0
    }
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

/// Frames a processor's cache takes from the [`Frames`] source in one
/// refill; a cache holding more than twice this gives this many back.
pub const FRAME_BATCH: usize = 32;

/// Shared state of the root PM.
pub struct RootShared<P: Platform> {
    rt: &'static Runtime<P>,
    frames: Arc<dyn Frames>,
    children: Mutex<Vec<WeakRef<dyn Pm<P>>>>,
}

/// The root PM: one Rep per processor. Each keeps a cache of free frames
/// from its processor's memory (refilled and drained [`FRAME_BATCH`] at a
/// time, so the source's lock is taken once per batch, not per fault) and
/// its own count of the frames it handed out (a frame freed elsewhere
/// makes a count negative; the sum is the machine's). K42's page
/// allocator is per-processor for the same reason: the fault path of one
/// processor writes only that processor's memory.
pub struct RootPm<P: Platform> {
    used: AtomicIsize,
    cache: Mutex<Vec<Pfn>>,
    _p: core::marker::PhantomData<fn(P)>,
}

impl<P: Platform> RepType for RootPm<P> {
    type Interface = dyn Pm<P>;
    type Shared = RootShared<P>;
    fn new(_: &Self::Shared, _: usize) -> Self {
        RootPm {
            used: AtomicIsize::new(0),
            cache: Mutex::new(Vec::with_capacity(2 * FRAME_BATCH + 1)),
            _p: core::marker::PhantomData,
        }
    }
    fn interface(l: &Local<Self>) -> &Self::Interface {
        l
    }
}

/// One frame: from this processor's cache, refilled from the source
/// when empty. A cache busy here (a nested call, or another processor
/// stealing or draining) is bypassed, never waited for.
fn take_one<P: Platform>(me: &Local<RootPm<P>>) -> Option<Pfn> {
    let frames = &me.shared().frames;
    let Some(mut cache) = me.cache.try_lock() else {
        return frames.alloc(1);
    };
    if let Some(p) = cache.pop() {
        return Some(p);
    }
    let mut batch = [Pfn(0); FRAME_BATCH];
    let n = frames.alloc_near(me.slot(), &mut batch);
    cache.extend_from_slice(&batch[1..n.max(1)]);
    (n > 0).then_some(batch[0])
}

/// One frame from another processor's cache, when the source has none.
fn steal<P: Platform>(me: &Local<RootPm<P>>) -> Option<Pfn> {
    me.reps()
        .filter_map(|r| r.cache.try_lock())
        .find_map(|mut c| c.pop())
}

/// Gives frame `pfn` to this processor's cache (or to the source, when
/// it is another node's or the cache is busy); a full cache gives a
/// batch back.
fn put_one<P: Platform>(me: &Local<RootPm<P>>, pfn: Pfn) {
    let frames = &me.shared().frames;
    if !frames.near(me.slot(), pfn) {
        return frames.free(pfn, 1);
    }
    let Some(mut cache) = me.cache.try_lock() else {
        return frames.free(pfn, 1);
    };
    cache.push(pfn);
    if cache.len() > 2 * FRAME_BATCH {
        let keep = cache.len() - FRAME_BATCH;
        frames.free_many(&cache[keep..]);
        cache.truncate(keep);
    }
}

impl<P: Platform> Pm<P> for Local<RootPm<P>> {
    fn alloc(&self, count: usize) -> Result<Pfn, MmError> {
        let pfn = match count {
            1 => take_one(self).or_else(|| steal(self)),
            _ => self.shared().frames.alloc(count),
        }
        .ok_or(MmError::OutOfMemory)?;
        self.used.fetch_add(count as isize, Ordering::Relaxed);
        Ok(pfn)
    }
    fn free(&self, pfn: Pfn, count: usize) {
        match count {
            1 => put_one(self, pfn),
            _ => self.shared().frames.free(pfn, count),
        }
        self.used.fetch_sub(count as isize, Ordering::Relaxed);
    }
    fn uncharge(&self, _: usize) {}
    fn charge(&self, _: usize) {}
    fn charged(&self) -> usize {
        self.reps()
            .map(|r| r.used.load(Ordering::Relaxed))
            .sum::<isize>()
            .max(0) as usize
    }
    fn cached(&self) -> usize {
        self.reps().map(|r| r.cache.lock().len()).sum()
    }
    fn drain(&self) -> usize {
        let frames = &self.shared().frames;
        self.reps()
            .map(|r| {
                let mut c = r.cache.lock();
                frames.free_many(&c);
                let n = c.len();
                c.clear();
                n
            })
            .sum()
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
    Ok(rt.create(StdRoot::<RootPm<P>>::per_cpu(RootShared {
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

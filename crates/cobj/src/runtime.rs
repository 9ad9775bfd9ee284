//! The runtime: translation tables, object ids, the miss path, destruction
//! and deferred reclamation.
//!
//! Layout (notes §1): object `id` has one *global* entry (`entries[id]`:
//! the Root, a state word, the set of processors that cached a Rep) and
//! one *local* entry per processor (`cpus[k].table[id]`: that processor's
//! Rep, or null). The relation is fixed: the same index in both tables.
//! The local table of a processor is written by that processor (installing
//! Reps on a miss) and cleared by whoever flushes the object; it is a cache
//! that can be dropped at any time, because a null entry takes the miss
//! path back to the Root.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::any::Any;

use crate::error::Error;
use crate::platform::{CpuId, Platform, MAX_CPUS};
use crate::quiesce::{CpuGen, Marker};
use crate::root::{Rep, Root};
use crate::sync::{spin_loop, AtomicPtr, AtomicU64, AtomicUsize, Mutex, Ordering};

// The global entry's state word: a phase, a flag and a count of misses in
// flight (calls between reading the Root and installing their Rep).
pub(crate) const PHASE_MASK: u64 = 0b11;
pub(crate) const FREE: u64 = 0;
pub(crate) const NORMAL: u64 = 1;
pub(crate) const SWITCHING: u64 = 2;
pub(crate) const DESTROYING: u64 = 3;
pub(crate) const MONITORED: u64 = 1 << 2;
pub(crate) const MISS_ONE: u64 = 1 << 8;

// The reference word: strong handles, two flags, and a sequence number that
// changes each time the id is reused (for weak references).
pub(crate) const HANDLES: u64 = 0xffff_ffff;
pub(crate) const DESTROYED: u64 = 1 << 32;
pub(crate) const RECLAIMED: u64 = 1 << 33;
pub(crate) const SEQ_SHIFT: u32 = 40;

/// Table capacity and other knobs of a [`Runtime`].
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Number of object ids (entries in each translation table). Each
    /// processor's local table costs 8 bytes per id.
    pub max_objects: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { max_objects: 4096 }
    }
}

/// A Root behind a thin pointer, with its interface type erased (and
/// checked again on the way back).
pub(crate) struct ErasedRoot(pub(crate) Box<dyn Any + Send + Sync>);

pub(crate) struct GlobalEntry {
    pub(crate) state: AtomicU64,
    pub(crate) refs: AtomicU64,
    /// Processors whose local table may hold a Rep of this object.
    pub(crate) used: AtomicU64,
    pub(crate) root: AtomicPtr<ErasedRoot>,
    /// The swap mediator while the phase is `SWITCHING`.
    pub(crate) mediator: AtomicPtr<crate::swap::Mediator>,
    /// The call monitor while `MONITORED` is set.
    pub(crate) monitor: AtomicPtr<crate::swap::MonitorStats>,
}

impl GlobalEntry {
    fn new() -> Self {
        GlobalEntry {
            state: AtomicU64::new(FREE),
            refs: AtomicU64::new(0),
            used: AtomicU64::new(0),
            root: AtomicPtr::new(core::ptr::null_mut()),
            mediator: AtomicPtr::new(core::ptr::null_mut()),
            monitor: AtomicPtr::new(core::ptr::null_mut()),
        }
    }
}

/// Work that waits for a marker to elapse.
pub(crate) enum Work {
    /// Drop the Root (and with it the Reps), then free the id.
    Object { id: usize, root: Box<ErasedRoot> },
    /// Drop a mediator or a monitor.
    Drop(#[allow(dead_code)] Box<dyn Any + Send>),
}

pub(crate) struct Deferred {
    pub(crate) marker: Marker,
    pub(crate) work: Work,
}

struct Ids {
    next: usize,
    end: usize,
    free: Vec<usize>,
}

/// Per-processor state that other processors touch now and then.
#[repr(align(128))]
struct Cold {
    /// Deferred work with local markers of this processor.
    limbo: Mutex<Vec<Deferred>>,
    /// `limbo.len()`, readable without the lock.
    limbo_len: AtomicUsize,
    /// This processor's partition of the id space.
    ids: Mutex<Ids>,
}

/// One processor's state. `gen` and `table` are read on every call and
/// written only by this processor (the table is also cleared by flushes).
pub(crate) struct PerCpu {
    pub(crate) gen: CpuGen,
    pub(crate) table: Box<[AtomicPtr<()>]>,
    cold: Cold,
}

static NEXT_RUNTIME: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(1);

/// The clustered-object runtime of one machine (the kernel has one; a
/// hosted program may have several): translation tables, the quiescence
/// token and the deferred-reclamation lists.
pub struct Runtime<P: Platform> {
    pub(crate) platform: P,
    pub(crate) ncpus: usize,
    pub(crate) cpus: Box<[PerCpu]>,
    pub(crate) entries: Box<[GlobalEntry]>,
    pub(crate) token: AtomicU64,
    pub(crate) instance: usize,
    limbo: Mutex<Vec<Deferred>>,
    /// The earliest global marker in `limbo` (`u64::MAX`: none), so that
    /// the hook looks at the list only when something may be due.
    limbo_next: AtomicU64,
}

impl<P: Platform> Runtime<P> {
    /// A runtime for `platform`'s processors. All processors start offline:
    /// mark each online ([`cpu_online`](Runtime::cpu_online)) once it calls
    /// the quiescent hook (hosted threads do so by entering a processor).
    pub fn new(platform: P, config: Config) -> Result<Self, Error> {
        let ncpus = platform.cpu_count();
        if ncpus == 0 {
            return Err(Error::NoProcessors);
        }
        if ncpus > MAX_CPUS {
            return Err(Error::TooManyProcessors(ncpus));
        }
        let cap = config.max_objects;
        if cap == 0 || cap > (1 << 31) {
            return Err(Error::BadCapacity(cap));
        }
        let cpus = (0..ncpus)
            .map(|k| PerCpu {
                gen: CpuGen::new(),
                table: (0..cap)
                    .map(|_| AtomicPtr::new(core::ptr::null_mut()))
                    .collect(),
                cold: Cold {
                    limbo: Mutex::new(Vec::new()),
                    limbo_len: AtomicUsize::new(0),
                    ids: Mutex::new(Ids {
                        next: k * cap / ncpus,
                        end: (k + 1) * cap / ncpus,
                        free: Vec::new(),
                    }),
                },
            })
            .collect();
        Ok(Runtime {
            platform,
            ncpus,
            cpus,
            entries: (0..cap).map(|_| GlobalEntry::new()).collect(),
            token: AtomicU64::new(0),
            instance: NEXT_RUNTIME.fetch_add(1, core::sync::atomic::Ordering::Relaxed),
            limbo: Mutex::new(Vec::new()),
            limbo_next: AtomicU64::new(u64::MAX),
        })
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Number of processors.
    pub fn cpu_count(&self) -> usize {
        self.ncpus
    }

    /// Capacity of the object tables.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Creates a clustered object from its Root.
    pub fn create<I: ?Sized + 'static>(
        &self,
        root: impl Root<I>,
    ) -> Result<crate::CoRef<'_, I, P>, Error> {
        self.create_boxed(Box::new(root))
    }

    /// Creates a clustered object from a boxed Root.
    pub fn create_boxed<I: ?Sized + 'static>(
        &self,
        root: Box<dyn Root<I>>,
    ) -> Result<crate::CoRef<'_, I, P>, Error> {
        let id = self.alloc_id()?;
        let e = &self.entries[id];
        e.used.store(0, Ordering::Relaxed);
        e.root.store(
            Box::into_raw(Box::new(ErasedRoot(Box::new(root)))),
            Ordering::Relaxed,
        );
        let seq = e.refs.load(Ordering::Relaxed) >> SEQ_SHIFT;
        e.refs.store((seq << SEQ_SHIFT) | 1, Ordering::Relaxed);
        e.state.store(NORMAL, Ordering::Release);
        Ok(crate::CoRef::from_id(self, id))
    }

    fn alloc_id(&self) -> Result<usize, Error> {
        let home = self
            .platform
            .current_cpu()
            .filter(|&c| c < self.ncpus)
            .unwrap_or(0);
        for i in 0..self.ncpus {
            let mut ids = self.cpus[(home + i) % self.ncpus].cold.ids.lock();
            if let Some(id) = ids.free.pop() {
                return Ok(id);
            }
            if ids.next < ids.end {
                ids.next += 1;
                return Ok(ids.next - 1);
            }
        }
        Err(Error::TableFull)
    }

    fn free_id(&self, id: usize) {
        let e = &self.entries[id];
        let seq = (e.refs.load(Ordering::Acquire) >> SEQ_SHIFT) + 1;
        e.refs.store(
            (seq & ((1 << (64 - SEQ_SHIFT)) - 1)) << SEQ_SHIFT,
            Ordering::Release,
        );
        let cap = self.entries.len();
        // Inverse of the partition in `new`: the owner k has
        // k*cap/n <= id < (k+1)*cap/n.
        let owner = (0..self.ncpus)
            .find(|&k| id < (k + 1) * cap / self.ncpus)
            .unwrap_or(self.ncpus - 1);
        self.cpus[owner].cold.ids.lock().free.push(id);
    }

    /// The typed Root of a live entry. The caller must keep the Root from
    /// being freed or replaced (a miss in flight, or the switching phase).
    pub(crate) fn root_of<I: ?Sized + 'static>(&self, e: &GlobalEntry) -> Option<&dyn Root<I>> {
        let p = e.root.load(Ordering::Acquire);
        // SAFETY: see the caller's obligation above; `p` came from
        // `Box::into_raw` and is freed only after the object is unlinked.
        let erased = unsafe { p.as_ref() }?;
        erased.0.downcast_ref::<Box<dyn Root<I>>>().map(|b| &**b)
    }

    /// Clears the local entries of `id` on every processor in `used`.
    pub(crate) fn flush(&self, id: usize, used: u64) {
        for k in 0..self.ncpus {
            if used & (1 << k) != 0 {
                self.cpus[k].table[id].store(core::ptr::null_mut(), Ordering::Release);
            }
        }
    }

    /// Waits until no miss of entry `e` is in flight.
    pub(crate) fn wait_misses(&self, e: &GlobalEntry) {
        while e.state.load(Ordering::Acquire) >= MISS_ONE {
            spin_loop();
            self.platform.relax();
        }
    }

    /// Waits for `done`, running the quiescent hook meanwhile.
    pub(crate) fn wait_until(&self, mut done: impl FnMut() -> bool) {
        while !done() {
            self.quiescent();
            spin_loop();
            self.platform.relax();
        }
    }

    /// `Err(InCall)` if the caller is inside a call on this processor.
    pub(crate) fn check_not_in_call(&self) -> Result<(), Error> {
        match self.platform.current_cpu() {
            Some(k) if k < self.ncpus && self.cpus[k].gen.in_progress() != 0 => Err(Error::InCall),
            _ => Ok(()),
        }
    }

    /// The quiescent-state hook. The kernel calls it from its timer tick
    /// and idle loop, hosted threads at points of their choice; it is safe
    /// to call anywhere. It advances the processor's generation when its
    /// old calls have drained, passes the quiescence token, and runs
    /// reclamation whose marker has elapsed.
    pub fn quiescent(&self) {
        match self.platform.current_cpu() {
            Some(k) if k < self.ncpus => self.hook(k),
            _ => {
                self.help_offline();
                self.reclaim(None);
            }
        }
    }

    /// The quiescent-state hook for an interrupt handler: advances this
    /// processor's generation and passes the token like [`quiescent`],
    /// but runs no reclaimed work, since that runs destructors of
    /// arbitrary objects (which may take locks the interrupted code
    /// holds). Call [`reclaim_elapsed`] (or [`quiescent`]) from a context
    /// where destructors may run, such as the idle loop.
    ///
    /// [`quiescent`]: Runtime::quiescent
    /// [`reclaim_elapsed`]: Runtime::reclaim_elapsed
    pub fn quiescent_announce(&self) {
        match self.platform.current_cpu() {
            Some(k) if k < self.ncpus => self.announce(k),
            _ => self.help_offline(),
        }
    }

    /// Runs the deferred work whose grace period has elapsed (this
    /// processor's list and the global one).
    pub fn reclaim_elapsed(&self) {
        match self.platform.current_cpu() {
            Some(k) if k < self.ncpus => self.reclaim(Some(k)),
            _ => self.reclaim(None),
        }
    }

    /// Marks processor `cpu` online: it makes calls and runs the quiescent
    /// hook, and the quiescence token waits for it.
    pub fn cpu_online(&self, cpu: CpuId) -> Result<(), Error> {
        if cpu >= self.ncpus {
            return Err(Error::BadProcessor(cpu));
        }
        self.set_online(cpu);
        Ok(())
    }

    /// Marks processor `cpu` offline: the token skips it while it has no
    /// call in progress.
    ///
    /// # Safety
    ///
    /// No code may call clustered objects as processor `cpu` until it is
    /// marked online again.
    pub unsafe fn cpu_offline(&self, cpu: CpuId) -> Result<(), Error> {
        if cpu >= self.ncpus {
            return Err(Error::BadProcessor(cpu));
        }
        self.set_offline(cpu);
        // Deferred work waiting on this processor's local generation waits
        // on the global one instead.
        let local: Vec<Deferred> = {
            let cold = &self.cpus[cpu].cold;
            let mut list = cold.limbo.lock();
            cold.limbo_len.store(0, Ordering::Release);
            core::mem::take(&mut *list)
        };
        if !local.is_empty() {
            let marker = self.global_marker();
            for d in local {
                self.defer(marker, d.work);
            }
        }
        Ok(())
    }

    /// Queues `work` until `marker` elapses.
    pub(crate) fn defer(&self, marker: Marker, work: Work) {
        match marker {
            Marker::Local { cpu, .. } => {
                let cold = &self.cpus[cpu].cold;
                let mut list = cold.limbo.lock();
                list.push(Deferred { marker, work });
                cold.limbo_len.store(list.len(), Ordering::Release);
            }
            Marker::Global(g) => {
                let mut list = self.limbo.lock();
                list.push(Deferred { marker, work });
                if g < self.limbo_next.load(Ordering::Relaxed) {
                    self.limbo_next.store(g, Ordering::Release);
                }
            }
        }
    }

    /// Runs deferred work whose marker has elapsed: the global list, and
    /// processor `cpu`'s local list (all local lists when `None`).
    pub(crate) fn reclaim(&self, cpu: Option<CpuId>) {
        let mut ready = Vec::new();
        let next = self.limbo_next.load(Ordering::Acquire);
        if next != u64::MAX && crate::quiesce::token_gen(self.token.load(Ordering::Acquire)) >= next
        {
            if let Some(mut list) = self.limbo.try_lock() {
                self.take_elapsed(&mut list, &mut ready);
                self.update_limbo_next(&list);
            }
        }
        let mut local = |c: &PerCpu| {
            if c.cold.limbo_len.load(Ordering::Acquire) != 0 {
                if let Some(mut list) = c.cold.limbo.try_lock() {
                    self.take_elapsed(&mut list, &mut ready);
                    c.cold.limbo_len.store(list.len(), Ordering::Release);
                }
            }
        };
        match cpu {
            Some(k) => local(&self.cpus[k]),
            None => self.cpus.iter().for_each(local),
        }
        for d in ready {
            self.run(d.work);
        }
    }

    /// Recomputes `limbo_next`; called with the global list locked.
    fn update_limbo_next(&self, list: &[Deferred]) {
        let next = list
            .iter()
            .filter_map(|d| match d.marker {
                Marker::Global(g) => Some(g),
                Marker::Local { .. } => None,
            })
            .min()
            .unwrap_or(u64::MAX);
        self.limbo_next.store(next, Ordering::Release);
    }

    fn take_elapsed(&self, list: &mut Vec<Deferred>, ready: &mut Vec<Deferred>) {
        let mut i = 0;
        while i < list.len() {
            if self.elapsed(list[i].marker) {
                ready.push(list.swap_remove(i));
            } else {
                i += 1;
            }
        }
    }

    fn run(&self, work: Work) {
        match work {
            Work::Object { id, root } => {
                // Runs every Rep's destructor.
                drop(root);
                let e = &self.entries[id];
                e.state.store(FREE, Ordering::Release);
                let old = e.refs.fetch_or(RECLAIMED, Ordering::AcqRel);
                if old & HANDLES == 0 {
                    self.free_id(id);
                }
            }
            Work::Drop(b) => drop(b),
        }
    }

    /// Number of deferred reclamations not yet run.
    pub fn pending(&self) -> usize {
        self.limbo.lock().len()
            + self
                .cpus
                .iter()
                .map(|c| c.cold.limbo.lock().len())
                .sum::<usize>()
    }

    /// Waits until everything destroyed before this call has been
    /// reclaimed. Needs every online processor to pass quiescent points.
    pub fn synchronize(&self) -> Result<(), Error> {
        self.check_not_in_call()?;
        let marker = self.global_marker();
        self.wait_until(|| self.elapsed(marker));
        // Local markers are elapsed too once their processor flipped twice,
        // which passing the token twice implies.
        self.reclaim(None);
        let pending: Vec<Deferred> = {
            let mut all = Vec::new();
            let mut list = self.limbo.lock();
            self.take_elapsed(&mut list, &mut all);
            self.update_limbo_next(&list);
            drop(list);
            for c in self.cpus.iter() {
                let mut list = c.cold.limbo.lock();
                self.take_elapsed(&mut list, &mut all);
                c.cold.limbo_len.store(list.len(), Ordering::Release);
            }
            all
        };
        for d in pending {
            self.run(d.work);
        }
        Ok(())
    }

    /// Number of live object ids (created and not yet reclaimed).
    pub fn live_objects(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.state.load(Ordering::Acquire) & PHASE_MASK != FREE)
            .count()
    }

    /// Destroys object `id`: unlink now, reclaim after quiescence.
    pub(crate) fn destroy_id(&self, id: usize) -> Result<(), Error> {
        let e = &self.entries[id];
        let mut st = e.state.load(Ordering::Acquire);
        loop {
            match st & PHASE_MASK {
                NORMAL => {}
                SWITCHING => return Err(Error::Busy),
                _ => return Err(Error::Destroyed),
            }
            match e.state.compare_exchange_weak(
                st,
                (st & !(PHASE_MASK | MONITORED)) | DESTROYING,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => st = now,
            }
        }
        e.refs.fetch_or(DESTROYED, Ordering::AcqRel);
        self.wait_misses(e);
        let used = e.used.swap(0, Ordering::AcqRel);
        self.flush(id, used);
        let monitor = e.monitor.swap(core::ptr::null_mut(), Ordering::AcqRel);
        let root = e.root.swap(core::ptr::null_mut(), Ordering::AcqRel);
        // Local fast path: an object only this processor ever used waits for
        // this processor's generation alone.
        let marker = match self.platform.current_cpu() {
            Some(k) if k < self.ncpus && used & !(1u64 << k) == 0 => self.local_marker(k),
            _ => self.global_marker(),
        };
        if !monitor.is_null() {
            // SAFETY: the pointer came from `Arc::into_raw` in `monitor`.
            let arc = unsafe { alloc::sync::Arc::from_raw(monitor) };
            self.defer(marker, Work::Drop(Box::new(arc)));
        }
        if !root.is_null() {
            // SAFETY: from `Box::into_raw` in `create_boxed` or `switch`;
            // swapped out above, so we own it.
            let root = unsafe { Box::from_raw(root) };
            self.defer(marker, Work::Object { id, root });
        }
        Ok(())
    }

    /// Runs `f` on every Rep of object `id`, holding the Root in place
    /// (as a miss in flight does).
    pub(crate) fn visit<I: ?Sized + 'static>(
        &self,
        id: usize,
        f: &mut dyn FnMut(&I),
    ) -> Result<(), Error> {
        let e = &self.entries[id];
        let mut st = e.state.load(Ordering::Acquire);
        loop {
            match st & PHASE_MASK {
                NORMAL => {}
                SWITCHING => return Err(Error::Busy),
                _ => return Err(Error::Destroyed),
            }
            match e.state.compare_exchange_weak(
                st,
                st + MISS_ONE,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => st = now,
            }
        }
        let _in_flight = MissInFlight(&e.state);
        let root = self.root_of::<I>(e).ok_or(Error::Destroyed)?;
        root.visit(f);
        Ok(())
    }

    /// Drops one strong handle of `id`.
    pub(crate) fn release(&self, id: usize) {
        let e = &self.entries[id];
        let old = e.refs.fetch_sub(1, Ordering::AcqRel);
        if old & HANDLES != 1 {
            return;
        }
        if old & RECLAIMED != 0 {
            self.free_id(id);
        } else if old & DESTROYED == 0 {
            // The last handle is gone: nobody can call it any more.
            let _ = self.destroy_id(id);
        }
    }

    /// Takes one more strong handle of `id` (the caller holds one).
    pub(crate) fn retain(&self, id: usize) {
        self.entries[id].refs.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes a strong handle from a weak reference if `seq` still names a
    /// live object.
    pub(crate) fn upgrade(&self, id: usize, seq: u64) -> bool {
        let e = &self.entries[id];
        let mut cur = e.refs.load(Ordering::Acquire);
        loop {
            if cur >> SEQ_SHIFT != seq || cur & (DESTROYED | RECLAIMED) != 0 || cur & HANDLES == 0 {
                return false;
            }
            match e
                .refs
                .compare_exchange_weak(cur, cur + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    pub(crate) fn seq(&self, id: usize) -> u64 {
        self.entries[id].refs.load(Ordering::Acquire) >> SEQ_SHIFT
    }

    /// The miss path: the local entry was empty.
    #[cold]
    #[inline(never)]
    pub(crate) fn miss<'s, I: ?Sized + 'static, R>(
        &'s self,
        id: usize,
        cpu: CpuId,
        mut active: Active<'s>,
        f: impl FnOnce(&I) -> R,
    ) -> Result<R, Error> {
        let e = &self.entries[id];
        let pc = &self.cpus[cpu];
        loop {
            let local = pc.table[id].load(Ordering::Acquire);
            if !local.is_null() {
                // SAFETY: as on the fast path (`CoRef::call`).
                let rep = unsafe { &*(local as *const Rep<I>) };
                return Ok(f(rep.get()));
            }
            let st = e.state.load(Ordering::Acquire);
            match st & PHASE_MASK {
                NORMAL => {
                    if e.state
                        .compare_exchange_weak(
                            st,
                            st + MISS_ONE,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        )
                        .is_err()
                    {
                        continue;
                    }
                    // Uncounts the miss even if `handle_miss` panics, so a
                    // later swap or destroy does not wait forever.
                    let in_flight = MissInFlight(&e.state);
                    let Some(root) = self.root_of::<I>(e) else {
                        return Err(Error::Destroyed);
                    };
                    let rep: *const Rep<I> = root.handle_miss(cpu);
                    self.platform.on_miss(id, cpu);
                    // Recorded under the miss count, so a flush (which
                    // waits for misses) cannot clear it behind our back; only
                    // the first miss of a processor writes the shared word.
                    if e.used.load(Ordering::Acquire) & (1 << cpu) == 0 {
                        e.used.fetch_or(1 << cpu, Ordering::AcqRel);
                    }
                    let monitor = if st & MONITORED != 0 {
                        e.monitor.load(Ordering::Acquire)
                    } else {
                        pc.table[id].store(rep as *mut (), Ordering::Release);
                        core::ptr::null_mut()
                    };
                    drop(in_flight);
                    // SAFETY: the Rep (owned by the Root) and the monitor
                    // are freed only after a marker taken after they were
                    // unlinked has elapsed, which `active` prevents.
                    let rep = unsafe { &*rep };
                    return Ok(match unsafe { monitor.as_ref() } {
                        Some(m) => m.time_call(&self.platform, || f(rep.get())),
                        None => f(rep.get()),
                    });
                }
                SWITCHING => {
                    let mediator = e.mediator.load(Ordering::Acquire);
                    // SAFETY: a mediator is freed only after quiescence
                    // following its unlink; `active` holds that off.
                    let Some(m) = (unsafe { mediator.as_ref() }) else {
                        spin_loop();
                        continue;
                    };
                    if let Some(fwd) = m.enter_forward(cpu) {
                        let Some(root) = self.root_of::<I>(e) else {
                            return Err(Error::Destroyed);
                        };
                        // No `used` bit: nothing is installed, and the swap
                        // drains every forwarded call before it completes,
                        // so no later destroy can overlap this call.
                        let rep = root.handle_miss(cpu);
                        let r = f(rep.get());
                        drop(fwd);
                        return Ok(r);
                    }
                    // Blocked: wait outside the call count, then retry on
                    // whatever is installed then. Stop waiting as soon as
                    // this swap is over, even if another swap of the same
                    // object has already begun: that one forwards calls
                    // while it waits for quiescence, and this processor may
                    // not become quiescent (an outer call is still open on
                    // it) until this call has run.
                    drop(active);
                    while e.state.load(Ordering::Acquire) & PHASE_MASK == SWITCHING
                        && core::ptr::eq(e.mediator.load(Ordering::Acquire), mediator)
                    {
                        self.hook(cpu);
                        spin_loop();
                        self.platform.relax();
                    }
                    active = Active::enter(&pc.gen);
                }
                _ => return Err(Error::Destroyed),
            }
        }
    }
}

struct MissInFlight<'a>(&'a AtomicU64);

impl Drop for MissInFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(MISS_ONE, Ordering::Release);
    }
}

/// A call in progress on a processor (counted in its current generation).
pub(crate) struct Active<'a> {
    counter: &'a AtomicUsize,
    before: usize,
}

impl<'a> Active<'a> {
    #[inline(always)]
    pub(crate) fn enter(gen: &'a CpuGen) -> Self {
        let (counter, before) = gen.enter();
        Active { counter, before }
    }
}

impl Drop for Active<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        CpuGen::exit(self.counter, self.before);
    }
}

impl<P: Platform> Drop for Runtime<P> {
    fn drop(&mut self) {
        // No handle outlives the runtime, so nothing runs: reclaim all.
        let mut all: Vec<Deferred> = core::mem::take(&mut *self.limbo.lock());
        for c in self.cpus.iter() {
            all.extend(core::mem::take(&mut *c.cold.limbo.lock()));
        }
        for d in all {
            self.run(d.work);
        }
        for e in self.entries.iter() {
            let root = e.root.swap(core::ptr::null_mut(), Ordering::AcqRel);
            if !root.is_null() {
                // SAFETY: owned by the entry; nothing else can reach it now.
                drop(unsafe { Box::from_raw(root) });
            }
            let monitor = e.monitor.swap(core::ptr::null_mut(), Ordering::AcqRel);
            if !monitor.is_null() {
                // SAFETY: from `Arc::into_raw`.
                drop(unsafe { alloc::sync::Arc::from_raw(monitor) });
            }
        }
    }
}

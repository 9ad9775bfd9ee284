//! File cache managers: the pages of one "file" and their local policy
//! (notes §4).
//!
//! An FCM answers the question of a fault, "which frame holds this offset
//! of the file?", finding the page in its cache, reading it through its
//! FR, copying it from a copy-on-write ancestor, or zero-filling it, and
//! installs the translation through the faulting address space's HAT. It
//! also knows every range that maps it ([`Attachment`]s), so it can take a
//! page away again (eviction, fork).
//!
//! One Rep type, [`PagedFcm`], is generic over its paging [`Policy`]:
//! [`Fifo`], [`Clock`] (second chance on the HAT's accessed bits) and
//! [`Pinned`] (never evicts: fixed memory, and the frozen ancestors of
//! forked memory). The *kind* of the FCM ([`FcmKind`]) says where pages
//! come from: `Computation` (anonymous memory: swap, then the
//! copy-on-write ancestor, then zero-fill), `File` (the FR), or `Frozen`
//! (the pages an anonymous FCM had when its process forked, shared
//! read-only by parent and child).
//!
//! All state lives in one [`FcmCore`], moved whole by a hot swap (format
//! [`FCM_CORE`]), so a live FCM can change policy, FIFO to clock, while
//! faults continue: calls made during the swap wait and then run on the
//! new policy with the same pages.

use crate::sync::{Mutex, MutexGuard};
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::marker::PhantomData;

use cobj::{CoRef, Format, Local, Platform, RepType, Runtime, StdRoot, Transfer, TransferError};

use crate::fr::{fill, next_io, AnonFr, IoDone, PageIn};
use crate::frames::Frames;
use crate::hat::{Hat, Scope};
use crate::types::{Access, IoId, MmError, Pfn, Prot, PAGE_SIZE};
use crate::{FrRef, PmRef};

/// A handle on an FCM.
pub type FcmRef<P> = CoRef<'static, dyn Fcm<P>, P>;

/// The process side of out-of-core faults: the faulting process's
/// dispatcher gets "page fault pending" and, later, the completion.
pub trait Dispatcher: Send + Sync {
    /// The fault at `va` waits for I/O `io`; run another thread.
    fn page_fault_pending(&self, io: IoId, va: u64);
    /// I/O `io` finished (the page is in, or the read failed); the waiting
    /// thread may retry.
    fn page_fault_done(&self, io: IoId, result: Result<(), MmError>);
}

/// A dispatcher waiting for an I/O, with the faulting address.
pub type Waiter = (Arc<dyn Dispatcher>, u64);
/// A [`Waiter`] as the fault path passes it: borrowed, so a fault that
/// needs no I/O writes no shared reference count.
pub type WaiterRef<'a> = (&'a Arc<dyn Dispatcher>, u64);

/// A virtual range mapping an FCM.
#[derive(Clone)]
pub struct Attachment {
    /// The address space's HAT.
    pub hat: Arc<dyn Hat>,
    /// First virtual address.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// File offset mapped at `start`.
    pub offset: u64,
    /// Per-processor: processor `k` maps offsets `offset + k * len ..`.
    pub per_cpu: bool,
}

impl Attachment {
    fn same(&self, hat: &Arc<dyn Hat>, start: u64, len: u64) -> bool {
        core::ptr::addr_eq(Arc::as_ptr(&self.hat), Arc::as_ptr(hat))
            && self.start == start
            && self.len == len
    }

    /// Where file offset `off` is mapped by this attachment.
    fn place(&self, off: u64) -> Option<(u64, Scope)> {
        let d = off.checked_sub(self.offset)?;
        if self.per_cpu {
            let cpu = (d / self.len) as usize;
            (cpu < cobj::MAX_CPUS).then(|| (self.start + d % self.len, Scope::Cpu(cpu)))
        } else {
            (d < self.len).then_some((self.start + d, Scope::All))
        }
    }
}

/// What a fault needs to know.
pub struct FaultCx<'a, P: Platform> {
    /// The faulting address space's HAT.
    pub hat: &'a dyn Hat,
    /// The page (unit) address that faulted.
    pub va: u64,
    /// Its file offset.
    pub offset: u64,
    /// The access.
    pub access: Access,
    /// The region's protection.
    pub prot: Prot,
    /// Where the translation goes.
    pub scope: Scope,
    /// The FCM being called (for the I/O completion).
    pub me: &'a FcmRef<P>,
    /// Who to tell when an I/O completes.
    pub waiter: WaiterRef<'a>,
}

/// How a fault ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// The translation is installed; retry the access.
    Mapped,
    /// The page is being read: the dispatcher gets the upcall.
    Pending(IoId),
}

/// What an FCM's last user leaving did.
pub enum Detached<P: Platform> {
    /// Others still use the FCM.
    StillUsed,
    /// The FCM freed its frames; its copy-on-write ancestor (if any) loses
    /// a user in turn.
    Released(Option<FcmRef<P>>),
}

/// What a copy-on-write lookup found.
pub enum Lookup<P: Platform> {
    /// The frame holding the unit (frozen, shared read-only).
    Frame(Pfn),
    /// Nobody has it: zero-fill.
    Missing,
    /// The chain ends at this file FCM: copy from it.
    File(FcmRef<P>),
}

/// Where an FCM's pages come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FcmKind {
    /// Anonymous memory: swap, copy-on-write ancestor, zero-fill.
    Computation,
    /// A mapped file, through its FR.
    File,
    /// The frozen pages of a fork, shared read-only.
    Frozen,
}

/// A snapshot of an FCM for tests and statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FcmInfo {
    /// The policy's name.
    pub policy: &'static str,
    /// The kind.
    pub kind: FcmKind,
    /// Units (pages or large pages) in the cache.
    pub resident: usize,
    /// Base pages per unit (1, or 512 for large pages).
    pub unit_pages: usize,
    /// Faults served.
    pub faults: u64,
    /// Pages evicted.
    pub evictions: u64,
    /// Users: attached ranges, or children for a frozen FCM.
    pub users: usize,
}

/// The interface of an FCM.
pub trait Fcm<P: Platform>: Send + Sync {
    /// Resolves a fault (see the module docs).
    fn fault(&self, cx: &FaultCx<'_, P>) -> Result<Resolved, MmError>;
    /// A range starts mapping this FCM.
    fn attach(&self, a: Attachment);
    /// The range `[start, start + len)` in `hat` stops mapping this FCM
    /// (its translations are already gone).
    fn detach(&self, hat: &Arc<dyn Hat>, start: u64, len: u64) -> Detached<P>;
    /// A copy-on-write child goes away (frozen FCMs).
    fn release_user(&self) -> Detached<P>;
    /// One more user (a copy-on-write child).
    fn add_user(&self);
    /// The frame of `unit` here or in an ancestor (frozen FCMs), or the
    /// file FCM at the top of the chain that has to provide it.
    fn lookup_frozen(&self, unit: u64) -> Result<Lookup<P>, MmError>;
    /// Hands `unit`'s frame over to the caller if the caller is this
    /// frozen FCM's only user left (the other side of the fork exited):
    /// the page then needs no copy. The frame leaves this FCM.
    fn take_sole(&self, unit: u64) -> Result<Option<Pfn>, MmError>;
    /// Copies `unit` into the frame `dst` for a private mapping (file
    /// FCMs): `None` when done, `Some(io)` when the page is being read
    /// (`waiter` is told when it completes; retry then). `me` is this FCM.
    fn copy_into(
        &self,
        unit: u64,
        dst: Pfn,
        waiter: WaiterRef<'_>,
        me: &FcmRef<P>,
    ) -> Result<Option<IoId>, MmError>;
    /// Fork: this FCM's pages become a frozen ancestor shared with a new
    /// child FCM (charged to `child_pm`), which is returned. Mappings of
    /// this FCM are write-protected, so the next store copies.
    fn fork(&self, child_pm: &PmRef<P>) -> Result<FcmRef<P>, MmError>;
    /// Evicts up to `units` units by the local policy; returns frames freed.
    fn evict(&self, units: usize) -> usize;
    /// Finishes a read (called by the FR's completion).
    fn io_done(&self, unit: u64, io: IoId, data: Result<&[u8], MmError>) -> Vec<Waiter>;
    /// Drops the pages of `[offset, offset + len)` (munmap of private
    /// memory); the translations are already gone.
    fn discard(&self, offset: u64, len: u64);
    /// Caps the units this FCM keeps resident (`None`: no cap).
    fn set_max_resident(&self, max: Option<usize>);
    /// A private view's range (an attachment of a copy-on-write child
    /// made by `map_file_private` or `map_private_from`) that may map
    /// this FCM's frames read-only ([`map_view`](Fcm::map_view)): its
    /// translations go wherever this FCM takes a page away. Not a user.
    fn add_view(&self, a: Attachment);
    /// The view `[start, start + len)` in `hat` is gone.
    fn remove_view(&self, hat: &Arc<dyn Hat>, start: u64, len: u64);
    /// Maps `unit` read-only at `va` in `hat` for a private view (a read
    /// of a page the view has not written: Linux `MAP_PRIVATE` shows the
    /// file until it writes the page), filling it first if needed:
    /// `None` when mapped, `Some(io)` when the page is being read (retry
    /// when `waiter` is told). `me` is this FCM.
    #[allow(clippy::too_many_arguments)]
    fn map_view(
        &self,
        unit: u64,
        hat: &dyn Hat,
        va: u64,
        prot: Prot,
        scope: Scope,
        waiter: WaiterRef<'_>,
        me: &FcmRef<P>,
    ) -> Result<Option<IoId>, MmError>;
    /// The end of the "file" (bytes, page aligned; `None`: no end): a
    /// fault at or past it is refused ([`MmError::BadAddress`]: SIGBUS
    /// for a file mapping), and the pages past it leave the cache and
    /// every mapping of it (the HAT unmaps them in each attachment).
    /// Pages being read in are kept. Returns the units dropped.
    fn set_limit(&self, limit: Option<u64>) -> usize;
    /// A snapshot.
    fn info(&self) -> FcmInfo;
}

/// The state an FCM's page-presence probe reports to a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// No longer cached: forget it.
    Gone,
    /// Being read: skip it for now.
    Busy,
    /// Cached.
    Present,
}

/// What a policy may ask about a unit while choosing a victim.
pub trait Probe {
    /// Whether the unit is cached.
    fn presence(&mut self, unit: u64) -> Presence;
    /// Reads and clears the unit's accessed bits in every mapping.
    fn referenced(&mut self, unit: u64) -> bool;
}

/// A local paging policy.
pub trait Policy: Send + Sync + 'static {
    /// For [`FcmInfo`].
    const NAME: &'static str;
    /// An empty policy.
    fn new() -> Self;
    /// A unit entered the cache.
    fn inserted(&mut self, unit: u64);
    /// The next unit to evict, if any.
    fn victim(&mut self, probe: &mut dyn Probe) -> Option<u64>;
}

/// First in, first out.
pub struct Fifo(VecDeque<u64>);

impl Policy for Fifo {
    const NAME: &'static str = "fifo";
    fn new() -> Self {
        Fifo(VecDeque::new())
    }
    fn inserted(&mut self, unit: u64) {
        self.0.push_back(unit);
    }
    fn victim(&mut self, probe: &mut dyn Probe) -> Option<u64> {
        for _ in 0..self.0.len() {
            let u = self.0.pop_front()?;
            match probe.presence(u) {
                Presence::Gone => {}
                Presence::Busy => self.0.push_back(u),
                Presence::Present => return Some(u),
            }
        }
        None
    }
}

/// Clock (second chance): a referenced unit gets its bit cleared and is
/// passed over once.
pub struct Clock {
    ring: Vec<u64>,
    hand: usize,
}

impl Policy for Clock {
    const NAME: &'static str = "clock";
    fn new() -> Self {
        Clock {
            ring: Vec::new(),
            hand: 0,
        }
    }
    fn inserted(&mut self, unit: u64) {
        self.ring.push(unit);
    }
    fn victim(&mut self, probe: &mut dyn Probe) -> Option<u64> {
        let mut steps = 2 * self.ring.len() + 1;
        while !self.ring.is_empty() && steps > 0 {
            steps -= 1;
            if self.hand >= self.ring.len() {
                self.hand = 0;
            }
            let u = self.ring[self.hand];
            match probe.presence(u) {
                Presence::Gone => {
                    self.ring.remove(self.hand);
                }
                Presence::Busy => self.hand += 1,
                Presence::Present if probe.referenced(u) => self.hand += 1,
                Presence::Present => {
                    self.ring.remove(self.hand);
                    return Some(u);
                }
            }
        }
        None
    }
}

/// Never evicts: fixed (pinned) memory.
pub struct Pinned;

impl Policy for Pinned {
    const NAME: &'static str = "pinned";
    fn new() -> Self {
        Pinned
    }
    fn inserted(&mut self, _: u64) {}
    fn victim(&mut self, _: &mut dyn Probe) -> Option<u64> {
        None
    }
}

struct Page {
    pfn: Pfn,
    /// A read in flight, and who waits for it.
    io: Option<(IoId, Vec<Waiter>)>,
}

/// Everything an FCM holds; moved whole by a hot swap.
pub struct FcmCore<P: Platform> {
    rt: &'static Runtime<P>,
    frames: Arc<dyn Frames>,
    pm: PmRef<P>,
    root_pm: PmRef<P>,
    fr: Option<FrRef<P>>,
    parent: Option<FcmRef<P>>,
    /// The parent is a file FCM (a private file mapping): copy from it.
    parent_file: bool,
    kind: FcmKind,
    unit_pages: usize,
    pages: BTreeMap<u64, Page>,
    attachments: Vec<Attachment>,
    /// Private views' ranges that may map this FCM's frames read-only.
    views: Vec<Attachment>,
    /// The FCM this one's attachments were registered with as views.
    view_of: Option<FcmRef<P>>,
    users: usize,
    max_resident: Option<usize>,
    /// The file's end ([`Fcm::set_limit`]).
    limit: Option<u64>,
    faults: u64,
    evictions: u64,
}

impl<P: Platform> FcmCore<P> {
    /// A new, empty FCM core.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        rt: &'static Runtime<P>,
        frames: Arc<dyn Frames>,
        pm: PmRef<P>,
        root_pm: PmRef<P>,
        fr: Option<FrRef<P>>,
        kind: FcmKind,
        unit_pages: usize,
    ) -> Self {
        FcmCore {
            rt,
            frames,
            pm,
            root_pm,
            fr,
            parent: None,
            parent_file: false,
            kind,
            unit_pages,
            pages: BTreeMap::new(),
            attachments: Vec::new(),
            views: Vec::new(),
            view_of: None,
            users: 0,
            max_resident: None,
            limit: None,
            faults: 0,
            evictions: 0,
        }
    }

    /// Makes this (computation) FCM a private copy of `file` (a file
    /// FCM): misses copy the file's page. The caller adds a user to
    /// `file` ([`Fcm::add_user`]).
    pub fn with_file_parent(mut self, file: FcmRef<P>) -> Self {
        self.parent = Some(file);
        self.parent_file = true;
        self
    }

    fn unit_bytes(&self) -> u64 {
        (self.unit_pages * PAGE_SIZE) as u64
    }

    fn large(&self) -> bool {
        self.unit_pages > 1
    }

    fn places(&self, unit: u64) -> impl Iterator<Item = (&Arc<dyn Hat>, u64, Scope)> + '_ {
        let off = unit * self.unit_bytes();
        self.attachments
            .iter()
            .chain(&self.views)
            .filter_map(move |a| a.place(off).map(|(va, s)| (&a.hat, va, s)))
    }

    fn pm_alloc(&self) -> Result<Pfn, MmError> {
        self.pm.call(|p| p.alloc(self.unit_pages))?
    }

    fn pm_free(&self, pfn: Pfn) {
        let _ = self.pm.call(|p| p.free(pfn, self.unit_pages));
    }
}

/// The probe a policy sees: presence from the cache, references from the
/// HATs of the attached ranges.
struct CoreProbe<'a, P: Platform>(&'a FcmCore<P>);

impl<P: Platform> Probe for CoreProbe<'_, P> {
    fn presence(&mut self, unit: u64) -> Presence {
        match self.0.pages.get(&unit) {
            None => Presence::Gone,
            Some(p) if p.io.is_some() => Presence::Busy,
            Some(_) => Presence::Present,
        }
    }
    fn referenced(&mut self, unit: u64) -> bool {
        let mut any = false;
        for (hat, va, scope) in self.0.places(unit) {
            any |= hat.take_accessed(va, scope);
        }
        any
    }
}

struct State<P: Platform, Pol> {
    core: FcmCore<P>,
    pol: Pol,
}

impl<P: Platform, Pol: Policy> State<P, Pol> {
    fn from_core(core: FcmCore<P>) -> Self {
        let mut pol = Pol::new();
        for u in core.pages.keys() {
            pol.inserted(*u);
        }
        State { core, pol }
    }

    /// Evicts one unit; false if the policy offers none.
    fn evict_one(&mut self) -> bool {
        let Some(unit) = self.pol.victim(&mut CoreProbe(&self.core)) else {
            return false;
        };
        let c = &mut self.core;
        let Some(page) = c.pages.remove(&unit) else {
            return false;
        };
        // Take the translations away first: no store may land after the
        // copy to the backing store.
        for (hat, va, scope) in c.places(unit) {
            hat.unmap(va, scope);
        }
        let off = unit * c.unit_bytes();
        if let Some(fr) = &c.fr {
            let out = fr.call(|f| f.page_out(off, page.pfn, c.unit_pages, &*c.frames));
            if !matches!(out, Ok(Ok(()))) {
                // Could not write it out: keep the page.
                c.pages.insert(unit, page);
                self.pol.inserted(unit);
                return false;
            }
        }
        c.pm_free(page.pfn);
        c.evictions += 1;
        true
    }

    /// A frame run for a new unit, evicting by the local policy when the
    /// FCM or its PM is full.
    fn alloc(&mut self) -> Result<Pfn, MmError> {
        loop {
            if self
                .core
                .max_resident
                .is_some_and(|m| self.core.pages.len() >= m)
            {
                if !self.evict_one() {
                    return Err(MmError::OutOfMemory);
                }
                continue;
            }
            match self.core.pm_alloc() {
                Err(MmError::OutOfMemory) => {
                    if !self.evict_one() {
                        return Err(MmError::OutOfMemory);
                    }
                }
                r => return r,
            }
        }
    }

    fn insert(&mut self, unit: u64, pfn: Pfn, io: Option<(IoId, Vec<Waiter>)>) {
        self.core.pages.insert(unit, Page { pfn, io });
        self.pol.inserted(unit);
    }

    /// Reads `unit` in through `fr` into a new frame: `Ok(pfn)` when it is
    /// in, `Err(io)` when the read is in flight (`waiter` is told when it
    /// completes; `me` is this FCM, for the completion).
    fn read_in(
        &mut self,
        fr: &FrRef<P>,
        unit: u64,
        waiter: WaiterRef<'_>,
        me: &FcmRef<P>,
    ) -> Result<Result<Pfn, IoId>, MmError> {
        let count = self.core.unit_pages;
        let offset = unit * self.core.unit_bytes();
        let pfn = self.alloc()?;
        let io = next_io();
        let me = me.clone();
        let done = IoDone::new(move |res| {
            let waiters = me
                .call(|f| f.io_done(unit, io, res.clone()))
                .unwrap_or_default();
            for (d, _) in waiters {
                d.page_fault_done(io, res.clone().map(|_| ()));
            }
        });
        let c = &self.core;
        match fr.call(|f| f.page_in(offset, pfn, count, &*c.frames, done))? {
            Ok(PageIn::Done) => {
                self.insert(unit, pfn, None);
                Ok(Ok(pfn))
            }
            Ok(PageIn::Pending) => {
                self.insert(
                    unit,
                    pfn,
                    Some((io, alloc::vec![(waiter.0.clone(), waiter.1)])),
                );
                Ok(Err(io))
            }
            Err(e) => {
                c.pm_free(pfn);
                Err(e)
            }
        }
    }

    fn fault(&mut self, cx: &FaultCx<'_, P>) -> Result<Resolved, MmError> {
        let c = &mut self.core;
        c.faults += 1;
        if c.limit.is_some_and(|l| cx.offset >= l) {
            return Err(MmError::BadAddress(cx.va));
        }
        let ub = c.unit_bytes();
        let unit = cx.offset / ub;
        let (count, large) = (c.unit_pages, c.large());
        // 1. In the cache.
        if let Some(page) = c.pages.get_mut(&unit) {
            if let Some((io, waiters)) = &mut page.io {
                waiters.push((cx.waiter.0.clone(), cx.waiter.1));
                return Ok(Resolved::Pending(*io));
            }
            let prot = if c.kind == FcmKind::Frozen {
                cx.prot.read_only()
            } else {
                cx.prot
            };
            cx.hat.map(cx.va, page.pfn, prot, large, cx.scope)?;
            return Ok(Resolved::Mapped);
        }
        // 2. In the backing store: a file, or a swapped-out page.
        if let Some(fr) = c.fr.clone() {
            let stored = c.kind == FcmKind::File || fr.call(|f| f.has(cx.offset))?;
            if stored {
                return match self.read_in(&fr, unit, cx.waiter, cx.me)? {
                    Ok(pfn) => {
                        cx.hat.map(cx.va, pfn, cx.prot, large, cx.scope)?;
                        Ok(Resolved::Mapped)
                    }
                    Err(io) => Ok(Resolved::Pending(io)),
                };
            }
        }
        // 3. A copy-on-write ancestor has it: a frozen FCM, or (private
        // file mappings) the file's FCM, which copies into a new frame.
        if let Some(parent) = self.core.parent.clone() {
            // The other side of the fork is gone: adopt the frame, no copy.
            if !self.core.parent_file {
                if let Some(pfn) = parent.call(|p| p.take_sole(unit))?? {
                    self.core.pm.call(|p| p.charge(count))?;
                    self.insert(unit, pfn, None);
                    cx.hat.map(cx.va, pfn, cx.prot, large, cx.scope)?;
                    return Ok(Resolved::Mapped);
                }
            }
            let found = if self.core.parent_file {
                Lookup::File(parent)
            } else {
                parent.call(|p| p.lookup_frozen(unit))??
            };
            if let Lookup::File(file) = found {
                // A read through a private view of the file itself: the
                // file's frame, read-only, until the view writes the page.
                if cx.access != Access::Write && self.core.parent_file && !large {
                    let mapped = file.call(|f| {
                        f.map_view(unit, cx.hat, cx.va, cx.prot, cx.scope, cx.waiter, &file)
                    })??;
                    return Ok(match mapped {
                        None => Resolved::Mapped,
                        Some(io) => Resolved::Pending(io),
                    });
                }
                let pfn = self.alloc()?;
                return match file.call(|f| f.copy_into(unit, pfn, cx.waiter, &file)) {
                    Ok(Ok(None)) => {
                        self.insert(unit, pfn, None);
                        cx.hat.map(cx.va, pfn, cx.prot, large, cx.scope)?;
                        Ok(Resolved::Mapped)
                    }
                    other => {
                        self.core.pm_free(pfn);
                        match other {
                            Ok(Ok(Some(io))) => Ok(Resolved::Pending(io)),
                            Ok(Err(e)) => Err(e),
                            Err(e) => Err(e.into()),
                            Ok(Ok(None)) => Err(MmError::Io),
                        }
                    }
                };
            }
            if let Lookup::Frame(src) = found {
                if cx.access == Access::Write {
                    let pfn = self.alloc()?;
                    self.core.frames.copy(src, pfn, count);
                    self.insert(unit, pfn, None);
                    cx.hat.map(cx.va, pfn, cx.prot, large, cx.scope)?;
                } else {
                    cx.hat
                        .map(cx.va, src, cx.prot.read_only(), large, cx.scope)?;
                }
                return Ok(Resolved::Mapped);
            }
        }
        // 4. Zero-fill.
        if self.core.kind == FcmKind::Frozen {
            return Err(MmError::Invalid("fault on a frozen FCM"));
        }
        let pfn = self.alloc()?;
        self.core.frames.zero(pfn, count);
        self.insert(unit, pfn, None);
        cx.hat.map(cx.va, pfn, cx.prot, large, cx.scope)?;
        Ok(Resolved::Mapped)
    }

    /// Frees every frame (writing file pages back) and hands back the
    /// ancestor.
    fn release(&mut self) -> Detached<P> {
        let c = &mut self.core;
        let ub = c.unit_bytes();
        for (unit, page) in core::mem::take(&mut c.pages) {
            if let (FcmKind::File, Some(fr), None) = (c.kind, &c.fr, &page.io) {
                let _ = fr.call(|f| f.page_out(unit * ub, page.pfn, c.unit_pages, &*c.frames));
            }
            c.pm_free(page.pfn);
        }
        if c.kind != FcmKind::File {
            // A file keeps its FR: it can be mapped again.
            c.fr = None;
        }
        c.attachments.clear();
        self.pol = Pol::new();
        Detached::Released(self.core.parent.take())
    }
}

/// The FCM Rep type: one Rep (shared by all processors), with its whole
/// state under one lock and a paging policy `Pol`.
pub struct PagedFcm<P: Platform, Pol: Policy> {
    state: Mutex<Option<State<P, Pol>>>,
    _p: PhantomData<fn(P)>,
}

/// The seed of a new FCM Root: the core it starts with (`None` for the
/// target of a hot swap, which gets its core by state transfer).
pub type FcmSeed<P> = Mutex<Option<FcmCore<P>>>;

/// The hot-swap state format of FCMs: the whole [`FcmCore`].
pub const FCM_CORE: Format = Format("mm-fcm-core-v1");

impl<P: Platform, Pol: Policy> RepType for PagedFcm<P, Pol> {
    type Interface = dyn Fcm<P>;
    type Shared = FcmSeed<P>;
    /// Empty: the Rep takes the seed at its first use ([`PagedFcm::with`]),
    /// not here. Two processors missing on a new FCM at once each make a
    /// Rep and only one is published (`cobj::RepType::new`); a Rep that
    /// took the seed here and lost would drop the FCM's pages with it.
    fn new(_: &Self::Shared, _: usize) -> Self {
        PagedFcm {
            state: Mutex::new(None),
            _p: PhantomData,
        }
    }
    fn interface(l: &Local<Self>) -> &Self::Interface {
        l
    }
    const EXPORTS: &'static [Format] = &[FCM_CORE];
    const IMPORTS: &'static [Format] = &[FCM_CORE];
    fn export(l: &Local<Self>, _: Format) -> Option<Transfer> {
        let core = seeded(l).take()?.core;
        Some(Box::new(core))
    }
    fn import(l: &Local<Self>, f: Format, s: Transfer) -> Result<(), TransferError> {
        let core = s
            .downcast::<FcmCore<P>>()
            .map_err(|_| TransferError::BadPayload(f))?;
        *l.state.lock() = Some(State::from_core(*core));
        Ok(())
    }
}

const MOVED: MmError = MmError::Invalid("FCM state has moved");

/// The Rep's state, taken from the Root's seed at the first use (after a
/// hot swap took it away, neither has it: [`MOVED`]).
fn seeded<P: Platform, Pol: Policy>(
    l: &Local<PagedFcm<P, Pol>>,
) -> MutexGuard<'_, Option<State<P, Pol>>> {
    let mut g = l.state.lock();
    if g.is_none() {
        *g = l.shared().lock().take().map(State::from_core);
    }
    g
}

/// Runs `f` on the Rep's state.
fn with<P: Platform, Pol: Policy, R>(
    l: &Local<PagedFcm<P, Pol>>,
    f: impl FnOnce(&mut State<P, Pol>) -> R,
) -> Result<R, MmError> {
    seeded(l).as_mut().map(f).ok_or(MOVED)
}

impl<P: Platform, Pol: Policy> Fcm<P> for Local<PagedFcm<P, Pol>> {
    fn fault(&self, cx: &FaultCx<'_, P>) -> Result<Resolved, MmError> {
        with(self, |s| s.fault(cx))?
    }

    fn attach(&self, a: Attachment) {
        let view_of = with(self, |s| {
            s.core.attachments.push(a.clone());
            s.core.users += 1;
            if s.core.parent_file && s.core.view_of.is_none() {
                s.core.view_of = s.core.parent.clone();
            }
            s.core.parent_file.then(|| s.core.view_of.clone()).flatten()
        });
        // Outside this FCM's lock: the file's FCM never calls back here.
        if let Ok(Some(file)) = view_of {
            let _ = file.call(|f| f.add_view(a));
        }
    }

    fn detach(&self, hat: &Arc<dyn Hat>, start: u64, len: u64) -> Detached<P> {
        with(self, |s| {
            // One attachment only: a piece split off a range may start at
            // the same address.
            let Some(i) = s
                .core
                .attachments
                .iter()
                .position(|a| a.same(hat, start, len))
            else {
                return Detached::StillUsed;
            };
            s.core.attachments.remove(i);
            if let Some(file) = &s.core.view_of {
                let _ = file.call(|f| f.remove_view(hat, start, len));
            }
            s.core.users -= 1;
            if s.core.users == 0 {
                s.release()
            } else {
                Detached::StillUsed
            }
        })
        .unwrap_or(Detached::StillUsed)
    }

    fn release_user(&self) -> Detached<P> {
        with(self, |s| {
            s.core.users = s.core.users.saturating_sub(1);
            if s.core.users == 0 {
                s.release()
            } else {
                Detached::StillUsed
            }
        })
        .unwrap_or(Detached::StillUsed)
    }

    fn add_user(&self) {
        let _ = with(self, |s| s.core.users += 1);
    }

    fn lookup_frozen(&self, unit: u64) -> Result<Lookup<P>, MmError> {
        let (found, parent, file) = with(self, |s| {
            (
                s.core.pages.get(&unit).map(|p| p.pfn),
                s.core.parent.clone(),
                s.core.parent_file,
            )
        })?;
        match (found, parent) {
            (Some(pfn), _) => Ok(Lookup::Frame(pfn)),
            (None, Some(parent)) if file => Ok(Lookup::File(parent)),
            (None, Some(parent)) => parent.call(|p| p.lookup_frozen(unit))?,
            (None, None) => Ok(Lookup::Missing),
        }
    }

    fn take_sole(&self, unit: u64) -> Result<Option<Pfn>, MmError> {
        with(self, |s| {
            if s.core.kind != FcmKind::Frozen || s.core.users != 1 {
                return None;
            }
            s.core.pages.remove(&unit).map(|p| p.pfn)
        })
    }

    fn copy_into(
        &self,
        unit: u64,
        dst: Pfn,
        waiter: WaiterRef<'_>,
        me: &FcmRef<P>,
    ) -> Result<Option<IoId>, MmError> {
        with(self, |s| {
            // A file, or shared anonymous memory that a file server keeps
            // a file in (mapped privately through `map_private_from`).
            if s.core.kind == FcmKind::Frozen {
                return Err(MmError::Invalid("copy_into is for file FCMs"));
            }
            let ub = s.core.unit_bytes();
            if s.core.limit.is_some_and(|l| unit * ub >= l) {
                return Err(MmError::BadAddress(unit * ub));
            }
            let count = s.core.unit_pages;
            if let Some(page) = s.core.pages.get_mut(&unit) {
                if let Some((io, waiters)) = &mut page.io {
                    waiters.push((waiter.0.clone(), waiter.1));
                    return Ok(Some(*io));
                }
                s.core.frames.copy(page.pfn, dst, count);
                return Ok(None);
            }
            let fr = s.core.fr.clone().ok_or(MmError::Io)?;
            if s.core.kind == FcmKind::Computation && !fr.call(|f| f.has(unit * ub))? {
                // Never written: zeros, and nothing enters this cache.
                s.core.frames.zero(dst, count);
                return Ok(None);
            }
            match s.read_in(&fr, unit, waiter, me)? {
                Ok(pfn) => {
                    s.core.frames.copy(pfn, dst, count);
                    Ok(None)
                }
                Err(io) => Ok(Some(io)),
            }
        })?
    }

    fn fork(&self, child_pm: &PmRef<P>) -> Result<FcmRef<P>, MmError> {
        with(self, |s| {
            if s.core.kind != FcmKind::Computation {
                return Err(MmError::Invalid(
                    "only anonymous memory forks copy-on-write",
                ));
            }
            // Bring swapped pages back: the frozen ancestor is pinned.
            if let Some(fr) = s.core.fr.clone() {
                for off in fr.call(|f| f.stored())? {
                    let pfn = s.alloc()?;
                    let c = &s.core;
                    fr.call(|f| {
                        f.page_in(off, pfn, c.unit_pages, &*c.frames, IoDone::new(|_| {}))
                    })??;
                    s.insert(off / c.unit_bytes(), pfn, None);
                }
            }
            let c = &mut s.core;
            // Write-protect this FCM's translations: the next store copies.
            for unit in c.pages.keys() {
                for (hat, va, scope) in c.places(*unit) {
                    if let Some(pte) = hat.query(va, scope) {
                        hat.protect(va, pte.prot.read_only(), scope);
                    }
                }
            }
            let rt = c.rt;
            let parent = if c.pages.is_empty() {
                if let Some(p) = &c.parent {
                    p.call(|f| f.add_user())?;
                }
                c.parent.clone()
            } else {
                let moved = core::mem::take(&mut c.pages);
                c.pm.call(|p| p.uncharge(moved.len() * c.unit_pages))?;
                let mut frozen = FcmCore::new(
                    rt,
                    c.frames.clone(),
                    c.root_pm.clone(),
                    c.root_pm.clone(),
                    None,
                    FcmKind::Frozen,
                    c.unit_pages,
                );
                frozen.pages = moved;
                frozen.parent = c.parent.take();
                frozen.parent_file = core::mem::replace(&mut c.parent_file, false);
                frozen.users = 2;
                let z: FcmRef<P> = rt.create(StdRoot::<PagedFcm<P, Pinned>>::shared(
                    Mutex::new(Some(frozen)),
                ))?;
                c.parent = Some(z.clone());
                Some(z)
            };
            s.pol = Pol::new();
            let fr: FrRef<P> = rt.create(StdRoot::<AnonFr>::shared(()))?;
            let mut child = FcmCore::new(
                rt,
                c.frames.clone(),
                child_pm.clone(),
                c.root_pm.clone(),
                Some(fr),
                FcmKind::Computation,
                c.unit_pages,
            );
            // With no frozen level in between, the child shares this FCM's
            // parent, of the same kind.
            child.parent_file = c.parent_file;
            child.parent = parent;
            child.max_resident = c.max_resident;
            let child: FcmRef<P> =
                rt.create(StdRoot::<PagedFcm<P, Pol>>::shared(Mutex::new(Some(child))))?;
            let weak = child.downgrade();
            child_pm.call(|p| p.register(weak))?;
            Ok(child)
        })?
    }

    fn evict(&self, units: usize) -> usize {
        with(self, |s| {
            let mut n = 0;
            while n < units && s.evict_one() {
                n += 1;
            }
            n * s.core.unit_pages
        })
        .unwrap_or(0)
    }

    fn io_done(&self, unit: u64, io: IoId, data: Result<&[u8], MmError>) -> Vec<Waiter> {
        with(self, |s| {
            let c = &mut s.core;
            let Some(page) = c.pages.get_mut(&unit) else {
                return Vec::new();
            };
            if page.io.as_ref().map(|x| x.0) != Some(io) {
                return Vec::new();
            }
            let (_, waiters) = page.io.take().unwrap_or((io, Vec::new()));
            match data {
                Ok(bytes) => fill(&*c.frames, page.pfn, c.unit_pages, bytes),
                Err(_) => {
                    let pfn = page.pfn;
                    c.pages.remove(&unit);
                    c.pm_free(pfn);
                }
            }
            waiters
        })
        .unwrap_or_default()
    }

    fn discard(&self, offset: u64, len: u64) {
        let _ = with(self, |s| {
            let c = &mut s.core;
            if c.kind != FcmKind::Computation {
                return;
            }
            let ub = c.unit_bytes();
            let units: Vec<u64> = c
                .pages
                .range(offset / ub..(offset + len).div_ceil(ub))
                .map(|(u, _)| *u)
                .collect();
            for u in units {
                if u * ub >= offset && (u + 1) * ub <= offset + len {
                    if let Some(p) = c.pages.remove(&u) {
                        c.pm_free(p.pfn);
                    }
                }
            }
            if let Some(fr) = &c.fr {
                let _ = fr.call(|f| f.discard(offset, len));
            }
        });
    }

    fn set_max_resident(&self, max: Option<usize>) {
        let _ = with(self, |s| s.core.max_resident = max);
    }

    fn add_view(&self, a: Attachment) {
        let _ = with(self, |s| s.core.views.push(a));
    }

    fn remove_view(&self, hat: &Arc<dyn Hat>, start: u64, len: u64) {
        let _ = with(self, |s| {
            if let Some(i) = s.core.views.iter().position(|a| a.same(hat, start, len)) {
                s.core.views.remove(i);
            }
        });
    }

    fn map_view(
        &self,
        unit: u64,
        hat: &dyn Hat,
        va: u64,
        prot: Prot,
        scope: Scope,
        waiter: WaiterRef<'_>,
        me: &FcmRef<P>,
    ) -> Result<Option<IoId>, MmError> {
        with(self, |s| {
            let ub = s.core.unit_bytes();
            if s.core.kind == FcmKind::Frozen || s.core.large() {
                return Err(MmError::Invalid("views map file pages"));
            }
            if s.core.limit.is_some_and(|l| unit * ub >= l) {
                return Err(MmError::BadAddress(va));
            }
            let pfn = match s.core.pages.get_mut(&unit) {
                Some(Page {
                    io: Some((io, waiters)),
                    ..
                }) => {
                    waiters.push((waiter.0.clone(), waiter.1));
                    return Ok(Some(*io));
                }
                Some(page) => page.pfn,
                None => {
                    let fr = s.core.fr.clone().ok_or(MmError::Io)?;
                    let stored = s.core.kind == FcmKind::File || fr.call(|f| f.has(unit * ub))?;
                    if stored {
                        match s.read_in(&fr, unit, waiter, me)? {
                            Ok(pfn) => pfn,
                            Err(io) => return Ok(Some(io)),
                        }
                    } else {
                        // Shared memory nobody wrote yet: a zeroed page of
                        // this FCM, as its own mappings would get.
                        let pfn = s.alloc()?;
                        s.core.frames.zero(pfn, s.core.unit_pages);
                        s.insert(unit, pfn, None);
                        pfn
                    }
                }
            };
            // Under this FCM's lock: the page cannot go before the view's
            // translation is there for `places` to find.
            hat.map(va, pfn, prot.read_only(), false, scope)?;
            Ok(None)
        })?
    }

    fn set_limit(&self, limit: Option<u64>) -> usize {
        with(self, |s| {
            let c = &mut s.core;
            c.limit = limit;
            let Some(limit) = limit else {
                return 0;
            };
            let first = limit.div_ceil(c.unit_bytes());
            let gone: Vec<u64> = c
                .pages
                .range(first..)
                .filter(|(_, p)| p.io.is_none())
                .map(|(u, _)| *u)
                .collect();
            for unit in &gone {
                // Translations first: no access may reach the frame once
                // it is freed.
                for (hat, va, scope) in c.places(*unit) {
                    hat.unmap(va, scope);
                }
                if let Some(p) = c.pages.remove(unit) {
                    c.pm_free(p.pfn);
                }
            }
            if let Some(fr) = &c.fr {
                if c.kind == FcmKind::Computation {
                    let _ = fr.call(|f| f.discard(first * c.unit_bytes(), u64::MAX / 2));
                }
            }
            gone.len()
        })
        .unwrap_or(0)
    }

    fn info(&self) -> FcmInfo {
        with(self, |s| FcmInfo {
            policy: Pol::NAME,
            kind: s.core.kind,
            resident: s.core.pages.len(),
            unit_pages: s.core.unit_pages,
            faults: s.core.faults,
            evictions: s.core.evictions,
            users: s.core.users,
        })
        .unwrap_or(FcmInfo {
            policy: Pol::NAME,
            kind: FcmKind::Computation,
            resident: 0,
            unit_pages: 0,
            faults: 0,
            evictions: 0,
            users: 0,
        })
    }
}

/// The paging policies an FCM can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// [`Fifo`].
    Fifo,
    /// [`Clock`].
    Clock,
    /// [`Pinned`] (fixed memory).
    Pinned,
}

/// Makes an FCM object running `policy` over `core`.
pub fn create_fcm<P: Platform>(
    rt: &'static Runtime<P>,
    policy: PolicyKind,
    core: FcmCore<P>,
) -> Result<FcmRef<P>, MmError> {
    let seed = Mutex::new(Some(core));
    Ok(match policy {
        PolicyKind::Fifo => rt.create(StdRoot::<PagedFcm<P, Fifo>>::shared(seed))?,
        PolicyKind::Clock => rt.create(StdRoot::<PagedFcm<P, Clock>>::shared(seed))?,
        PolicyKind::Pinned => rt.create(StdRoot::<PagedFcm<P, Pinned>>::shared(seed))?,
    })
}

/// Hot-swaps a live FCM to another paging policy: its pages, attachments
/// and statistics move by state transfer while faults continue. Must not be
/// called from inside a clustered-object call.
pub fn swap_policy<P: Platform>(fcm: &FcmRef<P>, policy: PolicyKind) -> Result<(), MmError> {
    let seed = || Mutex::new(None);
    let r = match policy {
        PolicyKind::Fifo => fcm.switch(StdRoot::<PagedFcm<P, Fifo>>::shared(seed())),
        PolicyKind::Clock => fcm.switch(StdRoot::<PagedFcm<P, Clock>>::shared(seed())),
        PolicyKind::Pinned => fcm.switch(StdRoot::<PagedFcm<P, Pinned>>::shared(seed())),
    };
    r.map(drop).map_err(|e| MmError::Object(e.error))?;
    // Faults that waited out the swap did so nested inside their Process
    // and Region calls; cobj lets such blocked calls through as soon as this
    // swap is over, even if another swap of the FCM begins at once.
    Ok(())
}

/// Drops a user of `fcm` by detaching a range and walks up the chain of
/// copy-on-write ancestors that lose their last user with it.
pub fn release_chain<P: Platform>(mut d: Detached<P>) -> Result<(), MmError> {
    while let Detached::Released(Some(parent)) = d {
        d = parent.call(|p| p.release_user())?;
    }
    Ok(())
}

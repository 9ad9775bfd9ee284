//! Address spaces: the operations the Linux personality needs (map,
//! unmap, protect, fork, destroy), the fault entry point, and the
//! user-pointer helpers.

use alloc::sync::Arc;
use alloc::vec::Vec;

use cobj::{Platform, Runtime, StdRoot};

use crate::fcm::{
    create_fcm, swap_policy, Dispatcher, FcmCore, FcmInfo, FcmKind, FcmRef, PolicyKind, Resolved,
};
use crate::fr::{AnonFr, FileFr, FileServer};
use crate::frames::Frames;
use crate::hat::{Hat, Scope};
use crate::pm::{leaf_pm, root_pm};
use crate::process::{create_process, ProcessRef, RegionEntry};
use crate::region::{create_region, detach_region, RegionInfo, RegionKind};
use crate::types::{
    check_user_range, Access, CpuId, MmError, Prot, LARGE_PAGE_SIZE, PAGES_PER_LARGE, PAGE_SIZE,
};
use crate::{FrRef, PmRef};

/// The memory system of one machine: the clustered-object runtime, the
/// frames and the root PM.
pub struct Mm<P: Platform> {
    rt: &'static Runtime<P>,
    frames: Arc<dyn Frames>,
    root: PmRef<P>,
    tracer: Option<Arc<dyn FaultTrace>>,
}

/// Trace hooks on the fault path; the kernel implements them with ktrace
/// events (a disabled class then costs the mask check).
pub trait FaultTrace: Send + Sync {
    /// A fault by `cpu` at `va` ended with `result`.
    fn fault(&self, cpu: CpuId, va: u64, access: Access, result: &Result<Resolved, MmError>);
}

/// How to map anonymous memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapOptions {
    /// Region variant.
    pub kind: RegionKind,
    /// Use 2 MiB pages (start and length 2 MiB aligned).
    pub large: bool,
    /// Shared with children on fork instead of copy-on-write.
    pub shared: bool,
    /// The FCM's paging policy.
    pub policy: PolicyKind,
}

impl Default for MapOptions {
    fn default() -> Self {
        MapOptions {
            kind: RegionKind::Default,
            large: false,
            shared: false,
            policy: PolicyKind::Fifo,
        }
    }
}

/// An open file's page cache: one FCM shared by every mapping of the file.
pub struct MappedFile<P: Platform> {
    fcm: FcmRef<P>,
}

impl<P: Platform> MappedFile<P> {
    /// The file's FCM.
    pub fn fcm(&self) -> &FcmRef<P> {
        &self.fcm
    }
}

impl<P: Platform> Mm<P> {
    /// The memory system over `frames`, with objects in `rt`.
    pub fn new(rt: &'static Runtime<P>, frames: Arc<dyn Frames>) -> Result<Self, MmError> {
        let root = root_pm(rt, frames.clone())?;
        Ok(Mm {
            rt,
            frames,
            root,
            tracer: None,
        })
    }

    /// Traces the faults of address spaces created from now on.
    pub fn set_tracer(&mut self, tracer: Arc<dyn FaultTrace>) {
        self.tracer = Some(tracer);
    }

    /// The root PM.
    pub fn root_pm(&self) -> &PmRef<P> {
        &self.root
    }

    /// Frames in use machine-wide (the root PM's count).
    pub fn frames_in_use(&self) -> Result<usize, MmError> {
        Ok(self.root.call(|p| p.charged())?)
    }

    /// Free frames held in the root PM's per-processor caches: not in use,
    /// but not in the [`Frames`] source's free count either.
    pub fn frames_cached(&self) -> Result<usize, MmError> {
        Ok(self.root.call(|p| p.cached())?)
    }

    /// Gives every frame in the root PM's per-processor caches back to the
    /// [`Frames`] source (before comparing its free count with a baseline,
    /// or handing memory to another user); returns how many.
    pub fn drain_frame_caches(&self) -> Result<usize, MmError> {
        Ok(self.root.call(|p| p.drain())?)
    }

    /// A reclaim request to the root PM: evict about `frames` frames from
    /// the processes' FCMs. Returns how many were freed.
    pub fn reclaim(&self, frames: usize) -> Result<usize, MmError> {
        Ok(self.root.call(|p| p.reclaim(frames))?)
    }

    /// A new, empty address space with its own leaf PM.
    pub fn create_space<H: Hat + 'static>(
        &self,
        hat: Arc<H>,
        dispatcher: Arc<dyn Dispatcher>,
        replicated: bool,
    ) -> Result<AddressSpace<P, H>, MmError> {
        Ok(AddressSpace {
            rt: self.rt,
            frames: self.frames.clone(),
            root: self.root.clone(),
            pm: leaf_pm(self.rt, &self.root)?,
            process: create_process(self.rt, replicated)?,
            hat,
            dispatcher,
            replicated,
            tracer: self.tracer.clone(),
        })
    }

    /// Opens a file for mapping: its FR and its FCM (page cache, `policy`).
    pub fn open_file(
        &self,
        server: Arc<dyn FileServer>,
        policy: PolicyKind,
    ) -> Result<MappedFile<P>, MmError> {
        let fr: FrRef<P> = self.rt.create(StdRoot::<FileFr>::shared(server))?;
        let core = FcmCore::new(
            self.rt,
            self.frames.clone(),
            self.root.clone(),
            self.root.clone(),
            Some(fr),
            FcmKind::File,
            1,
        );
        Ok(MappedFile {
            fcm: create_fcm(self.rt, policy, core)?,
        })
    }
}

/// An address space: its Process, HAT, leaf PM and dispatcher.
pub struct AddressSpace<P: Platform, H: Hat + 'static> {
    rt: &'static Runtime<P>,
    frames: Arc<dyn Frames>,
    root: PmRef<P>,
    pm: PmRef<P>,
    process: ProcessRef<P>,
    hat: Arc<H>,
    dispatcher: Arc<dyn Dispatcher>,
    replicated: bool,
    tracer: Option<Arc<dyn FaultTrace>>,
}

/// Whether `[lo, hi)` may cut `info` (checked for every region before any
/// is changed, so a refused munmap or mprotect changes nothing).
fn check_split(info: &RegionInfo, lo: u64, hi: u64) -> Result<(), MmError> {
    let lo = lo.max(info.start);
    let hi = hi.min(info.end());
    let unit = info.unit() as u64;
    if !lo.is_multiple_of(unit) || !hi.is_multiple_of(unit) {
        return Err(MmError::Invalid(
            "range must be aligned to the region's page size",
        ));
    }
    let whole = lo == info.start && hi == info.end();
    if !whole && info.kind != RegionKind::Default {
        return Err(MmError::Invalid(
            "per-processor and partitioned regions change only as a whole",
        ));
    }
    Ok(())
}

fn check_range(va: u64, len: u64, unit: usize) -> Result<(), MmError> {
    let unit = unit as u64;
    if len == 0 || !va.is_multiple_of(unit) || !len.is_multiple_of(unit) {
        return Err(MmError::Invalid("range must be non-empty and page aligned"));
    }
    check_user_range(va, len as usize)
}

/// A file mapping's range and offset: both page aligned.
fn check_file_range(va: u64, len: u64, offset: u64) -> Result<(), MmError> {
    check_range(va, len, PAGE_SIZE)?;
    if !offset.is_multiple_of(PAGE_SIZE as u64) {
        return Err(MmError::Invalid("file offset must be page aligned"));
    }
    Ok(())
}

impl<P: Platform, H: Hat + 'static> AddressSpace<P, H> {
    /// The HAT.
    pub fn hat(&self) -> &Arc<H> {
        &self.hat
    }

    /// The leaf PM.
    pub fn pm(&self) -> &PmRef<P> {
        &self.pm
    }

    /// The Process object.
    pub fn process(&self) -> &ProcessRef<P> {
        &self.process
    }

    fn dyn_hat(&self) -> Arc<dyn Hat> {
        self.hat.clone()
    }

    fn cpu(&self) -> Result<CpuId, MmError> {
        self.rt
            .platform()
            .current_cpu()
            .ok_or(MmError::Object(cobj::Error::NotOnProcessor))
    }

    /// Frames charged to this address space.
    pub fn charged(&self) -> Result<usize, MmError> {
        Ok(self.pm.call(|p| p.charged())?)
    }

    /// The regions, by address.
    pub fn regions(&self) -> Result<Vec<RegionInfo>, MmError> {
        Ok(self
            .process
            .call(|p| p.regions())?
            .into_iter()
            .map(|e| e.info)
            .collect())
    }

    fn new_anon_fcm(&self, opts: &MapOptions) -> Result<FcmRef<P>, MmError> {
        let fr: FrRef<P> = self.rt.create(StdRoot::<AnonFr>::shared(()))?;
        let unit = if opts.large { PAGES_PER_LARGE } else { 1 };
        let core = FcmCore::new(
            self.rt,
            self.frames.clone(),
            self.pm.clone(),
            self.root.clone(),
            Some(fr),
            FcmKind::Computation,
            unit,
        );
        let fcm = create_fcm(self.rt, opts.policy, core)?;
        let weak = fcm.downgrade();
        self.pm.call(|p| p.register(weak))?;
        Ok(fcm)
    }

    fn add_region(&self, info: RegionInfo, fcms: Vec<FcmRef<P>>) -> Result<(), MmError> {
        if self.process.call(|p| {
            p.lookup(info.start).is_some()
                || p.regions()
                    .iter()
                    .any(|e| e.info.start < info.end() && info.start < e.info.end())
        })? {
            return Err(MmError::Invalid("overlaps an existing region"));
        }
        let region = create_region(self.rt, info, self.dyn_hat(), fcms)?;
        let entry = RegionEntry {
            info,
            region: region.clone(),
        };
        if let Err(e) = self.process.call(|p| p.insert(entry))? {
            detach_region(&region, &self.dyn_hat())?;
            return Err(e);
        }
        Ok(())
    }

    /// `mmap(MAP_ANONYMOUS | MAP_FIXED_NOREPLACE)`: anonymous memory at
    /// `[va, va + len)`.
    pub fn map_anon(&self, va: u64, len: u64, prot: Prot, opts: MapOptions) -> Result<(), MmError> {
        let unit = if opts.large {
            LARGE_PAGE_SIZE
        } else {
            PAGE_SIZE
        };
        check_range(va, len, unit)?;
        let info = RegionInfo {
            start: va,
            len,
            prot,
            kind: opts.kind,
            offset: 0,
            large: opts.large,
            shared: opts.shared,
            max: Prot::ALL,
        };
        if let RegionKind::Partitioned(0) = opts.kind {
            return Err(MmError::Invalid(
                "a partitioned region needs at least one part",
            ));
        }
        let fcms = info
            .parts()
            .iter()
            .map(|_| self.new_anon_fcm(&opts))
            .collect::<Result<Vec<_>, _>>()?;
        self.add_region(info, fcms)
    }

    /// What the region covering `va` maps.
    pub fn region_at(&self, va: u64) -> Result<RegionInfo, MmError> {
        let e = self
            .process
            .call(|p| p.lookup(va))?
            .ok_or(MmError::BadAddress(va))?;
        Ok(e.info)
    }

    /// Maps `[src, src + len)` of `from`'s shared memory at `va` here,
    /// with `prot`, which [`protect`](Self::protect) may lower but never
    /// exceed: a Region over the same FCM as `from`'s, so both
    /// address spaces see every store (K42's sharing: one FCM mapped by
    /// Regions of two Processes). The range must lie in one shared
    /// ([`MapOptions::shared`]) region of the default kind, aligned to its
    /// page size; its pages stay charged to `from`'s PM and live while
    /// either mapping does.
    pub fn map_shared_from<H2: Hat + 'static>(
        &self,
        va: u64,
        from: &AddressSpace<P, H2>,
        src: u64,
        len: u64,
        prot: Prot,
    ) -> Result<(), MmError> {
        let e = from
            .process
            .call(|p| p.lookup(src))?
            .ok_or(MmError::BadAddress(src))?;
        let info = e.info;
        if !info.shared || info.kind != RegionKind::Default {
            return Err(MmError::Invalid(
                "only shared memory of a default region can be mapped elsewhere",
            ));
        }
        check_range(src, len, info.unit())?;
        check_range(va, len, info.unit())?;
        if src + len > info.end() {
            return Err(MmError::Invalid("the range leaves the shared region"));
        }
        let fcms = e.region.call(|r| r.fcms())?;
        let here = RegionInfo {
            start: va,
            len,
            prot,
            kind: RegionKind::Default,
            offset: info.offset + (src - info.start),
            large: info.large,
            shared: true,
            max: prot,
        };
        self.add_region(here, fcms)
    }

    /// Maps `[src, src + len)` of `from`'s shared memory at `va` here as a
    /// private, copy-on-write view with `prot`: a computation FCM whose
    /// reads map the shared FCM's frame read-only and whose first store to
    /// a page copies it, so the view follows the shared memory until it
    /// writes a page, and its stores stay its own (Linux `MAP_PRIVATE` of
    /// a file that a file server keeps in shared memory).
    /// Same rules for the range as [`map_shared_from`](Self::map_shared_from);
    /// the copies are charged to this space's PM.
    pub fn map_private_from<H2: Hat + 'static>(
        &self,
        va: u64,
        from: &AddressSpace<P, H2>,
        src: u64,
        len: u64,
        prot: Prot,
    ) -> Result<(), MmError> {
        let e = from
            .process
            .call(|p| p.lookup(src))?
            .ok_or(MmError::BadAddress(src))?;
        let info = e.info;
        if !info.shared || info.kind != RegionKind::Default || info.large {
            return Err(MmError::Invalid(
                "only shared memory of a default region can be mapped elsewhere",
            ));
        }
        check_range(src, len, PAGE_SIZE)?;
        check_range(va, len, PAGE_SIZE)?;
        if src + len > info.end() {
            return Err(MmError::Invalid("the range leaves the shared region"));
        }
        let shared = e.region.call(|r| r.fcms())?;
        let [shared] = shared.as_slice() else {
            return Err(MmError::Invalid("a default region has one FCM"));
        };
        self.map_copy_of(va, len, prot, shared, info.offset + (src - info.start))
    }

    /// A private copy-on-write region over `parent` (a file FCM, or shared
    /// anonymous memory) at file offset `offset`.
    fn map_copy_of(
        &self,
        va: u64,
        len: u64,
        prot: Prot,
        parent: &FcmRef<P>,
        offset: u64,
    ) -> Result<(), MmError> {
        let fr: FrRef<P> = self.rt.create(StdRoot::<AnonFr>::shared(()))?;
        let core = FcmCore::new(
            self.rt,
            self.frames.clone(),
            self.pm.clone(),
            self.root.clone(),
            Some(fr),
            FcmKind::Computation,
            1,
        )
        .with_file_parent(parent.clone());
        parent.call(|f| f.add_user())?;
        let fcm = create_fcm(self.rt, PolicyKind::Fifo, core)?;
        let weak = fcm.downgrade();
        self.pm.call(|p| p.register(weak))?;
        let info = RegionInfo {
            start: va,
            len,
            prot,
            kind: RegionKind::Default,
            offset,
            large: false,
            shared: false,
            max: Prot::ALL,
        };
        if let Err(e) = self.add_region(info, alloc::vec![fcm.clone()]) {
            // The region never attached: drop the FCM's hold on the parent.
            crate::fcm::release_chain(fcm.call(|f| f.release_user())?)?;
            return Err(e);
        }
        Ok(())
    }

    /// Sets the end of the "file" held in the shared region at `va` (a
    /// region of [`MapOptions::shared`] memory of the default kind):
    /// `size` bytes from the region's start (at most its length), rounded
    /// up to a page. Pages
    /// past it leave the FCM and every mapping of it, here and in other
    /// spaces ([`Fcm::set_limit`](crate::Fcm::set_limit)); an access past
    /// it faults, in every mapper. `None` lifts the end. Returns the pages
    /// dropped.
    pub fn set_shared_end(&self, va: u64, size: Option<u64>) -> Result<usize, MmError> {
        let e = self
            .process
            .call(|p| p.lookup(va))?
            .ok_or(MmError::BadAddress(va))?;
        let info = e.info;
        if !info.shared || info.kind != RegionKind::Default || info.large || va != info.start {
            return Err(MmError::Invalid(
                "a file's end is set at the start of its shared region",
            ));
        }
        let page = PAGE_SIZE as u64;
        let limit = match size {
            Some(n) if n > info.len => return Err(MmError::Invalid("past the region's end")),
            Some(n) => Some(info.offset + n.div_ceil(page) * page),
            None => None,
        };
        let fcms = e.region.call(|r| r.fcms())?;
        Ok(fcms
            .iter()
            .map(|f| f.call(|f| f.set_limit(limit)))
            .sum::<Result<usize, _>>()?)
    }

    /// `mmap(MAP_SHARED)` of `file` at byte `offset` (page aligned).
    pub fn map_file(
        &self,
        va: u64,
        len: u64,
        prot: Prot,
        file: &MappedFile<P>,
        offset: u64,
    ) -> Result<(), MmError> {
        check_file_range(va, len, offset)?;
        let info = RegionInfo {
            start: va,
            len,
            prot,
            kind: RegionKind::Default,
            offset,
            large: false,
            shared: true,
            max: Prot::ALL,
        };
        self.add_region(info, alloc::vec![file.fcm.clone()])
    }

    /// `mmap(MAP_PRIVATE)` of `file` at byte `offset` (page aligned): a
    /// read maps the file's own frame read-only (a view the file's FCM
    /// unmaps with the page), so the mapping follows the file until it
    /// writes a page; the first store copies it, and its stores stay
    /// private (copy-on-write over the file's FCM).
    pub fn map_file_private(
        &self,
        va: u64,
        len: u64,
        prot: Prot,
        file: &MappedFile<P>,
        offset: u64,
    ) -> Result<(), MmError> {
        check_file_range(va, len, offset)?;
        self.map_copy_of(va, len, prot, &file.fcm, offset)
    }

    /// Regions overlapping `[va, va + len)`.
    fn overlapping(&self, va: u64, len: u64) -> Result<Vec<RegionEntry<P>>, MmError> {
        Ok(self
            .process
            .call(|p| p.regions())?
            .into_iter()
            .filter(|e| e.info.start < va + len && va < e.info.end())
            .collect())
    }

    fn scopes(&self, info: &RegionInfo) -> Vec<Scope> {
        match info.kind {
            RegionKind::PerCpu => (0..self.rt.cpu_count()).map(Scope::Cpu).collect(),
            _ => alloc::vec![Scope::All],
        }
    }

    fn unmap_hat(&self, info: &RegionInfo, start: u64, end: u64) {
        let unit = info.unit() as u64;
        for scope in self.scopes(info) {
            let mut va = start;
            while va < end {
                self.hat.unmap(va, scope);
                va += unit;
            }
        }
    }

    /// Replaces `e` by the pieces of it outside `[lo, hi)` (with protection
    /// `mid` for the inside piece, if any), all over the same FCMs.
    fn split(
        &self,
        e: &RegionEntry<P>,
        lo: u64,
        hi: u64,
        mid: Option<Prot>,
    ) -> Result<(), MmError> {
        let info = e.info;
        check_split(&info, lo, hi)?;
        let lo = lo.max(info.start);
        let hi = hi.min(info.end());
        let unit = info.unit() as u64;
        let fcms = e.region.call(|r| r.fcms())?;
        let piece = |s: u64, t: u64, prot: Prot| RegionInfo {
            start: s,
            len: t - s,
            prot,
            offset: info.offset + (s - info.start),
            ..info
        };
        let mut pieces = Vec::new();
        if lo > info.start {
            pieces.push(piece(info.start, lo, info.prot));
        }
        if let Some(p) = mid {
            pieces.push(piece(lo, hi, p));
        }
        if hi < info.end() {
            pieces.push(piece(hi, info.end(), info.prot));
        }
        self.process.call(|p| p.remove(info.start))?;
        match mid {
            None => {
                self.unmap_hat(&info, lo, hi);
                if !info.shared {
                    for ((ps, pl, po), f) in info.parts().iter().zip(&fcms) {
                        let (s, t) = ((*ps).max(lo), (ps + pl).min(hi));
                        if s < t {
                            let per = if info.kind == RegionKind::PerCpu {
                                self.rt.cpu_count() as u64
                            } else {
                                1
                            };
                            for k in 0..per {
                                f.call(|f| f.discard(po + k * info.len + (s - ps), t - s))?;
                            }
                        }
                    }
                }
            }
            Some(p) => {
                for scope in self.scopes(&info) {
                    let mut va = lo;
                    while va < hi {
                        if let Some(pte) = self.hat.query(va, scope) {
                            let q = Prot {
                                read: pte.prot.read && p.read,
                                write: pte.prot.write && p.write,
                                exec: pte.prot.exec && p.exec,
                            };
                            if q != pte.prot {
                                self.hat.protect(va, q, scope);
                            }
                        }
                        va += unit;
                    }
                }
            }
        }
        // New pieces attach before the old region detaches, so the FCMs
        // keep a user throughout.
        for p in pieces {
            let region = create_region(self.rt, p, self.dyn_hat(), fcms.clone())?;
            self.process
                .call(|x| x.insert(RegionEntry { info: p, region }))??;
        }
        detach_region(&e.region, &self.dyn_hat())
    }

    /// `munmap`: removes `[va, va + len)` (parts of regions split off).
    pub fn unmap(&self, va: u64, len: u64) -> Result<(), MmError> {
        check_range(va, len, PAGE_SIZE)?;
        let es = self.overlapping(va, len)?;
        for e in &es {
            check_split(&e.info, va, va + len)?;
        }
        for e in es {
            self.split(&e, va, va + len, None)?;
        }
        Ok(())
    }

    /// `mprotect`: every page of `[va, va + len)` must be mapped, and no
    /// region may get more than its [`max`](RegionInfo::max)
    /// ([`MmError::Protection`]; nothing changed).
    pub fn protect(&self, va: u64, len: u64, prot: Prot) -> Result<(), MmError> {
        check_range(va, len, PAGE_SIZE)?;
        let es = self.overlapping(va, len)?;
        let covered: u64 = es
            .iter()
            .map(|e| e.info.end().min(va + len) - e.info.start.max(va))
            .sum();
        if covered != len {
            return Err(MmError::BadAddress(va));
        }
        // Never more than a grant allowed (another space's shared memory).
        if let Some(e) = es.iter().find(|e| !prot.within(e.info.max)) {
            return Err(MmError::Protection(e.info.start.max(va)));
        }
        for e in &es {
            check_split(&e.info, va, va + len)?;
        }
        for e in es {
            self.split(&e, va, va + len, Some(prot))?;
        }
        Ok(())
    }

    /// `fork`: a child address space; private memory is copy-on-write,
    /// shared memory and files are shared.
    pub fn fork<H2: Hat + 'static>(
        &self,
        child_hat: Arc<H2>,
        dispatcher: Arc<dyn Dispatcher>,
    ) -> Result<AddressSpace<P, H2>, MmError> {
        let child = AddressSpace {
            rt: self.rt,
            frames: self.frames.clone(),
            root: self.root.clone(),
            pm: leaf_pm(self.rt, &self.root)?,
            process: create_process(self.rt, self.replicated)?,
            hat: child_hat,
            dispatcher,
            replicated: self.replicated,
            tracer: self.tracer.clone(),
        };
        for e in self.process.call(|p| p.regions())? {
            let fcms = e.region.call(|r| r.fcms())?;
            let fcms = if e.info.shared {
                fcms
            } else {
                fcms.iter()
                    .map(|f| f.call(|f| f.fork(&child.pm))?)
                    .collect::<Result<Vec<_>, _>>()?
            };
            child.add_region(e.info, fcms)?;
        }
        Ok(child)
    }

    /// Tears the address space down: every region is unmapped and its
    /// FCMs released; the objects go away after quiescence.
    pub fn destroy(self) -> Result<(), MmError> {
        for e in self.process.call(|p| p.regions())? {
            self.split(&e, e.info.start, e.info.end(), None)?;
        }
        Ok(())
    }

    /// The page-fault entry point (the kernel's #PF handler calls this on
    /// the faulting processor). `Pending` has already been reflected to the
    /// dispatcher.
    pub fn fault(&self, va: u64, access: Access) -> Result<Resolved, MmError> {
        check_user_range(va, 1)?;
        let cpu = self.cpu()?;
        self.hat.activate(cpu);
        let waiter = (&self.dispatcher, va);
        let r = self
            .process
            .call(|p| p.fault(va, access, cpu, waiter))
            .map_err(MmError::from)
            .and_then(|r| r);
        if let Some(t) = &self.tracer {
            t.fault(cpu, va, access, &r);
        }
        if let Ok(Resolved::Pending(io)) = r {
            self.dispatcher.page_fault_pending(io, va);
        }
        r
    }

    /// The FCMs of the region covering `va`.
    pub fn fcms_at(&self, va: u64) -> Result<Vec<FcmRef<P>>, MmError> {
        let e = self
            .process
            .call(|p| p.lookup(va))?
            .ok_or(MmError::BadAddress(va))?;
        Ok(e.region.call(|r| r.fcms())?)
    }

    /// FCM snapshots of the region covering `va`.
    pub fn fcm_info(&self, va: u64) -> Result<Vec<FcmInfo>, MmError> {
        self.fcms_at(va)?
            .iter()
            .map(|f| Ok(f.call(|f| f.info())?))
            .collect()
    }

    /// Live customization: hot-swaps the paging policy of the region at
    /// `va` while it is in use. Must not be called from inside a call.
    pub fn swap_policy(&self, va: u64, policy: PolicyKind) -> Result<(), MmError> {
        for f in self.fcms_at(va)? {
            swap_policy(&f, policy)?;
        }
        Ok(())
    }
}

/// A software "MMU" for hosted use: a HAT that can carry out accesses.
pub trait Mmu: Hat {
    /// Translates and performs an access by `cpu`; `None` is a page fault.
    fn access_with(
        &self,
        cpu: CpuId,
        va: u64,
        access: Access,
        f: &mut dyn FnMut(crate::types::Pfn, usize),
    ) -> Option<()>;
}

impl Mmu for crate::hat::SoftHat {
    fn access_with(
        &self,
        cpu: CpuId,
        va: u64,
        access: Access,
        f: &mut dyn FnMut(crate::types::Pfn, usize),
    ) -> Option<()> {
        self.access(cpu, va, access, |t| f(t.pfn, t.offset))
    }
}

impl<P: Platform, H: Mmu + 'static> AddressSpace<P, H> {
    fn touch(
        &self,
        va: u64,
        len: usize,
        access: Access,
        mut f: impl FnMut(usize, crate::types::Pfn, usize, usize),
    ) -> Result<(), MmError> {
        check_user_range(va, len)?;
        let cpu = self.cpu()?;
        self.hat.activate(cpu);
        let mut done = 0;
        while done < len {
            let a = va + done as u64;
            let n = (PAGE_SIZE - (a % PAGE_SIZE as u64) as usize).min(len - done);
            let mut tries = 0;
            while self
                .hat
                .access_with(cpu, a, access, &mut |pfn, off| f(done, pfn, off, n))
                .is_none()
            {
                tries += 1;
                if tries > 1000 {
                    return Err(MmError::OutOfMemory);
                }
                if let Resolved::Pending(io) = self.fault(a, access)? {
                    return Err(MmError::Pending(io));
                }
            }
            done += n;
        }
        Ok(())
    }

    /// `copy_from_user`: reads user memory as processor `current_cpu`
    /// would, faulting pages in. A bad address is an error (EFAULT), an
    /// out-of-core page is [`MmError::Pending`].
    pub fn read(&self, va: u64, buf: &mut [u8]) -> Result<(), MmError> {
        let frames = self.frames.clone();
        self.touch(va, buf.len(), Access::Read, |at, pfn, off, n| {
            frames.read(pfn, off, &mut buf[at..at + n])
        })
    }

    /// `copy_to_user`: writes user memory, faulting pages in.
    pub fn write(&self, va: u64, data: &[u8]) -> Result<(), MmError> {
        let frames = self.frames.clone();
        self.touch(va, data.len(), Access::Write, |at, pfn, off, n| {
            frames.write(pfn, off, &data[at..at + n])
        })
    }
}

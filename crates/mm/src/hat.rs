//! The hardware address translation layer (HAT) and its segments.
//!
//! K42 keeps page tables out of the policy objects: an FCM decides *which*
//! frame backs a page, the HAT of the address space installs the
//! translation. A HAT is made of **segments** ([`SegmentHat`]): on x86-64 a
//! page-table subtree covering one 2 MiB (a page table) or 1 GiB (a page
//! directory) aligned range. A segment is private to one address space or
//! shared between several (the same subtree linked into each), so a mapping
//! made through one is visible in all.
//!
//! Changing or removing a translation must also invalidate it in the TLBs
//! of the processors that may cache it: only those that ran the address
//! space ([`Hat::ran_on`], fed by [`Hat::activate`] on each switch to it).
//! The [`TlbShootdown`] hook is how a HAT reaches them; the kernel sends
//! IPIs, [`SoftHat`] clears its simulated per-processor TLBs.
//!
//! Mappings have a [`Scope`]: visible on every processor, or on one
//! processor only (K42's processor-specific memory, used by per-processor
//! regions: the same virtual address maps a different frame on each
//! processor; in the kernel a per-processor top-level entry).

use crate::sync::{Mutex, RwLock};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::types::{page_down, Access, CpuId, MmError, Pfn, Prot, LARGE_PAGE_SIZE, PAGE_SIZE};

/// Where a mapping is visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// On every processor.
    All,
    /// On this processor only (processor-specific memory).
    Cpu(CpuId),
}

/// A page-table entry as the HAT reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pte {
    /// First frame of the page.
    pub pfn: Pfn,
    /// Protection.
    pub prot: Prot,
    /// A 2 MiB page.
    pub large: bool,
    /// Set by the MMU on access ([`Hat::take_accessed`] clears it).
    pub accessed: bool,
    /// Set by the MMU on a store.
    pub dirty: bool,
}

/// A set of processors, one bit each.
pub type CpuMask = u64;

/// How a HAT invalidates stale translations on other processors.
pub trait TlbShootdown: Send + Sync {
    /// Invalidate `[va, va + len)` on every processor in `cpus` and wait
    /// until they have (kernel: IPI and acknowledgement).
    fn shootdown(&self, cpus: CpuMask, va: u64, len: u64);
}

/// One segment of a HAT: a page-table subtree for an aligned 2 MiB or
/// 1 GiB range, private or shared between address spaces.
pub trait SegmentHat: Send + Sync {
    /// First address covered.
    fn base(&self) -> u64;
    /// Bytes covered (2 MiB or 1 GiB).
    fn size(&self) -> usize;
    /// Whether more than one address space links this segment.
    fn is_shared(&self) -> bool;
    /// Translations present in the segment.
    fn mapped(&self) -> usize;
}

/// The hardware translation layer of one address space.
pub trait Hat: Send + Sync {
    /// Installs a translation of the page at `va` (4 KiB, or 2 MiB when
    /// `large`; `va` aligned to it) to the run starting at `pfn`.
    /// Replaces an existing translation (with a shootdown if it was
    /// stronger than the new one).
    fn map(&self, va: u64, pfn: Pfn, prot: Prot, large: bool, scope: Scope) -> Result<(), MmError>;
    /// Removes the translation of the page at `va`, shoots it down, and
    /// returns it.
    fn unmap(&self, va: u64, scope: Scope) -> Option<Pte>;
    /// Changes the protection of the page at `va` (shooting down if it
    /// loses a permission); false if nothing is mapped there.
    fn protect(&self, va: u64, prot: Prot, scope: Scope) -> bool;
    /// The translation of the page containing `va`.
    fn query(&self, va: u64, scope: Scope) -> Option<Pte>;
    /// Reads and clears the accessed bit (for the clock policy).
    fn take_accessed(&self, va: u64, scope: Scope) -> bool;
    /// The address space now runs on `cpu` (called on each switch to it).
    fn activate(&self, cpu: CpuId);
    /// The processors that ran this address space since it was created:
    /// the only ones a shootdown must reach.
    fn ran_on(&self) -> CpuMask;
    /// The segment covering `va`, if one exists.
    fn segment(&self, va: u64) -> Option<Arc<dyn SegmentHat>>;
    /// Links `other`'s segment at `base` (an aligned 2 MiB or 1 GiB range)
    /// into this HAT, so both address spaces see the same translations.
    fn share_segment(&self, other: &dyn Hat, base: u64, size: usize) -> Result<(), MmError>;
    /// For [`share_segment`](Hat::share_segment): the concrete type.
    fn as_any(&self) -> &dyn Any;
}

/// Simulated per-processor TLBs of one address space.
pub struct SoftTlb {
    entries: Box<[Mutex<BTreeMap<u64, Pte>>]>,
    ran: AtomicU64,
    invalidations: Box<[AtomicU64]>,
}

impl SoftTlb {
    fn new(ncpus: usize) -> Self {
        SoftTlb {
            entries: (0..ncpus).map(|_| Mutex::new(BTreeMap::new())).collect(),
            ran: AtomicU64::new(0),
            invalidations: (0..ncpus).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl TlbShootdown for SoftTlb {
    fn shootdown(&self, cpus: CpuMask, va: u64, len: u64) {
        for (cpu, tlb) in self.entries.iter().enumerate() {
            if cpus & (1 << cpu) != 0 {
                let mut t = tlb.lock();
                let lo = page_down(va, LARGE_PAGE_SIZE);
                let stale: Vec<u64> = t.range(lo..va + len).map(|(k, _)| *k).collect();
                for k in stale {
                    let size = if t[&k].large {
                        LARGE_PAGE_SIZE
                    } else {
                        PAGE_SIZE
                    } as u64;
                    if k + size > va {
                        t.remove(&k);
                    }
                }
                self.invalidations[cpu].fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A software segment: a map of PTEs under a reader-writer lock. An access
/// holds the read side while it touches the frame, so an unmap (write side)
/// completes only once no access uses the old translation: what waiting
/// for the shootdown acknowledgement gives on hardware.
pub struct SoftSegment {
    base: u64,
    size: usize,
    ptes: RwLock<BTreeMap<u64, Pte>>,
    tlbs: Mutex<Vec<Arc<SoftTlb>>>,
}

impl SegmentHat for SoftSegment {
    fn base(&self) -> u64 {
        self.base
    }
    fn size(&self) -> usize {
        self.size
    }
    fn is_shared(&self) -> bool {
        self.tlbs.lock().len() > 1
    }
    fn mapped(&self) -> usize {
        self.ptes.read().len()
    }
}

impl SoftSegment {
    fn shoot(&self, scope: Scope, va: u64, len: u64) {
        for tlb in self.tlbs.lock().iter() {
            let mask = match scope {
                Scope::All => tlb.ran.load(Ordering::Acquire),
                Scope::Cpu(c) => tlb.ran.load(Ordering::Acquire) & (1 << c),
            };
            if mask != 0 {
                tlb.shootdown(mask, va, len);
            }
        }
    }
}

type SegTable = RwLock<BTreeMap<u64, Arc<SoftSegment>>>;

/// A software HAT: segments of PTE maps and per-processor TLB sets, so
/// that the fault path and shootdowns are testable without hardware.
pub struct SoftHat {
    global: SegTable,
    percpu: Box<[SegTable]>,
    tlb: Arc<SoftTlb>,
}

/// A translated access: the frame and the offset in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The 4 KiB frame holding the byte.
    pub pfn: Pfn,
    /// Offset of the byte in that frame.
    pub offset: usize,
}

impl SoftHat {
    /// A HAT for a machine of `ncpus` processors.
    pub fn new(ncpus: usize) -> Self {
        SoftHat {
            global: RwLock::new(BTreeMap::new()),
            percpu: (0..ncpus).map(|_| RwLock::new(BTreeMap::new())).collect(),
            tlb: Arc::new(SoftTlb::new(ncpus)),
        }
    }

    /// The segment table of a scope; a processor this HAT was not made
    /// for has an empty one.
    fn table(&self, scope: Scope) -> &SegTable {
        static NONE: SegTable = RwLock::new(BTreeMap::new());
        match scope {
            Scope::All => &self.global,
            Scope::Cpu(c) => self.percpu.get(c).unwrap_or(&NONE),
        }
    }

    fn find(&self, scope: Scope, va: u64) -> Option<Arc<SoftSegment>> {
        let t = self.table(scope).read();
        let (_, seg) = t.range(..=va).next_back()?;
        // (`NONE` never gets segments: `map` refuses unknown processors.)
        (va < seg.base + seg.size as u64).then(|| seg.clone())
    }

    fn find_or_make(&self, scope: Scope, va: u64) -> Arc<SoftSegment> {
        if let Some(s) = self.find(scope, va) {
            return s;
        }
        let base = page_down(va, LARGE_PAGE_SIZE);
        let mut t = self.table(scope).write();
        t.entry(base)
            .or_insert_with(|| {
                Arc::new(SoftSegment {
                    base,
                    size: LARGE_PAGE_SIZE,
                    ptes: RwLock::new(BTreeMap::new()),
                    tlbs: Mutex::new(alloc::vec![self.tlb.clone()]),
                })
            })
            .clone()
    }

    fn lookup(ptes: &BTreeMap<u64, Pte>, va: u64) -> Option<(u64, Pte)> {
        if let Some(p) = ptes.get(&page_down(va, PAGE_SIZE)) {
            return Some((page_down(va, PAGE_SIZE), *p));
        }
        let big = page_down(va, LARGE_PAGE_SIZE);
        ptes.get(&big).filter(|p| p.large).map(|p| (big, *p))
    }

    /// The MMU: translates an access by processor `cpu` (TLB first, then
    /// the page tables, setting accessed/dirty) and runs `f` on the
    /// translation while it is guaranteed to stay valid. `None` is a page
    /// fault.
    pub fn access<R>(
        &self,
        cpu: CpuId,
        va: u64,
        access: Access,
        f: impl FnOnce(Translation) -> R,
    ) -> Option<R> {
        if cpu >= self.tlb.entries.len() {
            return None;
        }
        // Running here means the address space is active on `cpu`.
        if self.tlb.ran.load(Ordering::Relaxed) & (1 << cpu) == 0 {
            self.activate(cpu);
        }
        for scope in [Scope::Cpu(cpu), Scope::All] {
            let Some(seg) = self.find(scope, va) else {
                continue;
            };
            // Hold the segment's read side during the access.
            let ptes = seg.ptes.read();
            let tlb = self.tlb.entries.get(cpu)?;
            let page4 = page_down(va, PAGE_SIZE);
            let cached = {
                let t = tlb.lock();
                t.get(&page4).copied().map(|p| (page4, p)).or_else(|| {
                    t.get(&page_down(va, LARGE_PAGE_SIZE))
                        .filter(|p| p.large)
                        .map(|p| (page_down(va, LARGE_PAGE_SIZE), *p))
                })
            };
            let (key, pte) = match cached.filter(|(_, p)| p.prot.allows(access)) {
                Some(hit) => hit,
                None => {
                    let (key, pte) = Self::lookup(&ptes, va)?;
                    if !pte.prot.allows(access) {
                        return None;
                    }
                    drop(ptes);
                    // Set A/D bits under the write side (the MMU's atomic update).
                    let mut w = seg.ptes.write();
                    let p = w.get_mut(&key)?;
                    if p.pfn != pte.pfn || !p.prot.allows(access) {
                        return None;
                    }
                    p.accessed = true;
                    p.dirty |= access == Access::Write;
                    let pte = *p;
                    tlb.lock().insert(key, pte);
                    let r = Self::run(key, pte, va, f);
                    return Some(r);
                }
            };
            return Some(Self::run(key, pte, va, f));
        }
        None
    }

    fn run<R>(key: u64, pte: Pte, va: u64, f: impl FnOnce(Translation) -> R) -> R {
        let delta = va - key;
        f(Translation {
            pfn: Pfn(pte.pfn.0 + delta / PAGE_SIZE as u64),
            offset: (delta % PAGE_SIZE as u64) as usize,
        })
    }

    /// How many invalidations processor `cpu` received for this address
    /// space (IPIs, on hardware).
    pub fn invalidations(&self, cpu: CpuId) -> u64 {
        self.tlb
            .invalidations
            .get(cpu)
            .map_or(0, |n| n.load(Ordering::Relaxed))
    }

    /// Whether processor `cpu`'s simulated TLB caches a translation for
    /// the page at `va`.
    pub fn tlb_has(&self, cpu: CpuId, va: u64) -> bool {
        let Some(t) = self.tlb.entries.get(cpu) else {
            return false;
        };
        let t = t.lock();
        t.contains_key(&page_down(va, PAGE_SIZE))
            || t.get(&page_down(va, LARGE_PAGE_SIZE))
                .is_some_and(|p| p.large)
    }

    /// Translations installed (all scopes).
    pub fn mapped(&self) -> usize {
        let count = |t: &SegTable| t.read().values().map(|s| s.mapped()).sum::<usize>();
        count(&self.global) + self.percpu.iter().map(count).sum::<usize>()
    }
}

fn check_align(va: u64, large: bool) -> Result<(), MmError> {
    let size = if large { LARGE_PAGE_SIZE } else { PAGE_SIZE };
    if !va.is_multiple_of(size as u64) {
        return Err(MmError::Invalid("unaligned mapping"));
    }
    Ok(())
}

impl Hat for SoftHat {
    fn map(&self, va: u64, pfn: Pfn, prot: Prot, large: bool, scope: Scope) -> Result<(), MmError> {
        check_align(va, large)?;
        if let Scope::Cpu(c) = scope {
            if c >= self.percpu.len() {
                return Err(MmError::Invalid("processor outside this HAT"));
            }
        }
        let seg = self.find_or_make(scope, va);
        let mut ptes = seg.ptes.write();
        let old = ptes.insert(
            va,
            Pte {
                pfn,
                prot,
                large,
                accessed: false,
                dirty: false,
            },
        );
        if let Some(old) = old {
            let weaker =
                (old.prot.write && !prot.write) || (old.prot.read && !prot.read) || old.pfn != pfn;
            if weaker {
                let len = if large { LARGE_PAGE_SIZE } else { PAGE_SIZE };
                seg.shoot(scope, va, len as u64);
            }
        }
        Ok(())
    }

    fn unmap(&self, va: u64, scope: Scope) -> Option<Pte> {
        let seg = self.find(scope, va)?;
        let mut ptes = seg.ptes.write();
        let (key, _) = Self::lookup(&ptes, va)?;
        let pte = ptes.remove(&key)?;
        let len = if pte.large {
            LARGE_PAGE_SIZE
        } else {
            PAGE_SIZE
        };
        seg.shoot(scope, key, len as u64);
        Some(pte)
    }

    fn protect(&self, va: u64, prot: Prot, scope: Scope) -> bool {
        let Some(seg) = self.find(scope, va) else {
            return false;
        };
        let mut ptes = seg.ptes.write();
        let Some((key, _)) = Self::lookup(&ptes, va) else {
            return false;
        };
        let Some(p) = ptes.get_mut(&key) else {
            return false;
        };
        let old = p.prot;
        p.prot = prot;
        let len = if p.large { LARGE_PAGE_SIZE } else { PAGE_SIZE };
        if (old.write && !prot.write) || (old.read && !prot.read) || (old.exec && !prot.exec) {
            seg.shoot(scope, key, len as u64);
        }
        true
    }

    fn query(&self, va: u64, scope: Scope) -> Option<Pte> {
        let seg = self.find(scope, va)?;
        let ptes = seg.ptes.read();
        Self::lookup(&ptes, va).map(|(_, p)| p)
    }

    fn take_accessed(&self, va: u64, scope: Scope) -> bool {
        let Some(seg) = self.find(scope, va) else {
            return false;
        };
        let mut ptes = seg.ptes.write();
        let Some((key, _)) = Self::lookup(&ptes, va) else {
            return false;
        };
        let Some(p) = ptes.get_mut(&key) else {
            return false;
        };
        let was = core::mem::replace(&mut p.accessed, false);
        if was {
            // As on hardware: the clear must reach the TLBs, or a cached
            // translation would never set the bit again.
            let len = if p.large { LARGE_PAGE_SIZE } else { PAGE_SIZE };
            seg.shoot(scope, key, len as u64);
        }
        was
    }

    fn activate(&self, cpu: CpuId) {
        if cpu < self.tlb.entries.len() {
            self.tlb.ran.fetch_or(1 << cpu, Ordering::AcqRel);
        }
    }

    fn ran_on(&self) -> CpuMask {
        self.tlb.ran.load(Ordering::Acquire)
    }

    fn segment(&self, va: u64) -> Option<Arc<dyn SegmentHat>> {
        self.find(Scope::All, va).map(|s| s as Arc<dyn SegmentHat>)
    }

    fn share_segment(&self, other: &dyn Hat, base: u64, size: usize) -> Result<(), MmError> {
        if size != LARGE_PAGE_SIZE && size != 1 << 30 {
            return Err(MmError::Invalid("a segment is 2 MiB or 1 GiB"));
        }
        if !base.is_multiple_of(size as u64) {
            return Err(MmError::Invalid("unaligned segment"));
        }
        let other = other
            .as_any()
            .downcast_ref::<SoftHat>()
            .ok_or(MmError::Invalid("not a SoftHat"))?;
        let seg = {
            let mut t = other.global.write();
            if let Some(s) = t.get(&base) {
                if s.size != size {
                    return Err(MmError::Invalid("segment size differs"));
                }
                s.clone()
            } else {
                if t.range(base..base + size as u64).next().is_some() {
                    return Err(MmError::Invalid("range already has smaller segments"));
                }
                let s = Arc::new(SoftSegment {
                    base,
                    size,
                    ptes: RwLock::new(BTreeMap::new()),
                    tlbs: Mutex::new(alloc::vec![other.tlb.clone()]),
                });
                t.insert(base, s.clone());
                s
            }
        };
        let mut mine = self.global.write();
        if mine.range(base..base + size as u64).next().is_some() {
            return Err(MmError::Invalid("range already mapped here"));
        }
        seg.tlbs.lock().push(self.tlb.clone());
        mine.insert(base, seg);
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

//! Regions: a virtual range mapped onto a range of offsets of one "file"
//! (notes §4).
//!
//! A Region is immutable once made (start, length, protection, FCMs):
//! `mprotect` and partial `munmap` replace it by new Regions over the same
//! FCMs. So its fault path takes no lock; it computes the file offset and
//! calls its FCM. Three variants ([`RegionKind`]):
//!
//! - **Default**: one Rep shared by all processors.
//! - **Per-processor**: processor-specific memory. Processor `k` sees
//!   offsets `offset + k * len ..` at the same virtual addresses, with
//!   processor-scoped translations ([`Scope::Cpu`]); one Rep per processor.
//! - **Partitioned**: the range is cut into `n` parts, each with its own
//!   FCM (and so its own lock), so faults on different parts of one big
//!   shared region do not contend; one Rep per processor.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU64, Ordering};

use cobj::{CoRef, Local, Platform, RepType, Runtime, StdRoot};

use crate::fcm::{release_chain, Attachment, FaultCx, FcmRef, Resolved, WaiterRef};
use crate::hat::{Hat, Scope};
use crate::types::{page_down, Access, CpuId, MmError, Prot, LARGE_PAGE_SIZE, PAGE_SIZE};

/// A handle on a Region.
pub type RegionRef<P> = CoRef<'static, dyn Region<P>, P>;

/// Region variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// One Rep, one FCM.
    Default,
    /// Processor-specific memory: a different page per processor at the
    /// same address.
    PerCpu,
    /// `n` parts, each with its own FCM.
    Partitioned(usize),
}

/// What a Region maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionInfo {
    /// First address.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// Protection.
    pub prot: Prot,
    /// Variant.
    pub kind: RegionKind,
    /// File offset at `start`.
    pub offset: u64,
    /// Mapped with 2 MiB pages.
    pub large: bool,
    /// Shared with a child on fork (`MAP_SHARED`, files) rather than
    /// copied on write.
    pub shared: bool,
    /// The most [`protect`](crate::AddressSpace::protect) may give:
    /// what its grant allowed, for a mapping of another space's shared
    /// memory ([`map_shared_from`](crate::AddressSpace::map_shared_from));
    /// [`Prot::ALL`] otherwise.
    pub max: Prot,
}

impl RegionInfo {
    /// One past the last address.
    pub fn end(&self) -> u64 {
        self.start + self.len
    }

    /// Bytes per mapping unit.
    pub fn unit(&self) -> usize {
        if self.large {
            LARGE_PAGE_SIZE
        } else {
            PAGE_SIZE
        }
    }

    /// The parts: (start, len, file offset) of each FCM's range.
    pub fn parts(&self) -> Vec<(u64, u64, u64)> {
        match self.kind {
            RegionKind::Partitioned(n) if n > 1 => {
                let unit = self.unit() as u64;
                let per = (self.len / n as u64).div_ceil(unit) * unit;
                (0..n as u64)
                    .map(|p| p * per)
                    .take_while(|d| *d < self.len)
                    .map(|d| (self.start + d, per.min(self.len - d), self.offset + d))
                    .collect()
            }
            _ => alloc::vec![(self.start, self.len, self.offset)],
        }
    }
}

/// The interface of a Region.
pub trait Region<P: Platform>: Send + Sync {
    /// Resolves a fault at `va` by processor `cpu`.
    fn fault(
        &self,
        va: u64,
        access: Access,
        cpu: CpuId,
        waiter: WaiterRef<'_>,
    ) -> Result<Resolved, MmError>;
    /// What the region maps.
    fn info(&self) -> RegionInfo;
    /// Its FCMs, one per part.
    fn fcms(&self) -> Vec<FcmRef<P>>;
    /// Faults served (summed over Reps).
    fn faults(&self) -> u64;
}

/// A Region's shared state: immutable.
pub struct RegionShared<P: Platform> {
    info: RegionInfo,
    hat: Arc<dyn Hat>,
    fcms: Vec<FcmRef<P>>,
    parts: Vec<(u64, u64, u64)>,
}

/// A Region Rep: the fault counter of the processors it serves.
pub struct RegionRep<P: Platform> {
    faults: AtomicU64,
    _p: PhantomData<fn(P)>,
}

impl<P: Platform> RepType for RegionRep<P> {
    type Interface = dyn Region<P>;
    type Shared = RegionShared<P>;
    fn new(_: &Self::Shared, _: usize) -> Self {
        RegionRep {
            faults: AtomicU64::new(0),
            _p: PhantomData,
        }
    }
    fn interface(l: &Local<Self>) -> &Self::Interface {
        l
    }
}

impl<P: Platform> Region<P> for Local<RegionRep<P>> {
    fn fault(
        &self,
        va: u64,
        access: Access,
        cpu: CpuId,
        waiter: WaiterRef<'_>,
    ) -> Result<Resolved, MmError> {
        let s = self.shared();
        let info = &s.info;
        if va < info.start || va >= info.end() {
            return Err(MmError::BadAddress(va));
        }
        if !info.prot.allows(access) {
            return Err(MmError::Protection(va));
        }
        self.faults.fetch_add(1, Ordering::Relaxed);
        let uva = page_down(va, info.unit());
        let part = s
            .parts
            .iter()
            .rposition(|(st, _, _)| *st <= uva)
            .unwrap_or(0);
        let (pstart, _, poff) = s.parts[part];
        let (offset, scope) = match info.kind {
            RegionKind::PerCpu => (
                poff + cpu as u64 * info.len + (uva - pstart),
                Scope::Cpu(cpu),
            ),
            _ => (poff + (uva - pstart), Scope::All),
        };
        let me = &s.fcms[part];
        let cx = FaultCx {
            hat: &*s.hat,
            va: uva,
            offset,
            access,
            prot: info.prot,
            scope,
            me,
            waiter,
        };
        me.call(|f| f.fault(&cx))?
    }

    fn info(&self) -> RegionInfo {
        self.shared().info
    }

    fn fcms(&self) -> Vec<FcmRef<P>> {
        self.shared().fcms.clone()
    }

    fn faults(&self) -> u64 {
        self.reps().map(|r| r.faults.load(Ordering::Relaxed)).sum()
    }
}

/// Makes a Region over `fcms` (one per part) and attaches it to them.
pub fn create_region<P: Platform>(
    rt: &'static Runtime<P>,
    info: RegionInfo,
    hat: Arc<dyn Hat>,
    fcms: Vec<FcmRef<P>>,
) -> Result<RegionRef<P>, MmError> {
    let parts = info.parts();
    if parts.len() != fcms.len() {
        return Err(MmError::Invalid("one FCM per part"));
    }
    for ((start, len, offset), fcm) in parts.iter().zip(&fcms) {
        let a = Attachment {
            hat: hat.clone(),
            start: *start,
            len: *len,
            offset: *offset,
            per_cpu: info.kind == RegionKind::PerCpu,
        };
        fcm.call(|f| f.attach(a))?;
    }
    let shared = RegionShared {
        info,
        hat,
        fcms,
        parts,
    };
    let r: RegionRef<P> = match info.kind {
        RegionKind::Default => rt.create(StdRoot::<RegionRep<P>>::shared(shared))?,
        _ => rt.create(StdRoot::<RegionRep<P>>::per_cpu(shared))?,
    };
    Ok(r)
}

/// Detaches a Region from its FCMs (its translations are already gone),
/// releasing FCMs that lose their last user.
pub fn detach_region<P: Platform>(
    region: &RegionRef<P>,
    hat: &Arc<dyn Hat>,
) -> Result<(), MmError> {
    let (info, fcms) = region.call(|r| (r.info(), r.fcms()))?;
    for ((start, len, _), fcm) in info.parts().iter().zip(fcms) {
        let d = fcm.call(|f| f.detach(hat, *start, *len))?;
        release_chain(d)?;
    }
    Ok(())
}

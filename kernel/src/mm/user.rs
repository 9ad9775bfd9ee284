//! User address spaces: the memory-management objects of the `mm` crate
//! wired to this machine (K42's Process/Region/FCM/FR/PM/HAT, paper §4).
//!
//! What this module provides to the crates:
//!
//! - [`KernelTables`]: `x86_hat`'s platform. Page-table frames come from
//!   the frame allocator and are edited through the direct map; every
//!   PML4 shares the kernel's upper half ([`paging::kernel_entry`], fixed
//!   at boot); a shootdown runs `invlpg` on the named processors by IPI
//!   and waits for them.
//! - [`KernelFrames`]: `mm`'s [`Frames`] over the frame allocator (one
//!   frame, or 512 aligned ones for a 2 MiB page) and the direct map.
//! - [`memory`]: the machine's [`Mm`] (root PM, object runtime), made at
//!   boot by [`init`].
//! - [`Activation`]: runs an address space on this processor (CR3 to its
//!   per-processor PML4, `Hat::activate`), and makes it the one the page
//!   fault handler serves.
//! - [`page_fault`]: called by the #PF handler for user addresses; it
//!   asks the active space's objects (`AddressSpace::fault`) to resolve
//!   the fault and returns whether to retry the access, or that it waits
//!   for I/O (`MmError::Pending`: `super::upcall` takes it from there;
//!   process spaces route the pending and done upcalls there,
//!   [`process_upcalls`]).
//!
//! ## Usage
//!
//! ```ignore
//! let space = user::new_space()?;
//! space.map_anon(0x40_0000, 0x4000, Prot::RW, MapOptions::default())?;
//! {
//!     let _on = user::Activation::new(&space);   // CR3 <- its tables
//!     // SAFETY: mapped above; faults are served by `page_fault`.
//!     unsafe { (0x40_0000 as *mut u64).write_volatile(42) }; // zero-fill fault
//! }
//! space.destroy()?;
//! ```
//!
//! Rules: touch user memory with interrupts enabled (a fault may have to
//! wait for another processor's TLB shootdown, which needs our IPI
//! handler), and keep an [`Activation`] on the processor that made it.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use ::mm::{Access, AddressSpace, Frames, Mm, MmError, Pfn, Resolved};
use spin::Once;
use x86_hat::{TablePlatform, X86Hat};

use crate::arch::{cpu, paging, percpu};
use crate::clustered::{self, KernelPlatform};

/// The HAT of a user address space.
pub type KernelHat = X86Hat<KernelTables>;
/// A user address space.
pub type Space = AddressSpace<KernelPlatform, KernelHat>;

/// `x86_hat`'s platform: page tables in frames, edited through the direct
/// map.
pub struct KernelTables {
    live: AtomicUsize,
    shootdowns: AtomicU64,
}

/// The one instance.
pub static TABLES: KernelTables = KernelTables {
    live: AtomicUsize::new(0),
    shootdowns: AtomicU64::new(0),
};

impl KernelTables {
    /// User page-table frames in use.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    /// Shootdown requests so far (each reaching one or more processors).
    pub fn shootdowns(&self) -> u64 {
        self.shootdowns.load(Ordering::Relaxed)
    }
}

/// Ranges up to this many pages are flushed page by page; larger ones by
/// reloading CR3.
const INVLPG_MAX_PAGES: u64 = 32;

fn flush_local(va: u64, len: u64) {
    if len / 4096 > INVLPG_MAX_PAGES {
        x86_64::instructions::tlb::flush_all();
        return;
    }
    let mut a = va;
    while a < va + len {
        x86_64::instructions::tlb::flush(x86_64::VirtAddr::new(a));
        a += 4096;
    }
}

// SAFETY: table frames come zeroed from the frame allocator, are ours
// until `free_table`, and the direct map covers every frame it hands out.
unsafe impl TablePlatform for KernelTables {
    fn alloc_table(&self) -> Option<u64> {
        let f = super::frames::alloc_zeroed()?;
        self.live.fetch_add(1, Ordering::Relaxed);
        Some(f.addr())
    }

    fn free_table(&self, pa: u64) {
        self.live.fetch_sub(1, Ordering::Relaxed);
        super::frames::free(frames::Frame::containing(pa));
    }

    fn table(&self, pa: u64) -> *const core::sync::atomic::AtomicU64 {
        super::phys_to_virt(pa) as *const _
    }

    fn kernel_entry(&self, index: usize) -> u64 {
        paging::kernel_entry(index)
    }

    fn cpu_count(&self) -> usize {
        percpu::online()
    }

    fn shootdown(&self, cpus: ::mm::CpuMask, va: u64, len: u64) {
        self.shootdowns.fetch_add(1, Ordering::Relaxed);
        crate::ipi::run_on_set(cpus, &|| flush_local(va, len));
    }
}

/// `mm`'s frames: the frame allocator and the direct map.
pub struct KernelFrames;

fn frame_bytes(pfn: Pfn, count: usize) -> *mut u8 {
    debug_assert!(pfn.0 << 12 < super::frames::MAX_PHYS && count >= 1);
    super::phys_to_virt(pfn.0 << 12) as *mut u8
}

impl Frames for KernelFrames {
    fn alloc(&self, count: usize) -> Option<Pfn> {
        let f = match count {
            0 => return None,
            1 => super::frames::alloc()?,
            n => super::frames::alloc_contiguous(n as u64, n as u64)?,
        };
        Some(Pfn(f.addr() >> 12))
    }

    fn free(&self, pfn: Pfn, count: usize) {
        let first = frames::Frame::containing(pfn.0 << 12);
        if count == 1 {
            super::frames::free(first);
        } else if let Err(e) = super::frames::free_contiguous(first, count as u64) {
            panic!("mm freed frames it did not own: {e}");
        }
    }

    fn zero(&self, pfn: Pfn, count: usize) {
        // SAFETY: `mm` zeroes only frames it allocated; the direct map
        // covers them, writable.
        unsafe { core::ptr::write_bytes(frame_bytes(pfn, count), 0, count * 4096) };
    }

    fn copy(&self, src: Pfn, dst: Pfn, count: usize) {
        // SAFETY: two distinct allocated runs of `count` frames in the
        // direct map.
        unsafe {
            core::ptr::copy_nonoverlapping(
                frame_bytes(src, count),
                frame_bytes(dst, count),
                count * 4096,
            )
        };
    }

    fn read(&self, pfn: Pfn, offset: usize, buf: &mut [u8]) {
        assert!(offset + buf.len() <= 4096);
        // SAFETY: inside one allocated frame of the direct map.
        let src = unsafe { frame_bytes(pfn, 1).add(offset) };
        // SAFETY: as above; `buf` is ours.
        unsafe { core::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), buf.len()) };
    }

    fn write(&self, pfn: Pfn, offset: usize, data: &[u8]) {
        assert!(offset + data.len() <= 4096);
        // SAFETY: inside one allocated frame of the direct map.
        let dst = unsafe { frame_bytes(pfn, 1).add(offset) };
        // SAFETY: as above.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) };
    }

    fn free_count(&self) -> usize {
        super::frames::stats().0 as usize
    }

    fn alloc_near(&self, cpu: ::mm::CpuId, out: &mut [Pfn]) -> usize {
        let node = super::heap::node_of_cpu(cpu);
        let mut got = 0;
        let mut buf = [frames::Frame::containing(0); 64];
        while got < out.len() {
            let want = (out.len() - got).min(buf.len());
            let n = super::frames::alloc_near(node, &mut buf[..want]);
            for (o, f) in out[got..].iter_mut().zip(&buf[..n]) {
                *o = Pfn(f.addr() >> 12);
            }
            got += n;
            if n < want {
                break;
            }
        }
        got
    }

    fn free_many(&self, pfns: &[Pfn]) {
        super::frames::free_many(pfns.iter().map(|p| frames::Frame::containing(p.0 << 12)));
    }

    fn near(&self, cpu: ::mm::CpuId, pfn: Pfn) -> bool {
        super::heap::node_of_phys(pfn.0 << 12).is_none_or(|n| n == super::heap::node_of_cpu(cpu))
    }
}

static MM: Once<Mm<KernelPlatform>> = Once::new();

/// Sets up the memory objects; after the clustered-object runtime.
pub fn init() {
    MM.call_once(|| Mm::new(clustered::runtime(), Arc::new(KernelFrames)).expect("the root PM"));
}

/// The machine's memory system.
pub fn memory() -> &'static Mm<KernelPlatform> {
    MM.get().expect("user memory used before mm::user::init")
}

/// A new, empty address space, for a process: a fault in it that waits
/// for I/O goes to the dispatcher that took it ([`process_upcalls`]).
pub fn new_space() -> Result<Space, MmError> {
    new_space_with(process_upcalls())
}

/// A new, empty address space whose Process is replicated (a copy of
/// the region list per processor: a fault's lookup reads only local
/// memory), for a process that faults on many processors at once.
pub fn new_replicated_space() -> Result<Space, MmError> {
    memory().create_space(Arc::new(X86Hat::new(&TABLES)?), process_upcalls(), true)
}

/// The "page fault pending" and "done" upcalls of a process's space
/// (`super::upcall`: the faulting dispatcher's page-fault entry, or a
/// wait in the kernel).
pub fn process_upcalls() -> Arc<dyn ::mm::Dispatcher> {
    Arc::new(super::upcall::Upcalls)
}

/// A new, empty address space whose "page fault pending" and "done"
/// upcalls go to `dispatcher` (a kernel-side test double).
pub fn new_space_with(dispatcher: Arc<dyn ::mm::Dispatcher>) -> Result<Space, MmError> {
    memory().create_space(Arc::new(X86Hat::new(&TABLES)?), dispatcher, false)
}

/// The space each processor runs (null: none, the kernel's tables).
static CURRENT: [AtomicPtr<Space>; percpu::MAX_CPUS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; percpu::MAX_CPUS];

/// An address space running on this processor: its tables are in CR3 and
/// its faults are served. Dropping it returns to the kernel's tables.
pub struct Activation<'a> {
    _space: core::marker::PhantomData<&'a Space>,
    cpu: usize,
    previous: *mut Space,
}

impl<'a> Activation<'a> {
    /// Runs `space` on this processor.
    ///
    /// # Panics
    /// If the space cannot get a PML4 for this processor (out of memory).
    pub fn new(space: &'a Space) -> Self {
        let cpu = percpu::current_id();
        let root = space.hat().root(cpu).expect("a PML4 for this processor");
        ::mm::Hat::activate(&**space.hat(), cpu);
        let previous = CURRENT[cpu].swap(space as *const Space as *mut Space, Ordering::AcqRel);
        paging::switch_tables(root);
        Activation {
            _space: core::marker::PhantomData,
            cpu,
            previous,
        }
    }
}

impl Drop for Activation<'_> {
    fn drop(&mut self) {
        debug_assert_eq!(
            self.cpu,
            percpu::current_id(),
            "activation moved processors"
        );
        // SAFETY: `previous` is null or a space whose own activation, outer
        // to this one on this processor, is still alive.
        let root = match unsafe { self.previous.as_ref() } {
            Some(outer) => outer.hat().root(self.cpu).expect("its PML4 exists"),
            None => paging::kernel_pml4(),
        };
        paging::switch_tables(root);
        CURRENT[self.cpu].store(self.previous, Ordering::Release);
    }
}

/// One processor's fault bookkeeping, alone on its cache line (it is
/// written on every fault; sharing a line would make processors faulting
/// in separate regions slow each other down).
#[repr(align(64))]
struct FaultStats {
    /// The last page a fault resolved.
    last: AtomicU64,
    /// How many times in a row.
    repeats: AtomicU64,
    /// Faults resolved here.
    resolved: AtomicU64,
}

static STATS: [FaultStats; percpu::MAX_CPUS] = [const {
    FaultStats {
        last: AtomicU64::new(0),
        repeats: AtomicU64::new(0),
        resolved: AtomicU64::new(0),
    }
}; percpu::MAX_CPUS];

/// Faults resolved by [`page_fault`], all processors.
pub fn faults() -> u64 {
    STATS
        .iter()
        .map(|s| s.resolved.load(Ordering::Relaxed))
        .sum()
}

/// The #PF handler's part for user addresses: resolves the fault through
/// the active space's objects. `Ok` means retry the access; an error means
/// the address is bad for this space (EFAULT or SIGSEGV for the caller).
/// Runs with interrupts enabled if the faulting code had them enabled.
pub fn page_fault(addr: u64, error: u64, interrupts_were_on: bool) -> Result<(), MmError> {
    let cpu = percpu::current_id();
    // SAFETY: CURRENT[cpu] is set only by an Activation alive on this
    // processor (borrowing the space), and cleared by its drop, which
    // cannot run while this fault, taken on top of its owner, is handled.
    let Some(space) = (unsafe { CURRENT[cpu].load(Ordering::Acquire).as_ref() }) else {
        return Err(MmError::BadAddress(addr));
    };
    let access = if error & (1 << 4) != 0 {
        Access::Exec
    } else if error & (1 << 1) != 0 {
        Access::Write
    } else {
        Access::Read
    };
    let page = addr & !0xfff;
    let stats = &STATS[cpu];
    let (last, count) = (&stats.last, &stats.repeats);
    // A fault on the page the last one resolved repeats it only if the
    // translation is still there and allows the access (a program that
    // maps, touches and unmaps the same page over and over takes a new,
    // legitimate fault each time).
    if last.load(Ordering::Relaxed) == page {
        let hat = &**space.hat();
        let there = [::mm::Scope::All, ::mm::Scope::Cpu(cpu)]
            .into_iter()
            .filter_map(|scope| ::mm::Hat::query(hat, page, scope))
            .any(|pte| pte.prot.allows(access));
        if !there {
            last.store(0, Ordering::Relaxed);
        }
    }
    if interrupts_were_on {
        cpu::enable_interrupts();
    }
    let r = space.fault(addr, access);
    cpu::disable_interrupts();
    match r? {
        Resolved::Mapped => {
            stats.resolved.fetch_add(1, Ordering::Relaxed);
            // The same page resolved over and over, its translation in
            // place, means the translation the objects installed does not
            // satisfy the access: a bug, reported once and turned into an
            // error rather than a hang.
            if last.swap(page, Ordering::Relaxed) == page {
                if count.fetch_add(1, Ordering::Relaxed) == 64 {
                    log::warn!(
                        "page fault at {addr:#x} ({access:?}, error {error:#x}) resolved 64 times in a row; pte {:?}",
                        ::mm::Hat::query(&**space.hat(), page, ::mm::Scope::All)
                    );
                    count.store(0, Ordering::Relaxed);
                    last.store(0, Ordering::Relaxed);
                    return Err(MmError::Protection(addr));
                }
            } else {
                count.store(0, Ordering::Relaxed);
            }
            Ok(())
        }
        // The access cannot complete yet: the #PF handler gives a user
        // fault to the dispatcher (`super::upcall::user_fault`); a kernel
        // access fails.
        Resolved::Pending(io) => Err(MmError::Pending(io)),
    }
}

/// Frames charged to user memory and user page tables in use, once
/// deferred reclamation has settled (a test's baseline).
pub fn usage() -> (usize, usize) {
    let rt = crate::clustered::runtime();
    let read = || {
        rt.synchronize().expect("synchronize outside calls");
        (
            memory().frames_in_use().unwrap_or(usize::MAX),
            TABLES.live(),
        )
    };
    // Reclaiming one object may destroy others (a Region its FCMs, the
    // last Region its HAT), each a quiescent period later.
    let mut last = read();
    for _ in 0..8 {
        let now = read();
        if now == last && rt.pending() == 0 {
            break;
        }
        last = now;
    }
    last
}

/// Waits, up to a second of guest time, for [`usage`] to come back to
/// `base`; returns the last reading.
pub fn usage_back_to(base: (usize, usize)) -> (usize, usize) {
    let deadline = crate::time::now_ns() + 1_000_000_000;
    let mut now = usage();
    while now != base && crate::time::now_ns() < deadline {
        crate::time::delay_us(1000);
        now = usage();
    }
    now
}

//! The kernel's page tables.
//!
//! [`init`] replaces the boot page tables with the kernel's own:
//!
//! - a direct map of all RAM at [`PHYS_OFFSET`](crate::mm::PHYS_OFFSET),
//!   2 MiB pages, writable, no-execute;
//! - the kernel image at [`KERNEL_BASE`](crate::mm::KERNEL_BASE) with 4 KiB
//!   pages and W^X: text read+execute, rodata read-only, data and bss
//!   read+write, none both writable and executable;
//! - nothing at low addresses (user space, later), except the real-mode
//!   trampoline page while application processors start.
//!
//! Kernel mappings are global (`CR4.PGE`). The tables are manipulated with
//! the `x86_64` crate's `OffsetPageTable`, which walks them through the
//! direct map. The per-address-space HAT of the memory-management objects
//! (K42's HAT/SegmentHAT) is a later layer above this module.

use crate::mm::{self, image, PHYS_OFFSET};
use crate::sync::IrqMutex;
use bootinfo::{MemoryMap, RegionKind};
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::registers::control::{Cr3, Cr3Flags, Cr4, Cr4Flags};
use x86_64::structures::paging::mapper::{MapToError, UnmapError};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags as F, PhysFrame,
    Size2MiB, Size4KiB, Translate,
};
use x86_64::{PhysAddr, VirtAddr};

static KERNEL_PT: IrqMutex<Option<OffsetPageTable<'static>>> = IrqMutex::new(None);
static KERNEL_PML4: AtomicU64 = AtomicU64::new(0);
static NEXT_MMIO: AtomicU64 = AtomicU64::new(mm::MMIO_BASE);

/// Hands page-table frames to the `x86_64` mapper.
struct TableFrames;

// SAFETY: frames come from the frame allocator, unused and exclusively ours.
unsafe impl FrameAllocator<Size4KiB> for TableFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame> {
        mm::frames::alloc().map(|f| PhysFrame::containing_address(PhysAddr::new(f.addr())))
    }
}

/// Why a mapping request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    /// Something is mapped there already.
    AlreadyMapped,
    /// No memory for a page table.
    OutOfMemory,
    /// Nothing is mapped there.
    NotMapped,
    /// The address is inside a large page.
    HugePage,
}

impl<S: x86_64::structures::paging::PageSize> From<MapToError<S>> for MapError {
    fn from(e: MapToError<S>) -> Self {
        match e {
            MapToError::FrameAllocationFailed => Self::OutOfMemory,
            MapToError::ParentEntryHugePage => Self::HugePage,
            MapToError::PageAlreadyMapped(_) => Self::AlreadyMapped,
        }
    }
}

impl From<UnmapError> for MapError {
    fn from(e: UnmapError) -> Self {
        match e {
            UnmapError::ParentEntryHugePage => Self::HugePage,
            _ => Self::NotMapped,
        }
    }
}

/// Maps `[start, end)` of the kernel image (virtual) with `flags`.
fn map_image_range(pt: &mut OffsetPageTable<'_>, start: u64, end: u64, flags: F) {
    let mut va = start & !0xfff;
    while va < end {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(va));
        let frame = PhysFrame::containing_address(PhysAddr::new(mm::image_virt_to_phys(va)));
        // SAFETY: maps the image onto its own physical pages, as linked.
        unsafe { pt.map_to(page, frame, flags | F::GLOBAL, &mut TableFrames) }
            .expect("kernel image mapping")
            .ignore();
        va += 4096;
    }
}

/// Builds the kernel page tables and switches to them. Runs once, on the
/// boot processor, while the boot identity map of the first GiB is live
/// (the new tables are built through it, so their frames must lie there).
pub fn init(map: &MemoryMap) {
    let pml4 = mm::frames::alloc().expect("a frame for the PML4");
    assert!(
        pml4.addr() < 1 << 30,
        "PML4 must be below 1 GiB during boot"
    );
    // SAFETY: identity-mapped during boot; the frame is ours.
    let table = unsafe { &mut *(pml4.addr() as *mut PageTable) };
    table.zero();
    // SAFETY: offset 0 is valid while the boot identity map is in place and
    // table frames come from below 1 GiB (the allocator is next-fit from
    // the bottom); `init` is the only user of this temporary mapper.
    let mut pt = unsafe { OffsetPageTable::new(table, VirtAddr::new(0)) };

    // Direct map of RAM and ACPI memory, 2 MiB pages.
    let direct = F::PRESENT | F::WRITABLE | F::NO_EXECUTE | F::GLOBAL;
    for r in map.regions() {
        if !matches!(
            r.kind,
            RegionKind::Ram | RegionKind::AcpiReclaimable | RegionKind::AcpiNvs
        ) {
            continue;
        }
        let start = r.start & !((2 << 20) - 1);
        let end = r.end().min(mm::frames::MAX_PHYS).next_multiple_of(2 << 20);
        let mut pa = start;
        while pa < end {
            let page = Page::<Size2MiB>::containing_address(VirtAddr::new(PHYS_OFFSET + pa));
            let frame = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(pa));
            // SAFETY: the direct map aliases RAM only as no-execute data.
            match unsafe { pt.map_to(page, frame, direct, &mut TableFrames) } {
                Ok(flush) => flush.ignore(),
                Err(MapToError::PageAlreadyMapped(_)) => {} // neighbouring regions
                Err(e) => panic!("direct map at {pa:#x}: {e:?}"),
            }
            pa += 2 << 20;
        }
    }

    // The kernel image, W^X.
    map_image_range(&mut pt, image::text_start(), image::text_end(), F::PRESENT);
    map_image_range(
        &mut pt,
        image::rodata_start(),
        image::rodata_end(),
        F::PRESENT | F::NO_EXECUTE,
    );
    map_image_range(
        &mut pt,
        image::data_start(),
        image::kernel_end(),
        F::PRESENT | F::WRITABLE | F::NO_EXECUTE,
    );

    // Every upper-half (kernel) PML4 entry exists from now on and never
    // changes: user address spaces copy them into their own PML4s.
    for entry in table.iter_mut().skip(256) {
        if entry.is_unused() {
            let f = mm::frames::alloc().expect("a frame for a kernel PDPT");
            assert!(
                f.addr() < 1 << 30,
                "kernel PDPTs must be below 1 GiB during boot"
            );
            // SAFETY: identity-mapped during boot (checked just above);
            // the frame is ours.
            unsafe { &mut *(f.addr() as *mut PageTable) }.zero();
            entry.set_addr(PhysAddr::new(f.addr()), F::PRESENT | F::WRITABLE);
        }
    }

    // SAFETY: enabling global pages is always allowed; the new tables map
    // everything the kernel touches from here on (its image, the stack in
    // .bss, the direct map).
    unsafe {
        Cr4::update(|f| f.insert(Cr4Flags::PAGE_GLOBAL));
        Cr3::write(
            PhysFrame::containing_address(PhysAddr::new(pml4.addr())),
            Cr3Flags::empty(),
        );
    }
    KERNEL_PML4.store(pml4.addr(), Ordering::Relaxed);
    // SAFETY: the direct map now covers every page-table frame.
    let table = unsafe { &mut *((PHYS_OFFSET + pml4.addr()) as *mut PageTable) };
    // SAFETY: PHYS_OFFSET maps all of RAM; this is the only mapper from now on.
    *KERNEL_PT.lock() = Some(unsafe { OffsetPageTable::new(table, VirtAddr::new(PHYS_OFFSET)) });
}

/// Physical address of the kernel's PML4 (for CR3 on new processors).
pub fn kernel_pml4() -> u64 {
    KERNEL_PML4.load(Ordering::Relaxed)
}

/// Entry `index` (256..512) of the kernel's PML4: fixed after [`init`],
/// copied into every user address space's PML4s.
pub fn kernel_entry(index: usize) -> u64 {
    assert!((256..512).contains(&index), "not a kernel-half PML4 entry");
    let pml4 = mm::phys_to_virt(kernel_pml4()) as *const u64;
    // SAFETY: the kernel PML4 is mapped in the direct map; its upper half
    // is written only during `init`.
    unsafe { pml4.add(index).read_volatile() }
}

/// Loads the PML4 at `pml4` (the kernel's, or a user space's, whose upper
/// half is the kernel's) into CR3, unless it is already there.
pub fn switch_tables(pml4: u64) {
    let (now, _) = Cr3::read_raw();
    if now.start_address().as_u64() == pml4 {
        return;
    }
    // SAFETY: every PML4 given here maps the kernel exactly as the
    // kernel's own (the same upper-half entries), so execution continues.
    unsafe {
        Cr3::write(
            PhysFrame::containing_address(PhysAddr::new(pml4)),
            Cr3Flags::empty(),
        )
    };
}

fn with<R>(f: impl FnOnce(&mut OffsetPageTable<'static>) -> R) -> R {
    f(KERNEL_PT.lock().as_mut().expect("paging used before init"))
}

/// Maps one 4 KiB kernel page onto `pa`, writable or read-only, never
/// executable.
pub fn map_kernel_page(va: VirtAddr, pa: u64, writable: bool) -> Result<(), MapError> {
    let mut flags = F::PRESENT | F::NO_EXECUTE | F::GLOBAL;
    if writable {
        flags |= F::WRITABLE;
    }
    map_page_flags(va, pa, flags)
}

fn map_page_flags(va: VirtAddr, pa: u64, flags: F) -> Result<(), MapError> {
    let page = Page::<Size4KiB>::containing_address(va);
    let frame = PhysFrame::containing_address(PhysAddr::new(pa));
    // SAFETY: callers map fresh virtual addresses in kernel windows onto
    // frames they own; nothing else aliases these addresses.
    with(|pt| unsafe { pt.map_to(page, frame, flags, &mut TableFrames) })?.flush();
    Ok(())
}

/// Unmaps one 4 KiB kernel page on every processor; returns its frame.
pub fn unmap_kernel_page(va: VirtAddr) -> Result<u64, MapError> {
    let page = Page::<Size4KiB>::containing_address(va);
    let (frame, flush) = with(|pt| pt.unmap(page))?;
    flush.flush();
    crate::ipi::run_on_others(&|| x86_64::instructions::tlb::flush(va));
    Ok(frame.start_address().as_u64())
}

/// The physical address `va` maps to.
pub fn translate(va: VirtAddr) -> Option<u64> {
    with(|pt| pt.translate_addr(va)).map(|p| p.as_u64())
}

/// Maps device registers uncached; returns their virtual address.
pub fn map_mmio(pa: u64, len: u64) -> VirtAddr {
    let first = pa & !0xfff;
    let pages = (pa + len - first).div_ceil(4096);
    let base = NEXT_MMIO.fetch_add(pages * 4096, Ordering::Relaxed);
    let flags =
        F::PRESENT | F::WRITABLE | F::NO_CACHE | F::WRITE_THROUGH | F::NO_EXECUTE | F::GLOBAL;
    for i in 0..pages {
        map_page_flags(VirtAddr::new(base + i * 4096), first + i * 4096, flags)
            .expect("MMIO window is fresh");
    }
    VirtAddr::new(base + (pa - first))
}

/// Identity-maps the low page at `pa`, executable, for the real-mode
/// trampoline of starting processors.
pub fn map_identity_exec(pa: u64) {
    map_page_flags(VirtAddr::new(pa), pa, F::PRESENT | F::WRITABLE).expect("trampoline page");
}

/// Removes the trampoline identity mapping.
pub fn unmap_identity(pa: u64) {
    let page = Page::<Size4KiB>::containing_address(VirtAddr::new(pa));
    if let Ok((_, flush)) = with(|pt| pt.unmap(page)) {
        flush.flush();
    }
}

/// The flags of the 4 KiB mapping at `va` (tests check W^X with it).
pub fn flags_of(va: VirtAddr) -> Option<F> {
    use x86_64::structures::paging::mapper::TranslateResult;
    match with(|pt| pt.translate(va)) {
        TranslateResult::Mapped { flags, .. } => Some(flags),
        _ => None,
    }
}

ktest::ktest! {
    /// A page mapped in the scratch window is visible, aliases its frame in
    /// the direct map, and faults once unmapped.
    fn paging_map_unmap() {
        let va = VirtAddr::new(mm::SCRATCH_BASE + 0x1000);
        let f = mm::frames::alloc_zeroed().unwrap();
        map_kernel_page(va, f.addr(), true).unwrap();
        assert_eq!(translate(va), Some(f.addr()));
        assert_eq!(map_kernel_page(va, f.addr(), true), Err(MapError::AlreadyMapped));
        // SAFETY: just mapped, writable, ours.
        unsafe { (va.as_u64() as *mut u64).write_volatile(0x4b42_0042) };
        // SAFETY: the frame is mapped in the direct map.
        let alias = unsafe { ((PHYS_OFFSET + f.addr()) as *const u64).read_volatile() };
        assert_eq!(alias, 0x4b42_0042);
        assert_eq!(unmap_kernel_page(va), Ok(f.addr()));
        assert_eq!(translate(va), None);
        let fault = crate::arch::extable::probe_read_u64(va.as_u64()).unwrap_err();
        assert_eq!((fault.vector, fault.address), (14, va.as_u64()));
        assert_eq!(unmap_kernel_page(va), Err(MapError::NotMapped));
        mm::frames::free(f);
    }

    /// The kernel image is W^X: text is not writable, data not executable,
    /// and no page is both.
    fn paging_kernel_image_is_w_xor_x() {
        let text = flags_of(VirtAddr::new(image::text_start())).unwrap();
        assert!(!text.contains(F::WRITABLE) && !text.contains(F::NO_EXECUTE));
        let ro = flags_of(VirtAddr::new(image::rodata_start())).unwrap();
        assert!(!ro.contains(F::WRITABLE) && ro.contains(F::NO_EXECUTE));
        let data = flags_of(VirtAddr::new(image::data_start())).unwrap();
        assert!(data.contains(F::WRITABLE) && data.contains(F::NO_EXECUTE));
        let mut va = image::text_start();
        while va < image::kernel_end() {
            let f = flags_of(VirtAddr::new(va)).unwrap();
            assert!(!f.contains(F::WRITABLE) || f.contains(F::NO_EXECUTE), "W+X page at {va:#x}");
            va += 4096;
        }
    }

    /// Nothing is mapped at low (user) addresses after boot.
    fn paging_no_identity_map_after_boot() {
        for pa in [0u64, 0x8000, 0x10_0000, 0x20_0000] {
            assert_eq!(translate(VirtAddr::new(pa)), None, "{pa:#x} still mapped");
        }
    }
}

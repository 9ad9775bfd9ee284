//! The global physical frame allocator: the `frames` crate's bitmap behind
//! an interrupt-safe lock, initialised from the boot memory map.

use crate::sync::IrqMutex;
use bootinfo::MemoryMap;
use core::sync::atomic::{AtomicU64, Ordering};
use frames::{Frame, FrameAllocator, FreeError};

/// RAM above this is not used (and the boot log says so).
pub const MAX_PHYS: u64 = 16 << 30;
const WORDS: usize = FrameAllocator::words_for(MAX_PHYS / frames::FRAME_SIZE);

static ALLOC: IrqMutex<Option<FrameAllocator<'static>>> = IrqMutex::new(None);
static mut BITMAP: [u64; WORDS] = [0; WORDS];

/// Builds the allocator: usable RAM, minus the first MiB (real-mode
/// trampoline, BIOS data), the kernel image and `reserved` (boot modules).
pub fn init(map: &MemoryMap, reserved: &[(u64, u64)]) {
    // SAFETY: `init` runs once, on the boot processor, before any other
    // user of BITMAP; afterwards BITMAP is reached only through ALLOC.
    let bits: &'static mut [u64; WORDS] = unsafe { &mut *core::ptr::addr_of_mut!(BITMAP) };
    let top = map.max_usable().min(MAX_PHYS);
    let mut fa = FrameAllocator::new(bits, top / frames::FRAME_SIZE);
    for r in map.usable() {
        fa.add_free_range(r.start, r.end().min(top));
    }
    fa.reserve_range(0, 0x10_0000);
    fa.reserve_range(
        super::image::boot_start(),
        super::image_virt_to_phys(super::image::kernel_end()),
    );
    for &(start, end) in reserved {
        fa.reserve_range(start, end);
    }
    if map.max_usable() > MAX_PHYS {
        log::warn!(
            "RAM above {} GiB is not used by this kernel",
            MAX_PHYS >> 30
        );
    }
    *ALLOC.lock() = Some(fa);
}

fn with<R>(f: impl FnOnce(&mut FrameAllocator<'static>) -> R) -> R {
    f(ALLOC
        .lock()
        .as_mut()
        .expect("frame allocator used before init"))
}

/// Allocates one frame.
pub fn alloc() -> Option<Frame> {
    with(|fa| fa.alloc())
}

/// Allocates one frame and zeroes it through the direct map.
pub fn alloc_zeroed() -> Option<Frame> {
    let f = alloc()?;
    let p = super::phys_to_virt(f.addr()) as *mut u8;
    // SAFETY: the frame is ours and mapped in the direct map.
    unsafe { core::ptr::write_bytes(p, 0, frames::FRAME_SIZE as usize) };
    Some(f)
}

/// Where the last batch of each memory range (by index, see
/// [`super::heap::node_ranges`]) ended, and (last slot) of the whole
/// memory; read and written under `ALLOC`'s lock.
static BATCH_HINTS: [AtomicU64; 17] = [const { AtomicU64::new(0) }; 17];

/// Fills `out` with single frames of `node`'s memory, or of any memory
/// when the node has too few; returns how many. One lock for the batch:
/// the refill of the root PM's per-processor frame caches.
pub fn alloc_near(node: usize, out: &mut [Frame]) -> usize {
    with(|fa| {
        let mut got = 0;
        let mut batch = |fa: &mut FrameAllocator, within, slot: usize, got: &mut usize| {
            let mut hint = BATCH_HINTS[slot].load(Ordering::Relaxed);
            *got += fa.alloc_batch(&mut out[*got..], within, &mut hint);
            BATCH_HINTS[slot].store(hint, Ordering::Relaxed);
        };
        for (i, range) in super::heap::node_ranges(node) {
            batch(fa, Some(range), i, &mut got);
        }
        batch(fa, None, 16, &mut got);
        got
    })
}

/// Frees single frames under one lock. A double free is a kernel bug and
/// panics with the frame's address.
pub fn free_many(frames: impl Iterator<Item = Frame>) {
    if let Err(e) = with(|fa| fa.free_batch(frames)) {
        panic!("frame allocator: {e}");
    }
}

/// Allocates `count` contiguous frames aligned to `align` frames.
pub fn alloc_contiguous(count: u64, align: u64) -> Option<Frame> {
    with(|fa| fa.alloc_contiguous(count, align, None))
}

/// Allocates `count` contiguous frames aligned to `align` frames inside
/// the physical range `within` (one NUMA node's memory).
pub fn alloc_contiguous_in(count: u64, align: u64, within: core::ops::Range<u64>) -> Option<Frame> {
    with(|fa| fa.alloc_contiguous(count, align, Some(within)))
}

/// Frees one frame. A double free is a kernel bug and panics with the
/// frame's address.
pub fn free(f: Frame) {
    if let Err(e) = with(|fa| fa.free(f)) {
        panic!("frame allocator: {e}");
    }
}

/// Frees contiguous frames.
pub fn free_contiguous(first: Frame, count: u64) -> Result<(), FreeError> {
    with(|fa| fa.free_contiguous(first, count))
}

/// Whether the frame holding physical address `pa` is in use.
pub fn is_allocated(pa: u64) -> bool {
    with(|fa| fa.is_allocated(Frame::containing(pa)))
}

/// `(free, total)` frames.
pub fn stats() -> (u64, u64) {
    with(|fa| (fa.free_count(), fa.total()))
}

ktest::ktest! {
    /// Frames come from RAM, are distinct, and return to the pool.
    fn frames_alloc_free_roundtrip() {
        let (free0, _) = stats();
        let a = alloc().expect("a frame");
        let b = alloc().expect("another frame");
        assert_ne!(a, b);
        assert!(a.addr() >= 0x10_0000, "first MiB is reserved");
        assert_eq!(stats().0, free0 - 2);
        free(a);
        free(b);
        assert_eq!(stats().0, free0);
    }

    /// The kernel image is never handed out.
    fn frames_exclude_kernel_image() {
        let start = super::image::boot_start();
        let end = super::image_virt_to_phys(super::image::kernel_end());
        let mut got = alloc::vec::Vec::new();
        for _ in 0..256 {
            let f = alloc().expect("frame");
            assert!(f.addr() + 4096 <= start || f.addr() >= end, "{f:?} inside the kernel image");
            got.push(f);
        }
        for f in got {
            free(f);
        }
    }

    /// Contiguous aligned runs (2 MiB) are aligned and usable.
    fn frames_contiguous_2mib() {
        let f = alloc_contiguous(512, 512).expect("2 MiB run");
        assert_eq!(f.addr() % (2 << 20), 0);
        let p = super::phys_to_virt(f.addr()) as *mut u64;
        // Write the first and last word through the direct map.
        for i in [0usize, (2 << 20) / 8 - 1] {
            // SAFETY: the run is ours and mapped in the direct map.
            unsafe { p.add(i).write_volatile(i as u64 ^ 0x4b42) };
            // SAFETY: as above.
            assert_eq!(unsafe { p.add(i).read_volatile() }, i as u64 ^ 0x4b42);
        }
        free_contiguous(f, 512).unwrap();
    }

    /// Double frees are refused with an error naming the frame.
    fn frames_double_free_is_detected() {
        let f = alloc().unwrap();
        free(f);
        assert_eq!(with(|fa| fa.free(f)), Err(FreeError::DoubleFree(f)));
    }
}

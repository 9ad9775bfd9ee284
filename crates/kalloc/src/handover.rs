//! Switching the kernel from its bootstrap heap to kalloc without a flag
//! day.
//!
//! The kernel needs a heap before it can build kalloc's tables (which need
//! the frame allocator and the SRAT), and blocks from that bootstrap heap
//! live on after the switch. [`Handover`] is the `#[global_allocator]` for
//! the whole life of the kernel: it allocates from the bootstrap heap until
//! [`Kalloc::init`] has run and from kalloc afterwards, and sends each free
//! to whichever heap the address belongs to (the bootstrap heap is one
//! contiguous range, registered with [`Handover::set_boot_range`]).
//!
//! ```no_run
//! # use core::alloc::{GlobalAlloc, Layout};
//! # use core::ptr::NonNull;
//! # use kalloc::{handover::Handover, Kalloc, PageSource, Platform};
//! # struct BootHeap; struct KernelCpus; struct FramePages;
//! # unsafe impl GlobalAlloc for BootHeap {
//! #     unsafe fn alloc(&self, _: Layout) -> *mut u8 { core::ptr::null_mut() }
//! #     unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
//! # }
//! # unsafe impl Platform for KernelCpus { fn with_cpu<R>(&self, f: impl FnOnce(usize) -> R) -> R { f(0) } }
//! # unsafe impl PageSource for FramePages {
//! #     fn alloc_pages(&self, _: usize, _: usize, _: usize) -> Option<NonNull<u8>> { None }
//! #     unsafe fn free_pages(&self, _: NonNull<u8>, _: usize) {}
//! # }
//! #[global_allocator]
//! static HEAP: Handover<BootHeap, KernelCpus, FramePages> =
//!     Handover::new(BootHeap, Kalloc::new(KernelCpus, FramePages));
//! # fn main() {
//! // Early boot: give the bootstrap heap its region, and tell the handover.
//! # let (start, end) = (0usize, 0usize);
//! HEAP.set_boot_range(start, end);
//! // Later, once frames and SRAT are known: HEAP.kalloc().init(&config)
//! # }
//! ```

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::heap::{Flavour, Kalloc};
use crate::platform::{PageSource, Platform};

/// The kernel's global allocator across the switch from a bootstrap heap
/// `B` to kalloc.
pub struct Handover<B, P: Platform, S: PageSource> {
    boot: B,
    kalloc: Kalloc<P, S>,
    boot_start: AtomicUsize,
    boot_end: AtomicUsize,
}

impl<B: GlobalAlloc, P: Platform, S: PageSource> Handover<B, P, S> {
    /// Both heaps; kalloc takes over once [`Kalloc::init`] has run on it.
    pub const fn new(boot: B, kalloc: Kalloc<P, S>) -> Self {
        Self {
            boot,
            kalloc,
            boot_start: AtomicUsize::new(0),
            boot_end: AtomicUsize::new(0),
        }
    }

    /// Registers the bootstrap heap's address range `[start, end)`. Call it
    /// before the first allocation from the bootstrap heap.
    pub fn set_boot_range(&self, start: usize, end: usize) {
        self.boot_start.store(start, Ordering::Relaxed);
        self.boot_end.store(end, Ordering::Release);
    }

    /// The kalloc half (to `init` it, and for flavours and statistics).
    pub fn kalloc(&self) -> &Kalloc<P, S> {
        &self.kalloc
    }

    /// The bootstrap half.
    pub fn boot(&self) -> &B {
        &self.boot
    }

    /// Whether `ptr` belongs to the bootstrap heap.
    pub fn is_boot(&self, ptr: *mut u8) -> bool {
        let end = self.boot_end.load(Ordering::Acquire);
        let start = self.boot_start.load(Ordering::Relaxed);
        (start..end).contains(&(ptr as usize))
    }
}

// SAFETY: every block comes from one of the two heaps and is freed to the
// heap that owns its address: before `init` kalloc hands out nothing, so
// all blocks are the bootstrap heap's, inside its registered range; kalloc's
// blocks are never inside that range (it is not memory the page source
// owns).
unsafe impl<B: GlobalAlloc, P: Platform, S: PageSource> GlobalAlloc for Handover<B, P, S> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if self.kalloc.is_ready() {
            self.kalloc
                .allocate(layout, Flavour::Global)
                .map_or(core::ptr::null_mut(), NonNull::as_ptr)
        } else {
            // SAFETY: forwarded contract.
            unsafe { self.boot.alloc(layout) }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if self.is_boot(ptr) {
            // SAFETY: a bootstrap block, forwarded contract.
            unsafe { self.boot.dealloc(ptr, layout) }
        } else {
            // SAFETY: a kalloc block, forwarded contract.
            unsafe { self.kalloc.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if self.is_boot(ptr) && self.kalloc.is_ready() {
            // Move the block over to kalloc.
            // SAFETY: the caller's `realloc` contract makes this a valid
            // layout.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            // SAFETY: as for `alloc`.
            let fresh = unsafe { self.alloc(new_layout) };
            if !fresh.is_null() {
                // SAFETY: both live, at least min(old, new) bytes.
                unsafe {
                    core::ptr::copy_nonoverlapping(ptr, fresh, layout.size().min(new_size));
                    self.boot.dealloc(ptr, layout);
                }
            }
            fresh
        } else if self.is_boot(ptr) {
            // SAFETY: forwarded contract.
            unsafe { self.boot.realloc(ptr, layout, new_size) }
        } else {
            // SAFETY: forwarded contract.
            unsafe { self.kalloc.realloc(ptr, layout, new_size) }
        }
    }
}

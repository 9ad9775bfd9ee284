//! The bootstrap kernel heap: a linked-list allocator over one contiguous
//! run of frames, behind an interrupt-safe lock.
//!
//! This is a stop-gap: the locality-aware per-processor allocator
//! (`kalloc`, K42 paper §3) replaces it as `#[global_allocator]`.

use crate::sync::IrqMutex;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use linked_list_allocator::Heap;

struct BootHeap(IrqMutex<Heap>);

#[global_allocator]
static HEAP: BootHeap = BootHeap(IrqMutex::new(Heap::empty()));

// SAFETY: `Heap` hands out disjoint, correctly aligned blocks of the region
// given to `init`; the lock serialises it.
unsafe impl GlobalAlloc for BootHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0
            .lock()
            .allocate_first_fit(layout)
            .map_or(core::ptr::null_mut(), |p| p.as_ptr())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: the caller passes a block this heap handed out.
            unsafe { self.0.lock().deallocate(p, layout) }
        }
    }
}

/// Gives the heap `bytes` of contiguous RAM. Panics if there is none.
pub fn init(bytes: u64) {
    let frames = bytes / frames::FRAME_SIZE;
    let first = super::frames::alloc_contiguous(frames, 1)
        .unwrap_or_else(|| panic!("no {} KiB of contiguous RAM for the heap", bytes / 1024));
    let va = super::phys_to_virt(first.addr());
    // SAFETY: the frames are ours, mapped in the direct map, and given to
    // the heap exactly once.
    unsafe { HEAP.0.lock().init(va as *mut u8, bytes as usize) };
}

/// `(used, size)` in bytes.
pub fn stats() -> (usize, usize) {
    let h = HEAP.0.lock();
    (h.used(), h.size())
}

ktest::ktest! {
    /// Boxes and vectors work, and freeing returns the memory.
    fn heap_alloc_and_free() {
        use alloc::vec::Vec;
        let (used0, _) = stats();
        let mut v: Vec<u64> = Vec::with_capacity(1000);
        v.extend(0..1000u64);
        assert_eq!(v.iter().sum::<u64>(), 999 * 1000 / 2);
        assert!(stats().0 >= used0 + 8000);
        drop(v);
        assert_eq!(stats().0, used0);
    }
}

//! The global allocator: a first-fit free list over a static array (in
//! `.bss`, so only the pages used are ever faulted in).

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

use linked_list_allocator::Heap;

/// Bytes of heap.
pub const HEAP_SIZE: usize = 8 << 20;

#[repr(align(4096))]
#[allow(dead_code)] // only its address is used
struct Arena([u8; HEAP_SIZE]);

static mut ARENA: Arena = Arena([0; HEAP_SIZE]);

struct Allocator(spin::Mutex<Heap>);

#[global_allocator]
static ALLOCATOR: Allocator = Allocator(spin::Mutex::new(Heap::empty()));

/// Hands the arena to the allocator (done by the entry code, once).
pub fn init() {
    let mut h = ALLOCATOR.0.lock();
    if h.size() == 0 {
        // SAFETY: the arena is used by nothing else, and this runs once
        // (the size check) before any allocation.
        unsafe { h.init(core::ptr::addr_of_mut!(ARENA) as *mut u8, HEAP_SIZE) };
    }
}

/// Bytes allocated now.
pub fn used() -> usize {
    ALLOCATOR.0.lock().used()
}

// SAFETY: `Heap` hands out disjoint, suitably aligned blocks of the arena
// and takes them back; the lock serialises it.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0
            .lock()
            .allocate_first_fit(layout)
            .map_or(core::ptr::null_mut(), |p| p.as_ptr())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: `ptr` came from `alloc` with this layout.
            unsafe { self.0.lock().deallocate(p, layout) };
        }
    }
}

//! Kernel stacks with guard pages.
//!
//! Stacks are mapped in their own window, [`super::STACKS_BASE`], each with
//! an unmapped page below it, so an overflow faults at once (and, as the
//! fault cannot push onto the dead stack, ends on the double-fault IST stack
//! with a report) instead of silently corrupting a neighbour.

use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::VirtAddr;

static NEXT: AtomicU64 = AtomicU64::new(super::STACKS_BASE);

/// A kernel stack: `[bottom, top)`; it grows down from `top`.
#[derive(Clone, Copy, Debug)]
pub struct Stack {
    /// Lowest usable address (the guard page is just below).
    pub bottom: VirtAddr,
    /// Initial stack pointer.
    pub top: VirtAddr,
}

/// Maps a new stack of `bytes` (rounded up to pages). Stacks are never
/// freed: there is one per processor and per IST slot.
pub fn alloc(bytes: usize) -> Stack {
    let pages = (bytes as u64).div_ceil(4096);
    let base = NEXT.fetch_add((pages + 1) * 4096, Ordering::Relaxed) + 4096;
    for i in 0..pages {
        let f = super::frames::alloc_zeroed().expect("out of memory for a kernel stack");
        crate::arch::paging::map_kernel_page(VirtAddr::new(base + i * 4096), f.addr(), true)
            .expect("stack window is fresh");
    }
    Stack {
        bottom: VirtAddr::new(base),
        top: VirtAddr::new(base + pages * 4096),
    }
}

ktest::ktest! {
    /// The page under a stack is a guard: reading it faults.
    fn stack_has_guard_page() {
        let s = alloc(8192);
        assert!(crate::arch::extable::probe_read_u64(s.bottom.as_u64()).is_ok());
        assert!(crate::arch::extable::probe_read_u64(s.top.as_u64() - 8).is_ok());
        let guard = crate::arch::extable::probe_read_u64(s.bottom.as_u64() - 8);
        assert_eq!(guard.map_err(|f| f.vector), Err(14));
    }
}

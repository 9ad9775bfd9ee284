//! The kernel heap: K42's locality-aware allocator (`kalloc`), behind a
//! bootstrap heap for the first steps of boot.
//!
//! The `#[global_allocator]` is a `kalloc::handover::Handover`: until
//! [`init_kalloc`] it allocates from a small linked-list heap (the frame
//! allocator and the ACPI tables are needed before kalloc can be set up);
//! from then on every allocation is kalloc's, on the current processor's
//! free lists, in memory of its NUMA node. Frees go to whichever heap owns
//! the address, so bootstrap blocks may live on.
//!
//! The platform glue is small: [`KernelCpus`] runs kalloc's per-processor
//! fast path with interrupts off on the current processor (there is no
//! kernel preemption), and [`FramePages`] hands out runs of frames, per
//! NUMA node, in the direct map.

use crate::arch::{cpu, percpu};
use crate::sync::IrqMutex;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use kalloc::handover::Handover;
use kalloc::{Kalloc, NodeRange};
use linked_list_allocator::Heap;
use spin::Once;

/// The bootstrap heap: a linked-list allocator over one run of frames.
pub struct BootHeap(IrqMutex<Heap>);

// SAFETY: `Heap` hands out disjoint, correctly aligned blocks of the region
// given to `init_boot`; the lock serialises it.
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

/// kalloc's view of the processors.
pub struct KernelCpus;

// SAFETY: with interrupts off, and no kernel preemption, nothing else runs
// on this processor until `f` returns; the id is this processor's (0 on the
// boot processor before its GS base is set, which is right).
unsafe impl kalloc::Platform for KernelCpus {
    #[inline]
    fn with_cpu<R>(&self, f: impl FnOnce(usize) -> R) -> R {
        cpu::without_interrupts(|| f(percpu::current_id()))
    }
}

/// Physical ranges of each NUMA node (from the SRAT), for the page source.
struct NodeMemory {
    ranges: [(u64, u64, usize); 16],
    count: usize,
    /// Each processor's node.
    cpu_nodes: [u8; percpu::MAX_CPUS],
}

static NODE_MEMORY: Once<NodeMemory> = Once::new();

/// kalloc's page layer: the frame allocator, per node, in the direct map.
pub struct FramePages;

// SAFETY: runs come from the frame allocator (unused, exclusively ours,
// mapped in the direct map) and never from the heap.
unsafe impl kalloc::PageSource for FramePages {
    fn alloc_pages(&self, node: usize, pages: usize, align: usize) -> Option<NonNull<u8>> {
        let align_frames = (align / 4096).max(1) as u64;
        let mem = NODE_MEMORY.get()?;
        mem.ranges[..mem.count]
            .iter()
            .filter(|r| r.2 == node)
            .find_map(|&(start, end, _)| {
                super::frames::alloc_contiguous_in(pages as u64, align_frames, start..end)
            })
            .and_then(|f| NonNull::new(super::phys_to_virt(f.addr()) as *mut u8))
    }

    unsafe fn free_pages(&self, ptr: NonNull<u8>, pages: usize) {
        let pa = ptr.as_ptr() as u64 - super::PHYS_OFFSET;
        if let Err(e) = super::frames::free_contiguous(frames::Frame::containing(pa), pages as u64)
        {
            panic!("kalloc gave back pages the frame allocator does not own: {e}");
        }
    }
}

/// The kernel heap.
#[global_allocator]
pub static HEAP: Handover<BootHeap, KernelCpus, FramePages> = Handover::new(
    BootHeap(IrqMutex::new(Heap::empty())),
    Kalloc::new(KernelCpus, FramePages),
);

/// Size of the bootstrap heap.
pub const BOOT_HEAP_BYTES: u64 = 2 << 20;

/// Gives the bootstrap heap its memory. Panics if there is none.
pub fn init_boot() {
    let frames = BOOT_HEAP_BYTES / frames::FRAME_SIZE;
    let first = super::frames::alloc_contiguous(frames, 1).unwrap_or_else(|| {
        panic!(
            "no {} KiB of contiguous RAM for the boot heap",
            BOOT_HEAP_BYTES / 1024
        )
    });
    let va = super::phys_to_virt(first.addr());
    HEAP.set_boot_range(va as usize, (va + BOOT_HEAP_BYTES) as usize);
    // SAFETY: the frames are ours, mapped in the direct map, and given to
    // the bootstrap heap exactly once.
    unsafe {
        HEAP.boot()
            .0
            .lock()
            .init(va as *mut u8, BOOT_HEAP_BYTES as usize)
    };
}

/// Switches the heap to kalloc. `cpu_nodes[k]` is processor k's node;
/// `ranges` are `(physical start, end, node)`; `nodes` counts the nodes.
pub fn init_kalloc(nodes: usize, cpu_nodes: &[usize], ranges: &[(u64, u64, usize)]) {
    let mut mem = NodeMemory {
        ranges: [(0, 0, 0); 16],
        count: 0,
        cpu_nodes: [0; percpu::MAX_CPUS],
    };
    for (slot, &n) in mem.cpu_nodes.iter_mut().zip(cpu_nodes) {
        *slot = n as u8;
    }
    for (slot, r) in mem.ranges.iter_mut().zip(ranges) {
        *slot = *r;
        mem.count += 1;
    }
    NODE_MEMORY.call_once(|| mem);
    let mut node_ranges = [NodeRange {
        start: 0,
        end: 0,
        node: 0,
    }; 16];
    for (slot, &(s, e, n)) in node_ranges.iter_mut().zip(ranges) {
        *slot = NodeRange {
            start: super::phys_to_virt(s) as usize,
            end: super::phys_to_virt(e) as usize,
            node: n,
        };
    }
    let config = kalloc::Config {
        nodes,
        cpu_nodes,
        ranges: &node_ranges[..ranges.len().min(16)],
    };
    if let Err(e) = HEAP.kalloc().init(&config) {
        panic!("kalloc: {e:?}");
    }
}

/// The NUMA node of physical address `pa`, per the SRAT.
pub fn node_of_phys(pa: u64) -> Option<usize> {
    let mem = NODE_MEMORY.get()?;
    mem.ranges[..mem.count]
        .iter()
        .find(|r| (r.0..r.1).contains(&pa))
        .map(|r| r.2)
}

/// Processor `cpu`'s NUMA node (0 before the heap knows the topology).
pub fn node_of_cpu(cpu: usize) -> usize {
    NODE_MEMORY
        .get()
        .and_then(|m| m.cpu_nodes.get(cpu))
        .map_or(0, |&n| n as usize)
}

/// The physical ranges of `node`'s memory, each with its index among all
/// the machine's ranges (at most 16).
pub fn node_ranges(node: usize) -> impl Iterator<Item = (usize, core::ops::Range<u64>)> {
    NODE_MEMORY
        .get()
        .into_iter()
        .flat_map(|m| m.ranges[..m.count].iter().enumerate())
        .filter(move |(_, r)| r.2 == node)
        .map(|(i, r)| (i, r.0..r.1))
}

/// The allocator, for statistics and flavours.
pub fn kalloc() -> &'static Kalloc<KernelCpus, FramePages> {
    HEAP.kalloc()
}

ktest::ktest! {
    /// Boxes and vectors come from kalloc on this processor, and freeing
    /// them is counted there too.
    fn heap_alloc_and_free_on_this_processor() {
        use alloc::vec::Vec;
        let me = percpu::current_id();
        let before = kalloc().cpu_stats(me).unwrap();
        let mut v: Vec<alloc::boxed::Box<u64>> = Vec::new();
        for i in 0..100u64 {
            v.push(alloc::boxed::Box::new(i));
        }
        assert_eq!(v.iter().map(|b| **b).sum::<u64>(), 99 * 100 / 2);
        assert!(!HEAP.is_boot((&*v[0] as *const u64).cast_mut().cast()), "a kalloc block");
        drop(v);
        let after = kalloc().cpu_stats(me).unwrap();
        assert!(after.allocs >= before.allocs + 100, "{before:?} -> {after:?}");
        assert!(after.frees >= before.frees + 100, "{before:?} -> {after:?}");
    }

    /// Large blocks go straight to pages (page-aligned, counted as large)
    /// and come back.
    fn heap_large_blocks_use_pages() {
        let me = percpu::current_id();
        let before = kalloc().cpu_stats(me).unwrap();
        let layout = Layout::from_size_align(256 * 1024, 4096).unwrap();
        // SAFETY: non-zero size; freed below with the same layout.
        let p = core::hint::black_box(unsafe { alloc::alloc::alloc(layout) });
        assert!(!p.is_null());
        assert_eq!(p as usize % 4096, 0);
        // SAFETY: the block is ours and 256 KiB long.
        unsafe { p.add(255 * 1024).write_volatile(0x42) };
        let pa = p as u64 - super::PHYS_OFFSET;
        assert!(super::frames::is_allocated(pa + 255 * 1024), "backed by allocated frames");
        // SAFETY: allocated above with `layout`.
        unsafe { alloc::alloc::dealloc(p, layout) };
        let after = kalloc().cpu_stats(me).unwrap();
        assert_eq!(after.large_allocs, before.large_allocs + 1);
        assert_eq!(after.large_frees, before.large_frees + 1);
        assert!(!super::frames::is_allocated(pa), "pages given back");
    }

    /// kalloc's stress test on every processor at once: random sizes,
    /// flavours and alignments, half of each round freed by the next
    /// processor (remote frees sent home), contents checked.
    fn kalloc_stress_on_all_processors() {
        use core::sync::atomic::{AtomicU64, Ordering};
        use kalloc::RemoteStack;
        let n = percpu::online();
        let peers: alloc::vec::Vec<RemoteStack> = (0..n).map(|_| RemoteStack::new()).collect();
        let failed = AtomicU64::new(0);
        let allocated = AtomicU64::new(0);
        let body = || {
            match kalloc::selftest::stress(kalloc(), percpu::current_id(), &peers, 40) {
                Ok(r) => {
                    allocated.fetch_add(r.allocated, Ordering::SeqCst);
                }
                Err(e) => {
                    crate::println!("kalloc stress on cpu{}: {e:?}", percpu::current_id());
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        };
        crate::ipi::run_concurrently(&body, body);
        crate::ipi::run_on_all(&|| {
            if kalloc::selftest::stress_drain(kalloc(), percpu::current_id(), &peers).is_err() {
                failed.fetch_add(1, Ordering::SeqCst);
            }
        });
        assert_eq!(failed.load(Ordering::SeqCst), 0);
        assert_eq!(allocated.load(Ordering::SeqCst), 40 * 64 * n as u64);
        if n > 1 {
            let received: u64 = (0..n).map(|k| kalloc().cpu_stats(k).unwrap().remote_cpu_received).sum();
            let remote: u64 = (0..n)
                .map(|k| {
                    let s = kalloc().cpu_stats(k).unwrap();
                    s.remote_cpu_frees + s.remote_node_frees
                })
                .sum();
            assert!(received + remote > 0, "frees from other processors were sent home");
        }
    }

    /// With two NUMA nodes (QEMU `-numa`, SRAT), memory allocated on each
    /// processor lives on that processor's node. Runs only on a NUMA boot.
    fn numa_allocations_are_node_local() {
        use core::sync::atomic::{AtomicU64, Ordering};
        assert!(kalloc().nodes() >= 2, "run on a NUMA machine");
        let checked = AtomicU64::new(0);
        let wrong = AtomicU64::new(0);
        crate::ipi::run_on_all(&|| {
            let r = kalloc::selftest::check_placement(kalloc(), |va| {
                node_of_phys(va as u64 - super::PHYS_OFFSET)
            });
            match r {
                Ok(k) => {
                    checked.fetch_add(k as u64, Ordering::SeqCst);
                }
                Err(e) => {
                    crate::println!("cpu{}: {e:?}", percpu::current_id());
                    wrong.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        assert_eq!(wrong.load(Ordering::SeqCst), 0);
        assert!(checked.load(Ordering::SeqCst) > 0);
    }
}

ktest::kbench! {
    /// Cycles for a kalloc alloc+free pair on the local fast path, per
    /// size, and the same pair on all processors at once.
    fn kalloc_pair_cycles() {
        for size in [16usize, 64, 256, 2048] {
            let layout = Layout::from_size_align(size, 8).unwrap();
            let op = || {
                let p = kalloc().allocate(layout, kalloc::Flavour::Global).unwrap();
                // SAFETY: just allocated with `layout`.
                unsafe { kalloc().free(core::hint::black_box(p), layout) };
            };
            let one = crate::bench::parallel(1, 20_000, &op);
            let all = crate::bench::parallel(percpu::online(), 20_000, &op);
            crate::println!(
                "kbench: kalloc.pair size={size} cycles one_cpu={one} all_cpus={all} (cpus={})",
                percpu::online()
            );
        }
    }
}

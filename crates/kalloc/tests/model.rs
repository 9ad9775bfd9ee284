//! The allocator against a model, on a mock platform (the test picks the
//! processor) and a mock page source (which records every run it hands out
//! and can make a node run dry).
#![cfg(not(loom))]

use std::alloc::Layout;
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::ptr::NonNull;
use std::sync::Mutex;

use kalloc::span::{PAGE_SIZE, SPAN_SIZE};
use kalloc::{Config, Flavour, InitError, Kalloc, NodeId, NodeRange, PageSource, Platform};
use proptest::prelude::*;

thread_local! {
    static CPU: Cell<usize> = const { Cell::new(0) };
}

/// The processor is whatever the current test thread set.
struct TestCpus;

// SAFETY: each test gives each processor id to one thread at a time.
unsafe impl Platform for TestCpus {
    fn with_cpu<R>(&self, f: impl FnOnce(usize) -> R) -> R {
        f(CPU.with(Cell::get))
    }
}

fn on_cpu(cpu: usize) {
    CPU.with(|c| c.set(cpu));
}

/// Runs of pages from `std::alloc::System`, recorded with their node.
struct TestPages {
    runs: Mutex<HashMap<usize, (usize, NodeId)>>,
    /// Pages each node may still hand out.
    budget: Mutex<Vec<usize>>,
}

impl TestPages {
    fn new(budget: Vec<usize>) -> Self {
        Self {
            runs: Mutex::new(HashMap::new()),
            budget: Mutex::new(budget),
        }
    }

    fn outstanding(&self) -> usize {
        self.runs.lock().unwrap().len()
    }

    fn node_of(&self, addr: usize) -> Option<NodeId> {
        let runs = self.runs.lock().unwrap();
        runs.iter()
            .find(|(&start, &(pages, _))| (start..start + pages * PAGE_SIZE).contains(&addr))
            .map(|(_, &(_, node))| node)
    }
}

// SAFETY: runs come from the system allocator with the layout asked for.
unsafe impl PageSource for TestPages {
    fn alloc_pages(&self, node: NodeId, pages: usize, align: usize) -> Option<NonNull<u8>> {
        assert!(align.is_power_of_two() && align >= PAGE_SIZE);
        {
            let mut budget = self.budget.lock().unwrap();
            let left = budget.get_mut(node)?;
            if *left < pages {
                return None;
            }
            *left -= pages;
        }
        let layout = Layout::from_size_align(pages * PAGE_SIZE, align).unwrap();
        // SAFETY: non-zero size.
        let p = NonNull::new(unsafe { std::alloc::System.alloc(layout) })?;
        self.runs
            .lock()
            .unwrap()
            .insert(p.as_ptr() as usize, (pages, node));
        Some(p)
    }

    unsafe fn free_pages(&self, ptr: NonNull<u8>, pages: usize) {
        let (recorded, node) = self
            .runs
            .lock()
            .unwrap()
            .remove(&(ptr.as_ptr() as usize))
            .expect("freeing a run the page source never handed out");
        assert_eq!(recorded, pages, "freeing a run with the wrong page count");
        self.budget.lock().unwrap()[node] += pages;
        let align = if pages == SPAN_SIZE / PAGE_SIZE {
            SPAN_SIZE
        } else {
            PAGE_SIZE
        };
        let layout = Layout::from_size_align(pages * PAGE_SIZE, align).unwrap();
        // Large runs with bigger alignments are rare in these tests; the
        // system allocator ignores the alignment on free anyway.
        // SAFETY: allocated above with this size.
        unsafe { std::alloc::System.dealloc(ptr.as_ptr(), layout) };
    }
}

/// A handle on shared `TestPages`, so a test can inspect them after the
/// allocator that used them is gone.
#[derive(Clone)]
struct Pages(Arc<TestPages>);

impl std::ops::Deref for Pages {
    type Target = TestPages;
    fn deref(&self) -> &TestPages {
        &self.0
    }
}

// SAFETY: delegates to `TestPages`.
unsafe impl PageSource for Pages {
    fn alloc_pages(&self, node: NodeId, pages: usize, align: usize) -> Option<NonNull<u8>> {
        self.0.alloc_pages(node, pages, align)
    }
    unsafe fn free_pages(&self, ptr: NonNull<u8>, pages: usize) {
        // SAFETY: forwarded contract.
        unsafe { self.0.free_pages(ptr, pages) }
    }
}

fn pages(budget: Vec<usize>) -> Pages {
    Pages(Arc::new(TestPages::new(budget)))
}

use std::alloc::GlobalAlloc;
use std::sync::Arc;

type Heap = Kalloc<TestCpus, Pages>;

fn heap(cpu_nodes: &[usize], nodes: usize, budget: usize) -> Heap {
    let heap = Kalloc::new(TestCpus, pages(vec![budget; nodes]));
    heap.init(&Config {
        nodes,
        cpu_nodes,
        ranges: &[],
    })
    .unwrap();
    heap
}

const FLAVOURS: [Flavour; 3] = [Flavour::LocalStrict, Flavour::Global, Flavour::GlobalPadded];

#[derive(Clone, Debug)]
enum Op {
    Alloc {
        cpu: usize,
        size: usize,
        align_log: u32,
        flavour: usize,
    },
    Free {
        pick: usize,
        cpu: usize,
    },
    Flush {
        cpu: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..4usize, 1..2200usize, 0..7u32, 0..3usize)
            .prop_map(|(cpu, size, align_log, flavour)| Op::Alloc { cpu, size, align_log, flavour }),
        1 => (0..4usize, 5000..20000usize, 0..13u32, 0..3usize)
            .prop_map(|(cpu, size, align_log, flavour)| Op::Alloc { cpu, size, align_log, flavour }),
        5 => (any::<usize>(), 0..4usize).prop_map(|(pick, cpu)| Op::Free { pick, cpu }),
        1 => (0..4usize).prop_map(|cpu| Op::Flush { cpu }),
    ]
}

struct Live {
    layout: Layout,
    tag: u8,
}

fn check_and_free(heap: &Heap, start: usize, live: Live) {
    let p = start as *mut u8;
    for i in 0..live.layout.size() {
        // SAFETY: a live block of this size.
        let byte = unsafe { *p.add(i) };
        assert_eq!(byte, live.tag, "block {p:p} corrupted at byte {i}");
    }
    // SAFETY: live, from `heap`, with this layout.
    unsafe { heap.free(NonNull::new(p).unwrap(), live.layout) };
}

fn cases() -> u32 {
    std::env::var("KALLOC_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Random allocs and frees on four processors of two nodes, checked
    /// against a map of live blocks: every block is aligned, never overlaps
    /// another live block, keeps its contents, and lives on its processor's
    /// node; the counters add up and every page goes back at the end.
    #[test]
    fn random_sequences_match_the_model(ops in proptest::collection::vec(op(), 1..400)) {
        let cpu_nodes = [0, 0, 1, 1];
        let heap = heap(&cpu_nodes, 2, 1 << 20);
        let mut live: BTreeMap<usize, Live> = BTreeMap::new();
        let mut tag = 0u8;
        for op in ops {
            match op {
                Op::Alloc { cpu, size, align_log, flavour } => {
                    on_cpu(cpu);
                    let layout = Layout::from_size_align(size, 1 << align_log).unwrap();
                    let p = heap.allocate(layout, FLAVOURS[flavour]).expect("plenty of memory");
                    let start = p.as_ptr() as usize;
                    prop_assert_eq!(start % layout.align(), 0);
                    if let Some((&s, l)) = live.range(..=start).next_back() {
                        prop_assert!(s + l.layout.size() <= start, "overlaps the block before");
                    }
                    if let Some((&s, _)) = live.range(start..).next() {
                        prop_assert!(start + size <= s, "overlaps the block after");
                    }
                    // SAFETY: from `heap` with `layout`, live.
                    let node = unsafe { heap.node_of(p, layout) };
                    if size <= 2048 {
                        prop_assert_eq!(node, Some(cpu_nodes[cpu]), "not on the local node");
                    } else {
                        prop_assert_eq!(heap.page_source().node_of(start), Some(cpu_nodes[cpu]));
                    }
                    tag = tag.wrapping_add(1);
                    // SAFETY: a fresh block of `size` bytes.
                    unsafe { std::ptr::write_bytes(p.as_ptr(), tag, size) };
                    live.insert(start, Live { layout, tag });
                }
                Op::Free { pick, cpu } => {
                    if live.is_empty() {
                        continue;
                    }
                    on_cpu(cpu);
                    let start = *live.keys().nth(pick % live.len()).unwrap();
                    let l = live.remove(&start).unwrap();
                    check_and_free(&heap, start, l);
                }
                Op::Flush { cpu } => {
                    on_cpu(cpu);
                    heap.flush();
                }
            }
        }
        for (i, (start, l)) in std::mem::take(&mut live).into_iter().enumerate() {
            on_cpu(i % 4);
            check_and_free(&heap, start, l);
        }
        let (mut allocs, mut frees) = (0, 0);
        for cpu in 0..4 {
            on_cpu(cpu);
            heap.flush();
            let s = heap.cpu_stats(cpu).unwrap();
            allocs += s.allocs + s.large_allocs;
            frees += s.frees + s.large_frees;
        }
        prop_assert_eq!(allocs, frees);
        let pages = heap.page_source().clone();
        drop(heap);
        prop_assert_eq!(pages.outstanding(), 0, "pages leaked");
    }
}

#[test]
fn drop_gives_every_page_back() {
    let heap = heap(&[0, 1], 2, 1 << 20);
    let layout = Layout::from_size_align(100, 8).unwrap();
    for cpu in 0..2 {
        on_cpu(cpu);
        for f in FLAVOURS {
            let p = heap.allocate(layout, f).unwrap();
            // SAFETY: just allocated with `layout`.
            unsafe { heap.free(p, layout) };
        }
    }
    let pages = heap.page_source().clone();
    assert!(
        pages.outstanding() >= 1 + 2 + 2,
        "tables, cpu and node states"
    );
    drop(heap);
    assert_eq!(pages.outstanding(), 0, "pages leaked at drop");
}

#[test]
fn bad_configurations_are_refused() {
    let heap: Heap = Kalloc::new(TestCpus, pages(vec![1 << 10; 2]));
    let cfg = |nodes, cpu_nodes, ranges| Config {
        nodes,
        cpu_nodes,
        ranges,
    };
    assert_eq!(
        heap.init(&cfg(0, &[0], &[])),
        Err(InitError::BadNodeCount(0))
    );
    assert_eq!(heap.init(&cfg(1, &[], &[])), Err(InitError::BadCpuCount(0)));
    assert_eq!(
        heap.init(&cfg(2, &[0, 2], &[])),
        Err(InitError::CpuOnMissingNode { cpu: 1, node: 2 })
    );
    let bad = NodeRange {
        start: 10,
        end: 5,
        node: 0,
    };
    let ranges = [bad];
    assert_eq!(
        heap.init(&cfg(1, &[0], &ranges)),
        Err(InitError::BadRange(bad))
    );
    // Before a successful init every request fails cleanly.
    on_cpu(0);
    assert!(heap
        .allocate(Layout::new::<u64>(), Flavour::Global)
        .is_none());
    // SAFETY: any layout; a failed alloc returns null.
    assert!(unsafe { heap.alloc(Layout::new::<u64>()) }.is_null());
    assert_eq!(heap.init(&cfg(2, &[0, 1], &[])), Ok(()));
    assert_eq!(
        heap.init(&cfg(2, &[0, 1], &[])),
        Err(InitError::AlreadyInitialized)
    );
    assert_eq!(heap.cpus(), 2);
    assert_eq!(heap.nodes(), 2);
}

#[test]
fn out_of_memory_returns_none() {
    // Enough pages for the tables, none for blocks.
    let heap: Heap = Kalloc::new(TestCpus, pages(vec![8]));
    heap.init(&Config {
        nodes: 1,
        cpu_nodes: &[0],
        ranges: &[],
    })
    .unwrap();
    on_cpu(0);
    let layout = Layout::from_size_align(64, 8).unwrap();
    assert!(heap.allocate(layout, Flavour::Global).is_none());
    assert!(heap.allocate(layout, Flavour::LocalStrict).is_none());
    assert!(heap
        .allocate(
            Layout::from_size_align(1 << 20, 8).unwrap(),
            Flavour::Global
        )
        .is_none());
    assert_eq!(heap.cpu_stats(0).unwrap().failures, 3);
}

/// A node that runs out borrows from the next one, and the statistics say so.
#[test]
fn exhausted_node_falls_back_to_the_next() {
    // Node 0 has room for its tables and about two spans.
    let heap: Heap = Kalloc::new(TestCpus, pages(vec![60, 1 << 20]));
    heap.init(&Config {
        nodes: 2,
        cpu_nodes: &[0, 1],
        ranges: &[],
    })
    .unwrap();
    on_cpu(0);
    let layout = Layout::from_size_align(1024, 8).unwrap();
    let mut nodes = Vec::new();
    let mut blocks = Vec::new();
    for _ in 0..400 {
        let p = heap.allocate(layout, Flavour::Global).unwrap();
        // SAFETY: live, from `heap` with `layout`.
        nodes.push(unsafe { heap.node_of(p, layout) }.unwrap());
        blocks.push(p);
    }
    assert_eq!(nodes[0], 0, "local node first");
    assert_eq!(*nodes.last().unwrap(), 1, "then the next node");
    assert!(
        nodes.windows(2).all(|w| w[0] <= w[1]),
        "no return to node 0 while it is dry"
    );
    assert!(heap.node_stats(1).unwrap().borrowed > 0);
    // Frees of node-1 blocks on processor 0 (node 0) are sent home.
    for p in blocks {
        // SAFETY: live, from `heap` with `layout`.
        unsafe { heap.free(p, layout) };
    }
    heap.flush();
    let cpu0 = heap.cpu_stats(0).unwrap();
    assert!(cpu0.remote_node_frees > 0);
    assert!(heap.node_stats(1).unwrap().remote_lists_in > 0);
}

/// Global blocks freed on another node go home in whole lists; blocks freed
/// on the same node stay with the freeing processor.
#[test]
fn global_frees_on_another_node_are_batched_home() {
    let heap = heap(&[0, 1, 0], 2, 1 << 20);
    let layout = Layout::from_size_align(64, 8).unwrap();
    on_cpu(0);
    let blocks: Vec<_> = (0..1000)
        .map(|_| heap.allocate(layout, Flavour::Global).unwrap())
        .collect();
    on_cpu(1); // node 1
    for &p in &blocks[..500] {
        // SAFETY: live, from `heap` with `layout`.
        unsafe { heap.free(p, layout) };
    }
    let s1 = heap.cpu_stats(1).unwrap();
    assert_eq!(s1.remote_node_frees, 500);
    let home = heap.node_stats(0).unwrap();
    // Batches of 128 (16 KiB / 64 B): three whole lists so far, the rest
    // waits in the batch until a flush.
    assert_eq!(home.remote_lists_in, 3);
    heap.flush();
    assert_eq!(heap.node_stats(0).unwrap().remote_lists_in, 4);
    on_cpu(2); // node 0, another processor: keeps what it frees
    for &p in &blocks[500..] {
        // SAFETY: as above.
        unsafe { heap.free(p, layout) };
    }
    let s2 = heap.cpu_stats(2).unwrap();
    assert_eq!(s2.remote_node_frees, 0);
    assert_eq!(s2.frees, 500);
    // And it reuses them, most recently freed first.
    let again = heap.allocate(layout, Flavour::Global).unwrap();
    assert_eq!(again, blocks[999]);
}

/// Strictly-local blocks freed by another thread go back to their owner.
#[test]
fn strictly_local_frees_from_other_threads_go_home() {
    let heap = heap(&[0, 0, 0], 1, 1 << 20);
    let layout = Layout::from_size_align(48, 16).unwrap();
    on_cpu(0);
    let blocks: Vec<usize> = (0..300)
        .map(|_| {
            heap.allocate(layout, Flavour::LocalStrict)
                .unwrap()
                .as_ptr() as usize
        })
        .collect();
    std::thread::scope(|s| {
        for (i, chunk) in blocks.chunks(150).enumerate() {
            let heap = &heap;
            s.spawn(move || {
                on_cpu(1 + i);
                for &p in chunk {
                    // SAFETY: live, from `heap` with `layout`, given to us.
                    unsafe { heap.free(NonNull::new(p as *mut u8).unwrap(), layout) };
                }
                heap.flush();
            });
        }
    });
    let sent: u64 = (1..3)
        .map(|c| heap.cpu_stats(c).unwrap().remote_cpu_frees)
        .sum();
    assert_eq!(sent, 300);
    // The owner drains them when its list runs dry, and reuses them.
    let again: Vec<usize> = (0..300)
        .map(|_| {
            heap.allocate(layout, Flavour::LocalStrict)
                .unwrap()
                .as_ptr() as usize
        })
        .collect();
    assert_eq!(heap.cpu_stats(0).unwrap().remote_cpu_received, 300);
    let mut a = blocks.clone();
    let mut b = again;
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b, "the owner got exactly its own blocks back");
}

/// Padded blocks never share a cache line; strictly-local blocks of two
/// processors never share one either.
#[test]
fn padded_and_local_blocks_never_share_cache_lines() {
    let heap = heap(&[0, 0], 1, 1 << 20);
    let small = Layout::from_size_align(8, 8).unwrap();
    on_cpu(0);
    let padded: Vec<usize> = (0..200)
        .map(|_| {
            heap.allocate(small, Flavour::GlobalPadded)
                .unwrap()
                .as_ptr() as usize
        })
        .collect();
    let mut lines: Vec<usize> = padded.iter().map(|p| p / 64).collect();
    lines.sort_unstable();
    lines.dedup();
    assert_eq!(lines.len(), padded.len());
    assert!(padded.iter().all(|p| p % 64 == 0));
    let mine: Vec<usize> = (0..200)
        .map(|_| heap.allocate(small, Flavour::LocalStrict).unwrap().as_ptr() as usize / 64)
        .collect();
    on_cpu(1);
    let theirs: Vec<usize> = (0..200)
        .map(|_| heap.allocate(small, Flavour::LocalStrict).unwrap().as_ptr() as usize / 64)
        .collect();
    assert!(mine.iter().all(|l| !theirs.contains(l)));
}

#[test]
fn realloc_within_a_class_keeps_the_block() {
    let heap = heap(&[0], 1, 1 << 20);
    on_cpu(0);
    let layout = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: valid layouts; the block is written only within its size.
    unsafe {
        let p = heap.alloc(layout);
        p.write_bytes(7, 100);
        let q = heap.realloc(p, layout, 110); // same 112-byte class
        assert_eq!(p, q);
        let r = heap.realloc(q, Layout::from_size_align(110, 8).unwrap(), 5000);
        assert_ne!(r, q);
        assert!((0..100).all(|i| *r.add(i) == 7));
        heap.dealloc(r, Layout::from_size_align(5000, 8).unwrap());
    }
    assert_eq!(heap.cpu_stats(0).unwrap().large_frees, 1);
}

#[cfg(any(debug_assertions, feature = "hardening"))]
mod hardening {
    use super::*;

    #[test]
    #[should_panic(expected = "double free")]
    fn double_free_panics() {
        let heap = heap(&[0], 1, 1 << 20);
        on_cpu(0);
        let layout = Layout::from_size_align(32, 8).unwrap();
        let p = heap.allocate(layout, Flavour::Global).unwrap();
        // SAFETY: the first free is fine; the second is the bug under test.
        unsafe {
            heap.free(p, layout);
            heap.free(p, layout);
        }
    }

    #[test]
    #[should_panic(expected = "not the start of a block")]
    fn interior_pointer_panics() {
        let heap = heap(&[0], 1, 1 << 20);
        on_cpu(0);
        let layout = Layout::from_size_align(64, 8).unwrap();
        let p = heap.allocate(layout, Flavour::Global).unwrap();
        // SAFETY: deliberately wrong, to be caught.
        unsafe {
            heap.free(
                NonNull::new(p.as_ptr().add(8)).unwrap(),
                Layout::from_size_align(8, 8).unwrap(),
            )
        };
    }

    #[test]
    #[should_panic(expected = "foreign pointer")]
    fn foreign_pointer_panics() {
        let heap = heap(&[0], 1, 1 << 20);
        on_cpu(0);
        // A span-aligned buffer the allocator never saw.
        let layout = Layout::from_size_align(SPAN_SIZE, SPAN_SIZE).unwrap();
        // SAFETY: non-zero size; zeroed, so no span magic.
        let buf = unsafe { std::alloc::System.alloc_zeroed(layout) };
        // SAFETY: deliberately foreign, to be caught.
        unsafe {
            heap.free(
                NonNull::new(buf.add(4096)).unwrap(),
                Layout::from_size_align(64, 8).unwrap(),
            )
        };
    }

    #[test]
    #[should_panic(expected = "does not match")]
    fn wrong_layout_panics() {
        let heap = heap(&[0], 1, 1 << 20);
        on_cpu(0);
        let p = heap
            .allocate(Layout::from_size_align(16, 8).unwrap(), Flavour::Global)
            .unwrap();
        // SAFETY: deliberately wrong, to be caught.
        unsafe { heap.free(p, Layout::from_size_align(1000, 8).unwrap()) };
    }

    #[test]
    fn freed_blocks_are_poisoned() {
        let heap = heap(&[0], 1, 1 << 20);
        on_cpu(0);
        let layout = Layout::from_size_align(64, 8).unwrap();
        let p = heap.allocate(layout, Flavour::Global).unwrap();
        // SAFETY: live block of 64 bytes; read after free only to check
        // the poison (the memory stays mapped in the span).
        unsafe {
            p.as_ptr().write_bytes(0, 64);
            heap.free(p, layout);
            assert_eq!(*p.as_ptr().add(40), 0xde);
        }
    }
}

/// The hosted analogue of the in-kernel stress test: four processors on two
/// nodes allocate every flavour and size, hand half of their blocks to the
/// next processor (another thread, maybe another node) to free, and check
/// contents all along. At the end the counters balance and, once the
/// allocator is dropped, every page is back.
#[test]
fn stress_cross_thread_and_cross_node() {
    let rounds: usize = std::env::var("KALLOC_STRESS_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let heap = heap(&[0, 0, 1, 1], 2, 1 << 20);
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..4)
        .map(|_| std::sync::mpsc::channel::<Vec<(usize, Layout, u8)>>())
        .unzip();
    std::thread::scope(|s| {
        for (cpu, rx) in receivers.into_iter().enumerate() {
            let heap = &heap;
            let tx = senders[(cpu + 1) % 4].clone();
            s.spawn(move || {
                on_cpu(cpu);
                let mut seed = 0x2545_f491_4f6c_dd1d_u64 ^ cpu as u64;
                let mut rand = move |n: usize| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed % n as u64) as usize
                };
                let check_free = |(p, layout, tag): (usize, Layout, u8)| {
                    let ptr = p as *mut u8;
                    // SAFETY: a live block of `layout.size()` bytes.
                    let ok = (0..layout.size()).all(|i| unsafe { *ptr.add(i) } == tag);
                    assert!(ok, "block {ptr:p} corrupted");
                    // SAFETY: live, from `heap` with `layout`, handed to us.
                    unsafe { heap.free(NonNull::new(ptr).unwrap(), layout) };
                };
                for round in 0..rounds {
                    let mut mine = Vec::new();
                    for i in 0..200 {
                        let size = if i % 50 == 0 {
                            3000 + rand(9000)
                        } else {
                            1 + rand(2048)
                        };
                        let layout = Layout::from_size_align(size, 1 << rand(7)).unwrap();
                        let p = heap.allocate(layout, FLAVOURS[rand(3)]).unwrap();
                        let tag = (round * 7 + i + cpu) as u8;
                        // SAFETY: a fresh block of `size` bytes.
                        unsafe { p.as_ptr().write_bytes(tag, size) };
                        mine.push((p.as_ptr() as usize, layout, tag));
                    }
                    let theirs = mine.split_off(100);
                    tx.send(theirs).unwrap();
                    mine.into_iter().for_each(check_free);
                    if let Ok(batch) = rx.try_recv() {
                        batch.into_iter().for_each(check_free);
                    }
                }
                drop(tx);
                // Whatever is still coming.
                for batch in rx {
                    batch.into_iter().for_each(check_free);
                }
                heap.flush();
            });
        }
        drop(senders);
    });
    let (mut allocs, mut frees) = (0, 0);
    for cpu in 0..4 {
        on_cpu(cpu);
        heap.flush();
        let s = heap.cpu_stats(cpu).unwrap();
        allocs += s.allocs + s.large_allocs;
        frees += s.frees + s.large_frees;
        assert!(
            s.remote_node_frees > 0 || s.remote_cpu_frees > 0,
            "cpu {cpu}: {s:?}"
        );
    }
    assert_eq!(allocs, frees);
    assert_eq!(allocs, 4 * rounds as u64 * 200);
    let pages = heap.page_source().clone();
    drop(heap);
    assert_eq!(pages.outstanding(), 0, "pages leaked");
}

/// Partial lists flushed home pile up in the node's loose list, which is
/// handed out a batch at a time, never as one oversized list.
#[test]
fn loose_blocks_are_handed_out_a_batch_at_a_time() {
    let heap = heap(&[0, 1, 0], 2, 1 << 20);
    let layout = Layout::from_size_align(64, 8).unwrap(); // batch: 128
    on_cpu(0);
    let blocks: Vec<_> = (0..200)
        .map(|_| heap.allocate(layout, Flavour::Global).unwrap())
        .collect();
    on_cpu(1); // node 1: these go home to node 0 in two partial lists
    for half in blocks.chunks(100) {
        for &p in half {
            // SAFETY: live, from `heap` with `layout`.
            unsafe { heap.free(p, layout) };
        }
        heap.flush();
    }
    assert_eq!(heap.node_stats(0).unwrap().remote_lists_in, 2);
    on_cpu(2); // node 0, fresh processor
    let before = heap.node_stats(0).unwrap().lists_out;
    let first: Vec<_> = (0..128)
        .map(|_| heap.allocate(layout, Flavour::Global).unwrap())
        .collect();
    assert_eq!(heap.cpu_stats(2).unwrap().lists_from_node, 1);
    let next = heap.allocate(layout, Flavour::Global).unwrap();
    assert_eq!(heap.cpu_stats(2).unwrap().lists_from_node, 2);
    assert_eq!(heap.node_stats(0).unwrap().lists_out, before + 2);
    // All of them are blocks that came home.
    assert!(first.iter().chain([&next]).all(|p| blocks.contains(p)));
}

/// The self-tests the kernel will run, run here on threads.
#[test]
fn selftest_stress_and_placement() {
    use kalloc::selftest::{check_placement, stress, stress_drain};
    use kalloc::RemoteStack;
    let heap = heap(&[0, 0, 1, 1], 2, 1 << 20);
    let peers: Vec<RemoteStack> = (0..4).map(|_| RemoteStack::new()).collect();
    let reports: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|cpu| {
                let (heap, peers) = (&heap, &peers);
                s.spawn(move || {
                    on_cpu(cpu);
                    stress(heap, cpu, peers, 30).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut drained = 0;
    for cpu in 0..4 {
        on_cpu(cpu);
        drained += stress_drain(&heap, cpu, &peers).unwrap();
    }
    let allocated: u64 = reports.iter().map(|r| r.allocated).sum();
    let freed: u64 = reports.iter().map(|r| r.freed_own + r.freed_foreign).sum();
    assert_eq!(allocated, 4 * 30 * 64);
    assert_eq!(freed + drained, allocated);
    // Half of every round was mailed to the next processor and freed there.
    let foreign: u64 = reports.iter().map(|r| r.freed_foreign).sum();
    assert_eq!(foreign + drained, 4 * 30 * 32);
    let pages = heap.page_source().clone();
    for cpu in 0..4 {
        on_cpu(cpu);
        let checked = check_placement(&heap, |addr| pages.node_of(addr)).unwrap();
        assert_eq!(checked, 18);
    }
    drop(heap);
    assert_eq!(pages.outstanding(), 0);
}

/// The placement check notices memory on the wrong node.
#[test]
fn placement_check_reports_the_wrong_node() {
    use kalloc::selftest::{check_placement, PlacementError};
    let heap = heap(&[0, 1], 2, 1 << 20);
    on_cpu(1);
    let err = check_placement(&heap, |_| Some(0)).unwrap_err();
    assert!(matches!(
        err,
        PlacementError::WrongNode {
            expected: 1,
            found: Some(0),
            ..
        }
    ));
}

/// After a burst, the node keeps a few lists and gives idle spans back to
/// the page source; the memory is then reused correctly.
#[test]
fn idle_spans_go_back_to_the_page_source() {
    let heap = heap(&[0, 0], 1, 1 << 20);
    let layout = Layout::from_size_align(64, 8).unwrap();
    let pages = heap.page_source().clone();
    on_cpu(0);
    let base = pages.outstanding();
    let burst: Vec<_> = (0..20_000)
        .map(|_| heap.allocate(layout, Flavour::Global).unwrap())
        .collect();
    let peak = pages.outstanding();
    assert!(peak - base >= 19, "20 000 x 64 B needs at least 19 spans");
    for &p in &burst {
        // SAFETY: live, from `heap` with `layout`.
        unsafe { heap.free(p, layout) };
    }
    let node = heap.node_stats(0).unwrap();
    assert!(node.spans_released > 0, "{node:?}");
    assert!(node.free_lists < 2 * kalloc::node::KEEP_LISTS as u64);
    let after = pages.outstanding();
    assert!(after < peak, "no pages went back ({after} of {peak})");
    // Allocate the burst again on another processor: blocks come from the
    // partly free spans first, then from fresh ones; none overlap.
    on_cpu(1);
    let mut again: Vec<usize> = (0..20_000)
        .map(|_| {
            let p = heap.allocate(layout, Flavour::Global).unwrap();
            // SAFETY: a fresh 64-byte block.
            unsafe { p.as_ptr().write_bytes(0x5a, 64) };
            p.as_ptr() as usize
        })
        .collect();
    again.sort_unstable();
    assert!(
        again.windows(2).all(|w| w[1] - w[0] >= 64),
        "overlapping blocks"
    );
    for p in again {
        // SAFETY: live, from `heap` with `layout`.
        unsafe { heap.free(NonNull::new(p as *mut u8).unwrap(), layout) };
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases() / 4 + 1))]

    /// Bursts of small blocks on random processors, freed in random order
    /// on random processors: enough lists pile up in the node layer for it
    /// to give blocks back to their spans and spans back to the page source
    /// in the middle of it all; the model still holds.
    #[test]
    fn bursts_release_and_reuse_spans(
        bursts in proptest::collection::vec((0..3usize, 500..4000usize, 0..3usize, any::<u64>()), 1..6)
    ) {
        let heap = heap(&[0, 0, 1], 2, 1 << 20);
        let pages = heap.page_source().clone();
        let mut live: BTreeMap<usize, Live> = BTreeMap::new();
        let mut tag = 0u8;
        for (cpu, n, size_pick, seed) in bursts {
            on_cpu(cpu);
            let size = [16, 48, 64][size_pick];
            let layout = Layout::from_size_align(size, 8).unwrap();
            for _ in 0..n {
                let p = heap.allocate(layout, Flavour::Global).expect("memory");
                let start = p.as_ptr() as usize;
                if let Some((&s, l)) = live.range(..=start).next_back() {
                    prop_assert!(s + l.layout.size() <= start, "overlap");
                }
                if let Some((&s, _)) = live.range(start..).next() {
                    prop_assert!(start + size <= s, "overlap");
                }
                tag = tag.wrapping_add(1);
                // SAFETY: a fresh block of `size` bytes.
                unsafe { p.as_ptr().write_bytes(tag, size) };
                live.insert(start, Live { layout, tag });
            }
            // Free a pseudo-random ~2/3 of everything live, on a processor
            // picked by the seed.
            on_cpu((seed % 3) as usize);
            let victims: Vec<usize> = live
                .keys()
                .copied()
                .enumerate()
                .filter(|(i, _)| (seed >> (i % 61)) & 3 != 0)
                .map(|(_, k)| k)
                .collect();
            for k in victims {
                let l = live.remove(&k).unwrap();
                check_and_free(&heap, k, l);
            }
        }
        for (i, (start, l)) in std::mem::take(&mut live).into_iter().enumerate() {
            on_cpu(i % 3);
            check_and_free(&heap, start, l);
        }
        drop(heap);
        prop_assert_eq!(pages.outstanding(), 0);
    }
}

/// A bump allocator over a fixed buffer that counts frees: the stand-in
/// for the kernel's bootstrap heap.
struct Bump {
    base: usize,
    end: usize,
    next: std::sync::atomic::AtomicUsize,
    frees: std::sync::atomic::AtomicUsize,
}

// SAFETY: hands out disjoint, aligned pieces of its buffer.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        use std::sync::atomic::Ordering::Relaxed;
        let mut cur = self.next.load(Relaxed);
        loop {
            let start = cur.next_multiple_of(layout.align());
            if start + layout.size() > self.end {
                return std::ptr::null_mut();
            }
            match self
                .next
                .compare_exchange(cur, start + layout.size(), Relaxed, Relaxed)
            {
                Ok(_) => return start as *mut u8,
                Err(now) => cur = now,
            }
        }
    }
    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {
        self.frees
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn handover_switches_heaps_and_frees_by_address() {
    use kalloc::handover::Handover;
    use std::sync::atomic::Ordering::Relaxed;
    let buf: &'static mut [u8] = Box::leak(vec![0u8; 1 << 16].into_boxed_slice());
    let base = buf.as_mut_ptr() as usize;
    let boot = Bump {
        base,
        end: base + buf.len(),
        next: base.into(),
        frees: 0.into(),
    };
    let heap = Handover::new(boot, Kalloc::new(TestCpus, pages(vec![1 << 20])));
    heap.set_boot_range(heap.boot().base, heap.boot().end);
    on_cpu(0);
    let layout = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: valid layouts; every block is freed once with its layout.
    unsafe {
        let early = heap.alloc(layout);
        let early2 = heap.alloc(layout);
        assert!(heap.is_boot(early) && heap.is_boot(early2));
        early2.write_bytes(9, 100);
        heap.kalloc()
            .init(&Config {
                nodes: 1,
                cpu_nodes: &[0],
                ranges: &[],
            })
            .unwrap();
        let late = heap.alloc(layout);
        assert!(!late.is_null() && !heap.is_boot(late));
        heap.dealloc(early, layout);
        assert_eq!(heap.boot().frees.load(Relaxed), 1);
        // Growing a bootstrap block moves it into kalloc.
        let moved = heap.realloc(early2, layout, 200);
        assert!(!heap.is_boot(moved));
        assert!((0..100).all(|i| *moved.add(i) == 9));
        assert_eq!(heap.boot().frees.load(Relaxed), 2);
        heap.dealloc(late, layout);
        heap.dealloc(moved, Layout::from_size_align(200, 8).unwrap());
    }
    assert_eq!(heap.boot().frees.load(Relaxed), 2);
    assert_eq!(heap.kalloc().cpu_stats(0).unwrap().frees, 2);
}

#[test]
fn measure_pair_counts_clock_ticks_per_pair() {
    use kalloc::selftest::measure_pair;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    let heap = heap(&[0], 1, 1 << 20);
    on_cpu(0);
    // A clock that ticks once per reading: start and end differ by one.
    let ticks = AtomicU64::new(0);
    let cost = measure_pair(&heap, 64, 10, || ticks.fetch_add(1, Relaxed)).unwrap();
    assert_eq!(cost, 0); // one tick over ten pairs
    let per_pair = measure_pair(&heap, 64, 1, || ticks.fetch_add(100, Relaxed)).unwrap();
    assert_eq!(per_pair, 100);
    assert_eq!(measure_pair(&heap, 64, 0, || 0), None);
    let s = heap.cpu_stats(0).unwrap();
    assert_eq!(s.allocs, s.frees);
    assert_eq!(s.allocs, 3 * 1000 + 11);
}

/// Large blocks have no span header: their node comes from the configured
/// memory ranges.
#[test]
fn large_blocks_find_their_node_through_the_ranges() {
    let ranges = [
        NodeRange {
            start: 0x1000,
            end: usize::MAX / 2,
            node: 1,
        },
        NodeRange {
            start: usize::MAX / 2,
            end: usize::MAX,
            node: 0,
        },
    ];
    let heap: Heap = Kalloc::new(TestCpus, pages(vec![1 << 20; 2]));
    heap.init(&Config {
        nodes: 2,
        cpu_nodes: &[0],
        ranges: &ranges,
    })
    .unwrap();
    on_cpu(0);
    let layout = Layout::from_size_align(10_000, 8).unwrap();
    let p = heap.allocate(layout, Flavour::Global).unwrap();
    // SAFETY: live, from `heap` with `layout`.
    assert_eq!(unsafe { heap.node_of(p, layout) }, Some(1));
    // SAFETY: as above.
    unsafe { heap.free(p, layout) };
    let too_many = vec![ranges[0]; kalloc::MAX_RANGES + 1];
    let other: Heap = Kalloc::new(TestCpus, pages(vec![1 << 20]));
    let err = other
        .init(&Config {
            nodes: 1,
            cpu_nodes: &[0],
            ranges: &too_many,
        })
        .unwrap_err();
    assert_eq!(err, InitError::TooManyRanges(kalloc::MAX_RANGES + 1));
    assert_eq!(err.to_string(), "65 memory ranges is too many");
    let err = other
        .init(&Config {
            nodes: 1,
            cpu_nodes: &[0; kalloc::MAX_CPUS + 1],
            ranges: &[],
        })
        .unwrap_err();
    assert_eq!(err, InitError::BadCpuCount(kalloc::MAX_CPUS + 1));
}

#[cfg(any(debug_assertions, feature = "hardening"))]
#[test]
#[should_panic(expected = "use after free")]
fn write_after_free_is_caught_at_the_next_allocation() {
    let heap = heap(&[0], 1, 1 << 20);
    on_cpu(0);
    let layout = Layout::from_size_align(64, 8).unwrap();
    let p = heap.allocate(layout, Flavour::Global).unwrap();
    // SAFETY: the free is fine; the write after it is the bug under test
    // (the memory stays mapped in its span).
    unsafe {
        heap.free(p, layout);
        p.as_ptr().add(40).write(1);
    }
    // The same block comes back first (LIFO) and the poison check fires.
    let _ = heap.allocate(layout, Flavour::Global);
}

/// Strictly-local memory is bounded too: a processor keeps about two
/// batches per class and gives idle spans back.
#[test]
fn strictly_local_lists_are_trimmed_and_spans_released() {
    let heap = heap(&[0, 0], 1, 1 << 20);
    let layout = Layout::from_size_align(256, 8).unwrap(); // batch: 64
    let pages = heap.page_source().clone();
    on_cpu(0);
    let base = pages.outstanding();
    let burst: Vec<_> = (0..5000)
        .map(|_| heap.allocate(layout, Flavour::LocalStrict).unwrap())
        .collect();
    let peak = pages.outstanding();
    assert!(peak - base >= 19, "5000 x 256 B needs at least 19 spans");
    // Half freed by the owner, half sent home by another processor.
    for &p in &burst[..2500] {
        // SAFETY: live, from `heap` with `layout`.
        unsafe { heap.free(p, layout) };
    }
    on_cpu(1);
    for &p in &burst[2500..] {
        // SAFETY: as above.
        unsafe { heap.free(p, layout) };
    }
    heap.flush();
    on_cpu(0);
    heap.flush(); // the owner takes in what was sent home
    let s = heap.cpu_stats(0).unwrap();
    assert_eq!(s.remote_cpu_received, 2500);
    assert!(s.spans_released >= 15, "{s:?}");
    assert!(pages.outstanding() < peak - 15);
    // And the memory is reused correctly.
    let mut again: Vec<usize> = (0..5000)
        .map(|_| {
            let p = heap.allocate(layout, Flavour::LocalStrict).unwrap();
            // SAFETY: a fresh 256-byte block.
            unsafe { p.as_ptr().write_bytes(0x33, 256) };
            p.as_ptr() as usize
        })
        .collect();
    again.sort_unstable();
    assert!(
        again.windows(2).all(|w| w[1] - w[0] >= 256),
        "overlapping blocks"
    );
    for p in again {
        // SAFETY: live, from `heap` with `layout`.
        unsafe { heap.free(NonNull::new(p as *mut u8).unwrap(), layout) };
    }
}

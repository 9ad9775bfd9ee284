//! The hosted build: kalloc as a Rust `#[global_allocator]` on Linux.
//!
//! - [`HostedCpus`] is the [`Platform`]: a fixed number of *virtual
//!   processors*, each bound to one thread at a time. A thread claims a free
//!   slot on its first allocation and gives it back when it exits, so the
//!   slot's free lists pass to the next thread (like a per-thread cache that
//!   outlives its thread). Threads that find every slot taken share one
//!   extra, lock-protected slot: correct, just slower.
//! - [`MmapPages`] is the [`PageSource`]: anonymous `mmap`, with NUMA nodes
//!   simulated (a request for node `n` is served, and counted, as node `n`).
//! - [`KallocSystem`] puts them together and initializes itself on first use.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::ops::Deref;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use crate::heap::{Kalloc, MAX_CPUS, MAX_NODES};
use crate::platform::{Config, CpuId, InitError, NodeId, PageSource, Platform};
use crate::span::PAGE_SIZE;

const FREE: usize = 0;
const TAKEN: usize = 1;
/// Marks a thread that uses the shared slot: its own slot was given back at
/// thread exit, or there was none free when it first allocated.
const EXITED: usize = usize::MAX;
/// Marks a thread with no slot yet.
const UNBOUND: usize = usize::MAX - 1;

/// Who owns which slot. Lives in a leaked page, so that a thread-exit guard
/// may still write to it after its `HostedCpus` is gone.
struct SlotTable {
    owner: [AtomicUsize; MAX_CPUS],
}

static NEXT_INSTANCE: AtomicUsize = AtomicUsize::new(1);

std::thread_local! {
    /// (instance id, slot) this thread is bound to.
    static BINDING: Cell<(usize, usize)> = const { Cell::new((0, UNBOUND)) };
    /// Gives the slot back when the thread exits.
    static GUARD: SlotGuard = const { SlotGuard { table: Cell::new(ptr::null()), slot: Cell::new(0) } };
}

struct SlotGuard {
    table: Cell<*const SlotTable>,
    slot: Cell<usize>,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let table = self.table.get();
        if !table.is_null() {
            // From now on this thread's allocations use the shared slot.
            let _ = BINDING.try_with(|b| b.set((b.get().0, EXITED)));
            // SAFETY: slot tables are leaked, never freed.
            unsafe { (*table).owner[self.slot.get()].store(FREE, Ordering::Release) };
        }
    }
}

/// Virtual processors bound to threads: the hosted [`Platform`].
pub struct HostedCpus {
    slots: usize,
    instance: AtomicUsize,
    table: AtomicPtr<SlotTable>,
    shared_lock: AtomicBool,
}

impl HostedCpus {
    /// `slots` thread-bound virtual processors (at most `MAX_CPUS - 1`),
    /// plus one shared slot for threads beyond them.
    pub const fn new(slots: usize) -> Self {
        let slots = if slots == 0 {
            1
        } else if slots > MAX_CPUS - 1 {
            MAX_CPUS - 1
        } else {
            slots
        };
        Self {
            slots,
            instance: AtomicUsize::new(0),
            table: AtomicPtr::new(ptr::null_mut()),
            shared_lock: AtomicBool::new(false),
        }
    }

    /// Processor ids handed out: the bound slots, then the shared slot.
    pub fn cpu_count(&self) -> usize {
        self.slots + 1
    }

    #[inline]
    fn instance(&self) -> usize {
        let id = self.instance.load(Ordering::Relaxed);
        if id != 0 {
            return id;
        }
        self.new_instance()
    }

    #[cold]
    fn new_instance(&self) -> usize {
        let fresh = NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed);
        match self
            .instance
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh,
            Err(won) => won,
        }
    }

    fn table(&self) -> Option<&'static SlotTable> {
        let t = self.table.load(Ordering::Acquire);
        if !t.is_null() {
            // SAFETY: leaked, so 'static.
            return Some(unsafe { &*t });
        }
        let fresh = map_pages(
            core::mem::size_of::<SlotTable>().div_ceil(PAGE_SIZE),
            PAGE_SIZE,
        )?
        .as_ptr() as *mut SlotTable;
        // Zeroed pages are a table of FREE slots.
        match self.table.compare_exchange(
            ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: leaked, so 'static.
            Ok(_) => Some(unsafe { &*fresh }),
            Err(won) => {
                // SAFETY: ours, unused.
                unsafe {
                    unmap_pages(
                        fresh as *mut u8,
                        core::mem::size_of::<SlotTable>().div_ceil(PAGE_SIZE),
                    )
                };
                // SAFETY: leaked, so 'static.
                Some(unsafe { &*won })
            }
        }
    }

    /// Claims a free slot for this thread.
    fn bind(&self, me: usize) -> Option<usize> {
        let table = self.table()?;
        // Start the search somewhere thread-specific to spread claims.
        let start = BINDING.with(|b| b as *const _ as usize >> 6) % self.slots;
        let slot = (0..self.slots)
            .map(|k| (start + k) % self.slots)
            .find(|&s| {
                table.owner[s]
                    .compare_exchange(FREE, TAKEN, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            })?;
        BINDING.with(|b| b.set((me, slot)));
        // Registering the guard's destructor may allocate; the binding is
        // already set, so such a nested allocation simply uses the slot.
        let _ = GUARD.try_with(|g| {
            if g.table.get().is_null() {
                g.table.set(table);
                g.slot.set(slot);
            }
        });
        Some(slot)
    }
}

// SAFETY: a bound slot is used only by the thread that claimed it (the claim
// is a CAS from FREE; the release at thread exit is the last use, and
// Release/Acquire orders the next owner after it); the shared slot is used
// under `shared_lock`. Every id is below `cpu_count()`.
unsafe impl Platform for HostedCpus {
    #[inline]
    fn with_cpu<R>(&self, f: impl FnOnce(CpuId) -> R) -> R {
        let me = self.instance();
        let (bound_to, slot) = BINDING.try_with(Cell::get).unwrap_or((0, EXITED));
        if bound_to == me && slot < self.slots {
            return f(slot);
        }
        self.with_cpu_slow(me, slot, f)
    }

    fn relax(&self) {
        std::thread::yield_now();
    }
}

impl HostedCpus {
    #[cold]
    fn with_cpu_slow<R>(&self, me: usize, slot: usize, f: impl FnOnce(CpuId) -> R) -> R {
        if slot == UNBOUND {
            if let Some(slot) = self.bind(me) {
                return f(slot);
            }
            // Every slot is taken: this thread uses the shared slot from now
            // on, without scanning the table on every call.
            let _ = BINDING.try_with(|b| b.set((me, EXITED)));
        }
        // Every slot is taken, the thread is exiting, or it is bound to
        // another instance: use the shared slot.
        while self.shared_lock.swap(true, Ordering::Acquire) {
            while self.shared_lock.load(Ordering::Relaxed) {
                std::thread::yield_now();
            }
        }
        let r = f(self.slots);
        self.shared_lock.store(false, Ordering::Release);
        r
    }
}

fn map_pages(pages: usize, align: usize) -> Option<NonNull<u8>> {
    let len = pages * PAGE_SIZE;
    let extra = if align > PAGE_SIZE { align } else { 0 };
    // SAFETY: an anonymous private mapping touches no existing memory.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len + extra,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return None;
    }
    let start = p as usize;
    let aligned = start.next_multiple_of(align.max(PAGE_SIZE));
    if extra > 0 {
        let head = aligned - start;
        let tail = extra - head;
        // SAFETY: trimming the parts of our own fresh mapping we do not use.
        unsafe {
            if head > 0 {
                libc::munmap(start as *mut libc::c_void, head);
            }
            if tail > 0 {
                libc::munmap((aligned + len) as *mut libc::c_void, tail);
            }
        }
    }
    NonNull::new(aligned as *mut u8)
}

/// # Safety
/// `[ptr, ptr + pages * PAGE_SIZE)` is a mapping of ours nobody uses.
unsafe fn unmap_pages(ptr: *mut u8, pages: usize) {
    // SAFETY: per the caller.
    unsafe { libc::munmap(ptr as *mut libc::c_void, pages * PAGE_SIZE) };
}

/// Pages from anonymous `mmap`, with simulated NUMA nodes.
///
/// Every node's pages come from the same (real) memory; the node is a
/// label, counted per node, that the allocator stores in its span headers.
/// An optional per-node limit makes a node run out, to exercise the
/// fallback to other nodes.
pub struct MmapPages {
    allocated: [AtomicU64; MAX_NODES],
    freed: AtomicU64,
    in_use: AtomicU64,
    peak: AtomicU64,
    node_limit: u64,
}

impl MmapPages {
    /// No limits.
    pub const fn new() -> Self {
        Self::with_node_limit(u64::MAX)
    }

    /// Each node hands out at most `pages` pages in all (cumulative).
    pub const fn with_node_limit(pages: u64) -> Self {
        Self {
            allocated: [const { AtomicU64::new(0) }; MAX_NODES],
            freed: AtomicU64::new(0),
            in_use: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            node_limit: pages,
        }
    }

    /// Pages handed out for `node` so far.
    pub fn pages_allocated(&self, node: NodeId) -> u64 {
        self.allocated
            .get(node)
            .map_or(0, |a| a.load(Ordering::Relaxed))
    }

    /// Pages given back so far (all nodes).
    pub fn pages_freed(&self) -> u64 {
        self.freed.load(Ordering::Relaxed)
    }

    /// Pages mapped now (all nodes).
    pub fn pages_in_use(&self) -> u64 {
        self.in_use.load(Ordering::Relaxed)
    }

    /// The most pages mapped at any one time (all nodes).
    pub fn pages_peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Default for MmapPages {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: fresh anonymous mappings are ours alone, `pages * 4096` bytes,
// aligned as asked; nothing here allocates through Rust's allocator.
unsafe impl PageSource for MmapPages {
    fn alloc_pages(&self, node: NodeId, pages: usize, align: usize) -> Option<NonNull<u8>> {
        let counter = self.allocated.get(node)?;
        let before = counter.fetch_add(pages as u64, Ordering::Relaxed);
        if before + pages as u64 > self.node_limit {
            counter.fetch_sub(pages as u64, Ordering::Relaxed);
            return None;
        }
        let p = map_pages(pages, align);
        if p.is_none() {
            counter.fetch_sub(pages as u64, Ordering::Relaxed);
        } else {
            let now = self.in_use.fetch_add(pages as u64, Ordering::Relaxed) + pages as u64;
            self.peak.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn free_pages(&self, ptr: NonNull<u8>, pages: usize) {
        self.freed.fetch_add(pages as u64, Ordering::Relaxed);
        self.in_use.fetch_sub(pages as u64, Ordering::Relaxed);
        // SAFETY: per the trait, a run of ours nobody uses any more.
        unsafe { unmap_pages(ptr.as_ptr(), pages) };
    }
}

/// kalloc as a Rust global allocator: `#[global_allocator] static A:
/// KallocSystem = KallocSystem::new();`. Initializes itself on first use.
/// Derefs to the [`Kalloc`] for flavours and statistics.
pub struct KallocSystem {
    heap: Kalloc<HostedCpus, MmapPages>,
    nodes: usize,
}

impl KallocSystem {
    /// 64 virtual processors, one node.
    pub const fn new() -> Self {
        Self::with_numa(64, 1)
    }

    /// `cpus` virtual processors spread in equal blocks over `nodes`
    /// simulated nodes (processor `i` is on node `i * nodes / cpus`).
    pub const fn with_numa(cpus: usize, nodes: usize) -> Self {
        Self::with_pages(cpus, nodes, MmapPages::new())
    }

    /// As [`KallocSystem::with_numa`], over a given page source (for
    /// instance one with a per-node limit).
    pub const fn with_pages(cpus: usize, nodes: usize, pages: MmapPages) -> Self {
        Self {
            heap: Kalloc::new(HostedCpus::new(cpus), pages),
            nodes,
        }
    }

    /// The node of virtual processor `cpu` in this configuration (the shared
    /// overflow slot is on node 0).
    pub fn node_of_cpu(&self, cpu: CpuId) -> NodeId {
        let slots = self.heap.platform().slots;
        if cpu >= slots {
            0
        } else {
            cpu * self.nodes.max(1) / slots
        }
    }

    /// Initializes on first use; `None` if that failed.
    #[inline]
    fn ready(&self) -> Option<&Kalloc<HostedCpus, MmapPages>> {
        if self.heap.is_ready() {
            return Some(&self.heap);
        }
        self.init_slow()
    }

    #[cold]
    fn init_slow(&self) -> Option<&Kalloc<HostedCpus, MmapPages>> {
        let count = self.heap.platform().cpu_count();
        let mut cpu_nodes = [0usize; MAX_CPUS];
        for (cpu, node) in cpu_nodes.iter_mut().enumerate().take(count) {
            *node = self.node_of_cpu(cpu);
        }
        let config = Config {
            nodes: self.nodes,
            cpu_nodes: &cpu_nodes[..count],
            ranges: &[],
        };
        match self.heap.init(&config) {
            Ok(()) => Some(&self.heap),
            Err(InitError::AlreadyInitialized) => {
                // Another thread is initializing: wait for it.
                while !self.heap.is_ready() {
                    std::thread::yield_now();
                }
                Some(&self.heap)
            }
            Err(_) => None,
        }
    }
}

impl Default for KallocSystem {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for KallocSystem {
    type Target = Kalloc<HostedCpus, MmapPages>;
    /// The allocator, initialized.
    fn deref(&self) -> &Self::Target {
        self.ready();
        &self.heap
    }
}

// SAFETY: delegates to `Kalloc`'s `GlobalAlloc`, after initialization.
unsafe impl GlobalAlloc for KallocSystem {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { self.heap.alloc(layout) };
        if !p.is_null() || self.heap.is_ready() {
            return p;
        }
        // The very first allocation: initialize, then try again.
        match self.init_slow() {
            // SAFETY: forwarded contract.
            Some(heap) => unsafe { heap.alloc(layout) },
            None => ptr::null_mut(),
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract; a pointer we handed out means we are
        // initialized.
        unsafe { self.heap.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`.
        unsafe { self.heap.realloc(ptr, layout, new_size) }
    }
}

//! [`Kalloc`]: the three layers put together, and its `GlobalAlloc`.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use crate::class::{class_for, padded_class_for, MAX_SMALL};
use crate::cpu::{CpuShared, CpuState, Env, Padded};
use crate::node::NodeState;
use crate::platform::{Config, CpuId, InitError, NodeId, NodeRange, PageSource, Platform};
use crate::remote::RemoteStack;
use crate::span::{SpanHeader, SpanKind, HARDENED, PAGE_SIZE};
use crate::stats::{CpuCounters, CpuStats, NodeStats};

/// Most processors [`Kalloc`] can serve.
pub const MAX_CPUS: usize = 256;
/// Most NUMA nodes.
pub const MAX_NODES: usize = 64;
/// Most memory ranges in [`Config::ranges`].
pub const MAX_RANGES: usize = 64;

/// K42's three kinds of memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavour {
    /// Used (and normally freed) on one processor only: comes from spans
    /// that processor owns, so its cache lines are never shared with
    /// another processor's blocks. Freed elsewhere, it is sent home.
    LocalStrict,
    /// May be used and freed anywhere; a free on another processor of the
    /// same node keeps the block there (it is probably in that cache).
    /// This is what `GlobalAlloc` hands out.
    Global,
    /// Global, rounded up to whole cache lines, so two blocks never share a
    /// line (no false sharing between objects used on different processors).
    GlobalPadded,
}

/// The allocator's tables, built once by [`Kalloc::init`] in pages it asks
/// the page source for, and read-only afterwards.
pub(crate) struct Tables {
    pub(crate) ncpus: usize,
    pub(crate) nnodes: usize,
    nranges: usize,
    cpus: [*mut CpuState; MAX_CPUS],
    shared: [*const CpuShared; MAX_CPUS],
    nodes: [*const NodeState; MAX_NODES],
    cpu_node: [u16; MAX_CPUS],
    ranges: [NodeRange; MAX_RANGES],
}

impl Tables {
    #[inline]
    pub(crate) fn node(&self, node: NodeId) -> &NodeState {
        // SAFETY: `init` filled `nodes[..nnodes]` with live node states that
        // live as long as the tables; callers pass real node numbers.
        unsafe { &*self.nodes[node] }
    }

    #[inline]
    pub(crate) fn shared(&self, cpu: CpuId) -> &CpuShared {
        // SAFETY: as for `node`, for `shared[..ncpus]`.
        unsafe { &*self.shared[cpu] }
    }

    fn cpu_run_pages(nodes: usize) -> usize {
        (CpuState::footprint(nodes).next_multiple_of(64) + core::mem::size_of::<CpuShared>())
            .div_ceil(PAGE_SIZE)
    }
}

const TABLE_PAGES: usize = core::mem::size_of::<Tables>().div_ceil(PAGE_SIZE);
const NODE_PAGES: usize = core::mem::size_of::<NodeState>().div_ceil(PAGE_SIZE);

/// The locality-aware allocator over platform `P` and page source `S`.
///
/// See the [crate docs](crate) for the design and a setup example.
pub struct Kalloc<P: Platform, S: PageSource> {
    platform: P,
    pages: S,
    tables: AtomicPtr<Tables>,
    initializing: AtomicBool,
}

// SAFETY: all shared state is reached through `tables`, whose per-processor
// parts are touched only under `Platform::with_cpu`'s exclusivity and whose
// node parts are behind spin locks; `P` and `S` are `Sync` by their traits.
unsafe impl<P: Platform, S: PageSource> Sync for Kalloc<P, S> {}
// SAFETY: as above; the raw pointers are to memory owned by the allocator.
unsafe impl<P: Platform + Send, S: PageSource + Send> Send for Kalloc<P, S> {}

impl<P: Platform, S: PageSource> Kalloc<P, S> {
    /// An allocator that serves nothing (every request fails) until
    /// [`Kalloc::init`] has run. `const`, so it can be a `static`.
    pub const fn new(platform: P, pages: S) -> Self {
        Self {
            platform,
            pages,
            tables: AtomicPtr::new(ptr::null_mut()),
            initializing: AtomicBool::new(false),
        }
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// The page source.
    pub fn page_source(&self) -> &S {
        &self.pages
    }

    /// Builds the per-processor and per-node state, each in pages of its own
    /// node. Call once, before the first allocation; until then every
    /// allocation fails (returns null).
    pub fn init(&self, config: &Config<'_>) -> Result<(), InitError> {
        if config.nodes == 0 || config.nodes > MAX_NODES {
            return Err(InitError::BadNodeCount(config.nodes));
        }
        let ncpus = config.cpu_nodes.len();
        if ncpus == 0 || ncpus > MAX_CPUS {
            return Err(InitError::BadCpuCount(ncpus));
        }
        if let Some((cpu, &node)) = config
            .cpu_nodes
            .iter()
            .enumerate()
            .find(|(_, &n)| n >= config.nodes)
        {
            return Err(InitError::CpuOnMissingNode { cpu, node });
        }
        if config.ranges.len() > MAX_RANGES {
            return Err(InitError::TooManyRanges(config.ranges.len()));
        }
        if let Some(r) = config
            .ranges
            .iter()
            .find(|r| r.start >= r.end || r.node >= config.nodes)
        {
            return Err(InitError::BadRange(*r));
        }
        if self.initializing.swap(true, Ordering::Acquire) {
            return Err(InitError::AlreadyInitialized);
        }
        match self.build(config) {
            Ok(tables) => {
                self.tables.store(tables, Ordering::Release);
                Ok(())
            }
            Err(e) => {
                self.initializing.store(false, Ordering::Release);
                Err(e)
            }
        }
    }

    fn pages_near(&self, node: NodeId, nodes: usize, pages: usize) -> Option<NonNull<u8>> {
        (0..nodes).find_map(|k| self.pages.alloc_pages((node + k) % nodes, pages, PAGE_SIZE))
    }

    fn build(&self, config: &Config<'_>) -> Result<*mut Tables, InitError> {
        let nodes = config.nodes;
        let at = self
            .pages_near(0, nodes, TABLE_PAGES)
            .ok_or(InitError::OutOfMemory)?
            .as_ptr() as *mut Tables;
        let mut ranges = [NodeRange {
            start: 0,
            end: 0,
            node: 0,
        }; MAX_RANGES];
        ranges[..config.ranges.len()].copy_from_slice(config.ranges);
        let tables = Tables {
            ncpus: 0,
            nnodes: 0,
            nranges: config.ranges.len(),
            cpus: [ptr::null_mut(); MAX_CPUS],
            shared: [ptr::null(); MAX_CPUS],
            nodes: [ptr::null(); MAX_NODES],
            cpu_node: [0; MAX_CPUS],
            ranges,
        };
        // SAFETY: fresh pages, large enough and page-aligned.
        unsafe { at.write(tables) };
        // SAFETY: just written; nobody else sees it before we publish it.
        let t = unsafe { &mut *at };
        for node in 0..nodes {
            let Some(run) = self.pages_near(node, nodes, NODE_PAGES) else {
                // SAFETY: nothing else saw these tables.
                unsafe { self.release_tables(at) };
                return Err(InitError::OutOfMemory);
            };
            let state = run.as_ptr() as *mut NodeState;
            // SAFETY: fresh pages, large enough and page-aligned.
            unsafe { state.write(NodeState::new(node)) };
            t.nodes[node] = state;
            t.nnodes = node + 1;
        }
        let run_pages = Tables::cpu_run_pages(nodes);
        for (cpu, &node) in config.cpu_nodes.iter().enumerate() {
            let Some(run) = self.pages_near(node, nodes, run_pages) else {
                // SAFETY: nothing else saw these tables.
                unsafe { self.release_tables(at) };
                return Err(InitError::OutOfMemory);
            };
            let base = run.as_ptr();
            // SAFETY: the run has footprint + CpuShared bytes, page-aligned.
            unsafe { CpuState::init_at(base, cpu, node, nodes) };
            let footprint = CpuState::footprint(nodes).next_multiple_of(64);
            // SAFETY: in the same run, after the state, 64-aligned.
            let shared = unsafe { base.add(footprint) } as *mut CpuShared;
            // SAFETY: as above.
            unsafe {
                shared.write(CpuShared {
                    stats: CpuCounters::default(),
                    remote: Padded(RemoteStack::new()),
                })
            };
            t.cpus[cpu] = base as *mut CpuState;
            t.cpu_node[cpu] = node as u16;
            t.shared[cpu] = shared;
            t.ncpus = cpu + 1;
        }
        Ok(at)
    }

    /// Gives back every page the tables and their spans hold.
    ///
    /// # Safety
    /// Nothing uses the tables or any block from them any more.
    unsafe fn release_tables(&self, at: *mut Tables) {
        // SAFETY: per the caller, the tables are ours alone.
        let t = unsafe { &mut *at };
        let run_pages = Tables::cpu_run_pages(t.nnodes);
        for cpu in 0..t.ncpus {
            // SAFETY: live per-processor state, unused now.
            unsafe {
                (*t.cpus[cpu]).release_spans(&self.pages);
                self.pages
                    .free_pages(NonNull::new_unchecked(t.cpus[cpu] as *mut u8), run_pages);
            }
        }
        for node in 0..t.nnodes {
            // SAFETY: live node state, unused now.
            unsafe {
                (*t.nodes[node]).release_spans(&self.pages);
                self.pages
                    .free_pages(NonNull::new_unchecked(t.nodes[node] as *mut u8), NODE_PAGES);
            }
        }
        // SAFETY: the table pages themselves.
        unsafe {
            self.pages
                .free_pages(NonNull::new_unchecked(at as *mut u8), TABLE_PAGES)
        };
    }

    #[inline]
    fn tables(&self) -> Option<&Tables> {
        let t = self.tables.load(Ordering::Acquire);
        // SAFETY: once published, the tables live as long as `self`.
        (!t.is_null()).then(|| unsafe { &*t })
    }

    /// Whether [`Kalloc::init`] has completed.
    pub fn is_ready(&self) -> bool {
        self.tables().is_some()
    }

    /// Number of processors (0 before `init`).
    pub fn cpus(&self) -> usize {
        self.tables().map_or(0, |t| t.ncpus)
    }

    /// Number of NUMA nodes (0 before `init`).
    pub fn nodes(&self) -> usize {
        self.tables().map_or(0, |t| t.nnodes)
    }

    /// Runs `f` on the current processor's state, or returns `None` when
    /// the allocator is not ready or the platform gave a bad id.
    #[inline]
    fn on_cpu<R>(&self, f: impl FnOnce(&mut CpuState, &CpuShared, &Env<'_, S>) -> R) -> Option<R> {
        let t = self.tables()?;
        self.platform.with_cpu(|id| {
            // Entries past the processor count are null.
            let cpu = *t.cpus.get(id)?;
            if cpu.is_null() {
                debug_assert!(
                    false,
                    "kalloc: platform gave processor id {id} of {}",
                    t.ncpus
                );
                return None;
            }
            // SAFETY: `with_cpu` gives us exclusive use of processor `id`'s
            // private state until we return (the `Platform` contract).
            let cpu = unsafe { &mut *cpu };
            let env = Env {
                t,
                pages: &self.pages,
                relax: &self.platform,
            };
            Some(f(cpu, t.shared(id), &env))
        })
    }

    /// Allocates memory of the given flavour. Returns `None` when out of
    /// memory or before [`Kalloc::init`].
    #[inline]
    pub fn allocate(&self, layout: Layout, flavour: Flavour) -> Option<NonNull<u8>> {
        let size = layout.size().max(1);
        let class = match flavour {
            Flavour::GlobalPadded => padded_class_for(size, layout.align()),
            _ => class_for(size, layout.align()),
        };
        let Some(class) = class else {
            return self.alloc_large(size, layout.align());
        };
        let p = self.on_cpu(|cpu, sh, env| match flavour {
            Flavour::LocalStrict => cpu.alloc_local(class, sh, env),
            _ => cpu.alloc_global(class, sh, env),
        })?;
        let p = NonNull::new(p)?;
        if HARDENED {
            // SAFETY: a small block, so its span has a header.
            unsafe { SpanHeader::of(p.as_ptr()) }.mark_allocated(p.as_ptr());
        }
        Some(p)
    }

    /// Frees memory from [`Kalloc::allocate`] (any flavour) or `GlobalAlloc`.
    ///
    /// Hardened builds (debug, or feature `hardening`) panic with a clear
    /// message on a double free, a pointer kalloc did not hand out, or a
    /// layout that does not match the block.
    ///
    /// # Safety
    /// `ptr` came from this allocator with this `layout` and is not used
    /// after this call.
    #[inline]
    pub unsafe fn free(&self, ptr: NonNull<u8>, layout: Layout) {
        let size = layout.size().max(1);
        if size > MAX_SMALL || layout.align() > MAX_SMALL {
            // SAFETY: forwarded from our caller.
            return unsafe { self.free_large(ptr, size, layout.align()) };
        }
        let p = ptr.as_ptr();
        // SAFETY: a small block (by its layout), so its span has a header.
        let header = unsafe { SpanHeader::of(p) };
        header.check_free(p, size, layout.align());
        let done = self.on_cpu(|cpu, sh, env| match header.kind {
            // SAFETY: the caller gives the block away.
            SpanKind::Global => unsafe {
                cpu.free_global(p, header.class as usize, header, sh, env)
            },
            // SAFETY: as above.
            SpanKind::Local => unsafe { cpu.free_local(p, header, sh, env) },
        });
        debug_assert!(done.is_some(), "kalloc: free before init");
    }

    #[cold]
    fn alloc_large(&self, size: usize, align: usize) -> Option<NonNull<u8>> {
        let pages = size.div_ceil(PAGE_SIZE);
        let align = align.max(PAGE_SIZE);
        self.on_cpu(|cpu, sh, env| {
            let got = env.pages_near(cpu.node, pages, align);
            match got {
                Some((p, node)) => {
                    sh.stats.large_allocs.add(1);
                    env.t.node(node).stats.large_pages.add_shared(pages as u64);
                    Some(p)
                }
                None => {
                    sh.stats.failures.add(1);
                    None
                }
            }
        })?
    }

    #[cold]
    unsafe fn free_large(&self, ptr: NonNull<u8>, size: usize, align: usize) {
        if HARDENED && !(ptr.as_ptr() as usize).is_multiple_of(align.max(PAGE_SIZE)) {
            panic!("kalloc: free of {ptr:p} as a large block, but it is not page-aligned (foreign pointer or wrong layout)");
        }
        let pages = size.div_ceil(PAGE_SIZE);
        self.on_cpu(|_, sh, _| sh.stats.large_frees.add(1));
        // SAFETY: the caller's promise: this run came from `alloc_large`
        // with the same size, hence the same page count.
        unsafe { self.pages.free_pages(ptr, pages) };
    }

    /// Sends every batched remote free of the current processor home now
    /// (the kernel can call this when a processor goes idle), and takes in
    /// the strictly-local blocks others sent it.
    pub fn flush(&self) {
        self.on_cpu(|cpu, sh, env| cpu.flush(sh, env));
    }

    /// The processor the caller runs on (through the platform).
    pub fn current_cpu(&self) -> Option<CpuId> {
        let t = self.tables()?;
        self.platform.with_cpu(|id| (id < t.ncpus).then_some(id))
    }

    /// The node a pointer from this allocator lives on: from its span header
    /// for small blocks, from [`Config::ranges`] for large ones.
    ///
    /// # Safety
    /// `ptr` is live and came from this allocator with this `layout`.
    pub unsafe fn node_of(&self, ptr: NonNull<u8>, layout: Layout) -> Option<NodeId> {
        let t = self.tables()?;
        if layout.size().max(1) <= MAX_SMALL && layout.align() <= MAX_SMALL {
            // SAFETY: a small block: its span has a header.
            return Some(unsafe { SpanHeader::of(ptr.as_ptr()) }.node as NodeId);
        }
        let addr = ptr.as_ptr() as usize;
        t.ranges[..t.nranges]
            .iter()
            .find(|r| (r.start..r.end).contains(&addr))
            .map(|r| r.node)
    }

    /// A snapshot of processor `cpu`'s counters.
    pub fn cpu_stats(&self, cpu: CpuId) -> Option<CpuStats> {
        let t = self.tables()?;
        if cpu >= t.ncpus {
            return None;
        }
        Some(t.shared(cpu).stats.snapshot(usize::from(t.cpu_node[cpu])))
    }

    /// A snapshot of node `node`'s counters.
    pub fn node_stats(&self, node: NodeId) -> Option<NodeStats> {
        let t = self.tables()?;
        (node < t.nnodes).then(|| t.node(node).snapshot(&self.platform))
    }
}

impl<P: Platform, S: PageSource> Drop for Kalloc<P, S> {
    /// Gives every span and table page back to the page source. (A kernel's
    /// allocator is a `static` and never dropped; hosted tests drop theirs.)
    /// Large blocks still allocated are the owner's to free.
    fn drop(&mut self) {
        let t = *self.tables.get_mut();
        if !t.is_null() {
            // SAFETY: `&mut self`: nobody can use the allocator, and by
            // `free`'s contract no block outlives it in use.
            unsafe { self.release_tables(t) };
        }
    }
}

// SAFETY: `alloc` hands out blocks of at least `layout.size()` bytes aligned
// to `layout.align()` (class choice and span layout guarantee it, large
// blocks are page runs of enough pages), never the same block twice until
// it is freed, and null on failure.
unsafe impl<P: Platform, S: PageSource> GlobalAlloc for Kalloc<P, S> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocate(layout, Flavour::Global)
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(ptr) = NonNull::new(ptr) {
            // SAFETY: `GlobalAlloc`'s contract is ours.
            unsafe { self.free(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size().max(1);
        let new = new_size.max(1);
        if old <= MAX_SMALL && layout.align() <= MAX_SMALL {
            // SAFETY: a small block: its span has a header.
            let header = unsafe { SpanHeader::of(ptr) };
            if class_for(new, layout.align()) == Some(header.class as usize) {
                return ptr; // Same class: the block already fits.
            }
        }
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, so
        // `new_size` with `layout.align()` is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as for `alloc`.
        let fresh = unsafe { self.alloc(new_layout) };
        if !fresh.is_null() {
            // SAFETY: both blocks are live and at least min(old, new) long.
            unsafe {
                ptr::copy_nonoverlapping(ptr, fresh, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        fresh
    }
}

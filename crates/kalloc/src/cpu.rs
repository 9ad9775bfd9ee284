//! The per-processor layer: free lists per size class, touched only by
//! their own processor (inside [`crate::Platform::with_cpu`]), so the fast
//! paths are a few plain loads and stores: no lock, no atomic
//! read-modify-write.
//!
//! Global blocks (K42's `LMalloc`): each class has a main list and a small
//! stack of spare full lists (K42 had one auxiliary list; we keep up to
//! about 64 KiB worth, see [`spare_max`]). Allocation pops the main list;
//! when it is empty the newest spare list becomes the main list, and only
//! when there is none is a whole list fetched from the node layer. A free
//! pushes on the main list; when it holds a batch, it joins the spares, and
//! when there are too many spares the oldest goes to the node layer. So a
//! processor that alternates allocs and frees around a batch boundary does
//! not ping-pong lists with its node, and a working set of up to ~64 KiB
//! per class stays in this processor's cache instead of migrating to
//! another processor through the node layer. A global block freed here but homed on another node
//! is batched per (node, class) and sent home as a whole list.
//!
//! Strictly-local blocks come from spans this processor owns and return
//! only to it: frees elsewhere are batched per owner and pushed onto the
//! owner's [`RemoteStack`], which it drains when its list runs dry. A list
//! that grows past two batches gives a batch back to its spans, and idle
//! spans go back to the page source.

use core::ptr::{self, NonNull};

use crate::block::{Block, List};
use crate::class::{batch, CLASS_SIZES, NUM_CLASSES};
use crate::platform::{CpuId, NodeId, PageSource, Relax};
use crate::remote::RemoteStack;
use crate::span::{SpanHeader, SpanKind, SPAN_PAGES, SPAN_SIZE};
use crate::spans::SpanSet;
use crate::stats::CpuCounters;
use crate::Tables;

/// Spare full lists a processor keeps per class: about 64 KiB worth, at
/// least 1 and at most 16.
#[inline]
fn spare_max(class: usize) -> u32 {
    let list_bytes = batch(class) * CLASS_SIZES[class];
    (65536 / list_bytes).clamp(1, 16)
}

/// Strictly-local blocks bound for one other processor are pushed to it in
/// batches of this many (or sooner, when a block for another owner comes).
pub(crate) const REMOTE_BATCH: u32 = 64;

/// A processor's global blocks of one class (K42's `freeList`, and a stack
/// of lists where K42 had one `auxList`).
#[derive(Clone, Copy)]
struct Magazine {
    /// The main list: allocations pop here, frees push here.
    head: *mut Block,
    count: u32,
    /// Spare full lists (exactly one batch each), newest first, linked
    /// through their heads' `next_list`.
    nspare: u32,
    spare: *mut Block,
}

/// A processor's strictly-local blocks of one class.
struct LocalClass {
    /// Freed blocks, reused first.
    head: *mut Block,
    count: u32,
    /// The uncarved part `[bump, bump_end)` of the current span.
    bump: usize,
    bump_end: usize,
    /// This processor's spans of this class.
    spans: SpanSet,
}

impl LocalClass {
    const EMPTY: LocalClass = LocalClass {
        head: ptr::null_mut(),
        count: 0,
        bump: 0,
        bump_end: 0,
        spans: SpanSet::EMPTY,
    };
}

/// The private state of one processor. Only its processor touches it.
pub(crate) struct CpuState {
    pub(crate) id: CpuId,
    pub(crate) node: NodeId,
    nodes: usize,
    mags: [Magazine; NUM_CLASSES],
    local: [LocalClass; NUM_CLASSES],
    /// `node_out[node * NUM_CLASSES + class]`: global blocks waiting to be
    /// sent home to `node`.
    node_out: *mut List,
    /// Strictly-local blocks waiting to be sent home to `local_out_owner`.
    local_out: List,
    local_out_owner: CpuId,
}

/// The part of a processor's state that others touch: its remote-free
/// stack (written by any processor) and its counters (read by anyone).
#[repr(C, align(64))]
pub(crate) struct CpuShared {
    pub(crate) stats: CpuCounters,
    pub(crate) remote: Padded<RemoteStack>,
}

#[repr(align(64))]
pub(crate) struct Padded<T>(pub(crate) T);

/// What the processor layer needs from the layers around it.
pub(crate) struct Env<'a, S> {
    pub(crate) t: &'a Tables,
    pub(crate) pages: &'a S,
    pub(crate) relax: &'a dyn Relax,
}

impl<S: PageSource> Env<'_, S> {
    /// Pages for `pages` pages aligned to `align`, local node first.
    pub(crate) fn pages_near(
        &self,
        node: NodeId,
        pages: usize,
        align: usize,
    ) -> Option<(NonNull<u8>, NodeId)> {
        let nodes = self.t.nnodes;
        (0..nodes).find_map(|k| {
            let n = (node + k) % nodes;
            self.pages.alloc_pages(n, pages, align).map(|p| (p, n))
        })
    }
}

impl CpuState {
    /// Bytes of memory this processor's state needs (state, then the
    /// `node_out` lists).
    pub(crate) fn footprint(nodes: usize) -> usize {
        core::mem::size_of::<CpuState>().next_multiple_of(64)
            + nodes * NUM_CLASSES * core::mem::size_of::<List>()
    }

    /// Builds the state in place at `at`, which has `footprint(nodes)` bytes.
    ///
    /// # Safety
    /// `at` is writable for `footprint(nodes)` bytes, 64-byte aligned, unused.
    pub(crate) unsafe fn init_at(at: *mut u8, id: CpuId, node: NodeId, nodes: usize) {
        let lists_at = core::mem::size_of::<CpuState>().next_multiple_of(64);
        // SAFETY: inside the caller's region, 64-aligned.
        let node_out = unsafe { at.add(lists_at) } as *mut List;
        for i in 0..nodes * NUM_CLASSES {
            // SAFETY: inside the region, and `List` needs 8-byte alignment.
            unsafe { node_out.add(i).write(List::EMPTY) };
        }
        let state = CpuState {
            id,
            node,
            nodes,
            mags: [Magazine {
                head: ptr::null_mut(),
                count: 0,
                nspare: 0,
                spare: ptr::null_mut(),
            }; NUM_CLASSES],
            local: [const { LocalClass::EMPTY }; NUM_CLASSES],
            node_out,
            local_out: List::EMPTY,
            local_out_owner: 0,
        };
        // SAFETY: as above.
        unsafe { (at as *mut CpuState).write(state) };
    }

    /// Allocates a global block of `class`.
    #[inline]
    pub(crate) fn alloc_global<S: PageSource>(
        &mut self,
        class: usize,
        sh: &CpuShared,
        env: &Env<'_, S>,
    ) -> *mut u8 {
        let m = &mut self.mags[class];
        let block = m.head;
        if !block.is_null() {
            // SAFETY: blocks on our lists are free and ours.
            m.head = unsafe { (*block).next };
            m.count -= 1;
            sh.stats.allocs.add(1);
            return block as *mut u8;
        }
        self.refill_global(class, sh, env)
    }

    #[cold]
    #[inline(never)]
    fn refill_global<S: PageSource>(
        &mut self,
        class: usize,
        sh: &CpuShared,
        env: &Env<'_, S>,
    ) -> *mut u8 {
        let m = &mut self.mags[class];
        if !m.spare.is_null() {
            m.head = m.spare;
            m.count = batch(class);
            // SAFETY: spare lists are ours; their heads link the next one.
            m.spare = unsafe { (*m.head).next_list };
            m.nspare -= 1;
        } else {
            let nodes = env.t.nnodes;
            let got = (0..nodes).find_map(|k| {
                let n = (self.node + k) % nodes;
                let got = env.t.node(n).take_list(class, env.pages, env.relax);
                if got.is_some() && k > 0 {
                    env.t.node(n).stats.borrowed.add_shared(1);
                }
                got
            });
            let Some((head, count)) = got else {
                sh.stats.failures.add(1);
                return ptr::null_mut();
            };
            m.head = head;
            m.count = count;
            sh.stats.lists_from_node.add(1);
        }
        // Now the main list is not empty.
        self.alloc_global(class, sh, env)
    }

    /// Frees a global block of `class` whose span header is `header`.
    ///
    /// # Safety
    /// `ptr` is a live global block of `class`, given away by the caller.
    #[inline]
    pub(crate) unsafe fn free_global<S: PageSource>(
        &mut self,
        ptr: *mut u8,
        class: usize,
        header: &SpanHeader,
        sh: &CpuShared,
        env: &Env<'_, S>,
    ) {
        sh.stats.frees.add(1);
        let block = ptr as *mut Block;
        let home = header.node as NodeId;
        if home != self.node {
            // SAFETY: forwarded from our caller.
            return unsafe { self.free_remote_node(block, home, class, sh, env) };
        }
        let m = &mut self.mags[class];
        if m.count >= batch(class) {
            self.overflow(class, sh, env);
        }
        let m = &mut self.mags[class];
        // SAFETY: the block is ours now.
        unsafe { (*block).next = m.head };
        m.head = block;
        m.count += 1;
    }

    /// The main list is full: it joins the spares; if there are too many
    /// spares, the oldest goes to the node layer.
    #[cold]
    #[inline(never)]
    fn overflow<S: PageSource>(&mut self, class: usize, sh: &CpuShared, env: &Env<'_, S>) {
        let m = &mut self.mags[class];
        // SAFETY: the main list is ours and not empty.
        unsafe { (*m.head).next_list = m.spare };
        m.spare = m.head;
        m.nspare += 1;
        m.head = ptr::null_mut();
        m.count = 0;
        if m.nspare <= spare_max(class) {
            return;
        }
        // Unlink the oldest (last) spare list; there are at least two.
        let mut before = m.spare;
        // SAFETY: spare lists are ours; `nspare` of them are linked.
        let oldest = unsafe {
            for _ in 2..m.nspare {
                before = (*before).next_list;
            }
            let oldest = (*before).next_list;
            (*before).next_list = ptr::null_mut();
            oldest
        };
        m.nspare -= 1;
        // SAFETY: a full list of `class` blocks homed on our node.
        unsafe {
            env.t.node(self.node).give_list(
                class,
                oldest,
                batch(class),
                false,
                env.pages,
                env.relax,
            )
        };
        sh.stats.lists_to_node.add(1);
    }

    #[cold]
    #[inline(never)]
    unsafe fn free_remote_node<S: PageSource>(
        &mut self,
        block: *mut Block,
        home: NodeId,
        class: usize,
        sh: &CpuShared,
        env: &Env<'_, S>,
    ) {
        sh.stats.remote_node_frees.add(1);
        debug_assert!(home < self.nodes);
        // SAFETY: `node_out` has `nodes * NUM_CLASSES` lists and `home` is a
        // node (span headers are written with real node numbers).
        let out = unsafe { &mut *self.node_out.add(home * NUM_CLASSES + class) };
        // SAFETY: the block is ours to hand on.
        unsafe { out.push(block) };
        if out.count >= batch(class) {
            let list = out.take();
            // SAFETY: a chain of `count` free blocks of `class` homed there.
            unsafe {
                env.t
                    .node(home)
                    .give_list(class, list.head, list.count, true, env.pages, env.relax)
            };
            sh.stats.lists_to_node.add(1);
        }
    }

    /// Allocates a strictly-local block of `class`.
    #[inline]
    pub(crate) fn alloc_local<S: PageSource>(
        &mut self,
        class: usize,
        sh: &CpuShared,
        env: &Env<'_, S>,
    ) -> *mut u8 {
        let l = &mut self.local[class];
        let block = l.head;
        if !block.is_null() {
            // SAFETY: blocks on our lists are free and ours.
            l.head = unsafe { (*block).next };
            l.count -= 1;
            sh.stats.allocs.add(1);
            return block as *mut u8;
        }
        self.refill_local(class, sh, env)
    }

    #[cold]
    #[inline(never)]
    fn refill_local<S: PageSource>(
        &mut self,
        class: usize,
        sh: &CpuShared,
        env: &Env<'_, S>,
    ) -> *mut u8 {
        // First, blocks that other processors sent home, then blocks given
        // back to our partly free spans.
        self.drain_remote(sh, env);
        if self.local[class].head.is_null() && self.local[class].spans.has_partial() {
            let l = &mut self.local[class];
            // SAFETY: our own spans.
            let list = unsafe { l.spans.gather(batch(class)) };
            l.head = list.head;
            l.count = list.count;
        }
        if !self.local[class].head.is_null() {
            return self.alloc_local(class, sh, env);
        }
        let size = CLASS_SIZES[class] as usize;
        if self.local[class].bump + size > self.local[class].bump_end {
            let Some((span, node)) = env.pages_near(self.node, SPAN_PAGES, SPAN_SIZE) else {
                sh.stats.failures.add(1);
                return ptr::null_mut();
            };
            let base = span.as_ptr() as usize;
            // SAFETY: a fresh span-aligned run of SPAN_SIZE bytes.
            let (first, end) =
                unsafe { SpanHeader::init(base, class, SpanKind::Local, node, self.id) };
            let l = &mut self.local[class];
            l.bump = first;
            l.bump_end = end;
            // SAFETY: a fresh span of ours.
            let released = unsafe { l.spans.add_current(base, env.pages) };
            sh.stats.spans.add(1);
            sh.stats.spans_released.add(released);
        }
        let l = &mut self.local[class];
        let block = l.bump;
        l.bump += size;
        // SAFETY: the current span is ours.
        unsafe { l.spans.carved(1) };
        sh.stats.allocs.add(1);
        // SAFETY: carved from one of our spans just now.
        unsafe { SpanHeader::of(block as *mut u8) }.poison_fresh(block as *mut u8);
        block as *mut u8
    }

    /// Moves the blocks other processors sent home onto our lists.
    fn drain_remote<S: PageSource>(&mut self, sh: &CpuShared, env: &Env<'_, S>) {
        let mut block = sh.remote.0.take_all();
        let mut n = 0;
        while !block.is_null() {
            // SAFETY: the chain is ours since `take_all`; each block is a
            // strictly-local block of one of our spans.
            unsafe {
                let next = (*block).next;
                let class = SpanHeader::of(block as *mut u8).class as usize;
                self.push_local(class, block, sh, env);
                block = next;
            }
            n += 1;
        }
        sh.stats.remote_cpu_received.add(n);
    }

    /// Pushes a free strictly-local block of ours on its class list; a list
    /// grown past two batches keeps one batch and gives the rest back to
    /// its spans.
    ///
    /// # Safety
    /// `block` is a free strictly-local block of one of our spans of `class`.
    #[inline]
    unsafe fn push_local<S: PageSource>(
        &mut self,
        class: usize,
        block: *mut Block,
        sh: &CpuShared,
        env: &Env<'_, S>,
    ) {
        let l = &mut self.local[class];
        // SAFETY: the block is ours now.
        unsafe { (*block).next = l.head };
        l.head = block;
        l.count += 1;
        if l.count > 2 * batch(class) {
            self.trim_local(class, sh, env);
        }
    }

    #[cold]
    #[inline(never)]
    fn trim_local<S: PageSource>(&mut self, class: usize, sh: &CpuShared, env: &Env<'_, S>) {
        let l = &mut self.local[class];
        let keep = batch(class);
        // SAFETY: the list has more than `2 * keep` blocks, all free and
        // ours. We keep the first (most recently freed, likely cached)
        // `keep` and give the rest back to our spans.
        unsafe {
            let mut last = l.head;
            for _ in 1..keep {
                last = (*last).next;
            }
            let rest = (*last).next;
            (*last).next = ptr::null_mut();
            l.count = keep;
            let released = l.spans.give_back(rest, env.pages);
            sh.stats.spans_released.add(released);
        }
    }

    /// Frees a strictly-local block whose span header is `header`.
    ///
    /// # Safety
    /// `ptr` is a live strictly-local block, given away by the caller.
    #[inline]
    pub(crate) unsafe fn free_local<S: PageSource>(
        &mut self,
        ptr: *mut u8,
        header: &SpanHeader,
        sh: &CpuShared,
        env: &Env<'_, S>,
    ) {
        sh.stats.frees.add(1);
        let block = ptr as *mut Block;
        let owner = header.owner as CpuId;
        if owner == self.id {
            // SAFETY: one of our strictly-local blocks, given away to us.
            return unsafe { self.push_local(header.class as usize, block, sh, env) };
        }
        let t = env.t;
        sh.stats.remote_cpu_frees.add(1);
        if self.local_out.count > 0 && self.local_out_owner != owner {
            self.flush_local_out(t);
        }
        self.local_out_owner = owner;
        // SAFETY: the block is ours to hand on.
        unsafe { self.local_out.push(block) };
        if self.local_out.count >= REMOTE_BATCH {
            self.flush_local_out(t);
        }
    }

    fn flush_local_out(&mut self, t: &Tables) {
        let list = self.local_out.take();
        if list.count > 0 {
            // SAFETY: a chain of strictly-local blocks owned by
            // `local_out_owner`, given away.
            unsafe {
                t.shared(self.local_out_owner)
                    .remote
                    .0
                    .push_chain(list.head, list.tail)
            };
        }
    }

    /// Sends every batched remote free home now, and takes in what others
    /// sent us.
    pub(crate) fn flush<S: PageSource>(&mut self, sh: &CpuShared, env: &Env<'_, S>) {
        self.flush_local_out(env.t);
        for node in 0..self.nodes {
            for class in 0..NUM_CLASSES {
                // SAFETY: in bounds, as in `free_remote_node`.
                let out = unsafe { &mut *self.node_out.add(node * NUM_CLASSES + class) };
                let list = out.take();
                if list.count > 0 {
                    // SAFETY: a chain of free blocks of `class` homed there.
                    unsafe {
                        env.t
                            .node(node)
                            .give_list(class, list.head, list.count, true, env.pages, env.relax)
                    };
                    sh.stats.lists_to_node.add(1);
                }
            }
        }
        self.drain_remote(sh, env);
    }

    /// Gives this processor's strictly-local spans back to the page source.
    ///
    /// # Safety
    /// Nothing uses any of their blocks any more.
    pub(crate) unsafe fn release_spans<S: PageSource>(&mut self, pages: &S) {
        for l in &mut self.local {
            // SAFETY: our own spans, unused now.
            unsafe { l.spans.release_all(pages) };
        }
    }
}

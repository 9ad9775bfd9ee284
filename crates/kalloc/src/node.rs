//! The node layer: one per NUMA node, trading whole lists of free global
//! blocks with the processors of the node, and carving new lists from spans
//! of the node's pages.
//!
//! K42's `GMalloc` and `PMalloc`: processors never exchange single blocks
//! through this layer, only whole lists of [`batch`] blocks, so a lock taken
//! here is paid once per `batch` allocations or frees.
//!
//! - Partial lists (sent home on an explicit flush) are kept apart in a
//!   loose list and handed out a batch at a time.
//! - When a class piles up [`2 * KEEP_LISTS`](KEEP_LISTS) full lists, half
//!   of them go back to their spans, block by block, and a span whose every
//!   carved block is back goes back to the page source. New lists are
//!   gathered from such partly free spans before any fresh span is carved.

use core::ptr;

use crate::block::{Block, List};
use crate::class::{batch, CLASS_SIZES, NUM_CLASSES};
use crate::lock::SpinLock;
use crate::platform::{NodeId, PageSource, Relax};
use crate::span::{SpanHeader, SpanKind, SPAN_PAGES, SPAN_SIZE};
use crate::spans::SpanSet;
use crate::stats::{NodeCounters, NodeStats};

/// Full lists a node keeps per class before it gives memory back; it gives
/// back half when it holds twice this many.
pub const KEEP_LISTS: u32 = 8;

/// One node's free lists for one size class.
struct NodeClass {
    /// Stack of full lists (exactly `batch(class)` blocks each), linked
    /// through the head block's `next_list`.
    full: *mut Block,
    nfull: u32,
    /// Blocks that came home in partial lists.
    loose: List,
    /// Uncarved part `[bump, bump_end)` of the current span.
    bump: usize,
    bump_end: usize,
    /// The spans of this class on this node.
    spans: SpanSet,
}

// SAFETY: the raw pointers are to free blocks and spans owned by this
// structure, which only moves between threads inside its `SpinLock`.
unsafe impl Send for NodeClass {}

#[repr(align(64))]
struct Padded<T>(T);

/// The node layer of one NUMA node.
pub(crate) struct NodeState {
    id: NodeId,
    classes: [Padded<SpinLock<NodeClass>>; NUM_CLASSES],
    pub(crate) stats: NodeCounters,
}

impl NodeState {
    pub(crate) fn new(id: NodeId) -> Self {
        Self {
            id,
            classes: core::array::from_fn(|_| {
                Padded(SpinLock::new(NodeClass {
                    full: ptr::null_mut(),
                    nfull: 0,
                    loose: List::EMPTY,
                    bump: 0,
                    bump_end: 0,
                    spans: SpanSet::EMPTY,
                }))
            }),
            stats: NodeCounters::default(),
        }
    }

    /// Takes a list of at most one batch of free blocks of `class`: a full
    /// list, else loose blocks, else blocks given back to partly free spans,
    /// else freshly carved ones (from a new span of this node's pages if need
    /// be). `None` when this node has no memory left.
    pub(crate) fn take_list<S: PageSource>(
        &self,
        class: usize,
        pages: &S,
        relax: &dyn Relax,
    ) -> Option<(*mut Block, u32)> {
        let want = batch(class);
        let mut c = self.classes[class].0.lock_with(&|| relax.relax());
        let got = if !c.full.is_null() {
            let head = c.full;
            // SAFETY: heads on the stack are free blocks we own.
            c.full = unsafe { (*head).next_list };
            c.nfull -= 1;
            (head, want)
        } else if c.loose.count > 0 {
            if c.loose.count <= want {
                let loose = c.loose.take();
                (loose.head, loose.count)
            } else {
                let head = c.loose.head;
                let mut last = head;
                // SAFETY: the loose chain has more than `want` blocks, all
                // free and ours.
                unsafe {
                    for _ in 1..want {
                        last = (*last).next;
                    }
                    c.loose.head = (*last).next;
                    (*last).next = ptr::null_mut();
                }
                c.loose.count -= want;
                (head, want)
            }
        } else if c.spans.has_partial() {
            // SAFETY: under the lock we own every span of the class.
            let list = unsafe { c.spans.gather(want) };
            (list.head, list.count)
        } else {
            if c.bump >= c.bump_end {
                let span = pages.alloc_pages(self.id, SPAN_PAGES, SPAN_SIZE)?;
                let base = span.as_ptr() as usize;
                // SAFETY: a fresh span-aligned run of SPAN_SIZE bytes from the
                // page source, ours alone.
                let (first, end) =
                    unsafe { SpanHeader::init(base, class, SpanKind::Global, self.id, 0) };
                c.bump = first;
                c.bump_end = end;
                // SAFETY: a fresh span of this class; we own the set.
                let released = unsafe { c.spans.add_current(base, pages) };
                self.stats.spans_released.add_shared(released);
                self.stats.spans.add_shared(1);
            }
            let size = CLASS_SIZES[class] as usize;
            let n = ((c.bump_end - c.bump) / size).min(want as usize);
            let head = c.bump as *mut Block;
            for i in 0..n {
                let block = (c.bump + i * size) as *mut Block;
                let next = if i + 1 == n {
                    ptr::null_mut()
                } else {
                    (c.bump + (i + 1) * size) as *mut Block
                };
                // SAFETY: uncarved span memory is ours; each block is at
                // least 16 bytes and aligned.
                unsafe {
                    (*block).next = next;
                    SpanHeader::of(block as *mut u8).poison_fresh(block as *mut u8);
                }
            }
            c.bump += n * size;
            // SAFETY: the current span is ours under the lock.
            unsafe { c.spans.carved(n as u32) };
            (head, n as u32)
        };
        drop(c);
        self.stats.lists_out.add_shared(1);
        Some(got)
    }

    /// Gives back a list of `count` free blocks of `class` (whose home is
    /// this node). If the class now holds too many lists, half of them go
    /// back to their spans, and idle spans to the page source.
    ///
    /// # Safety
    /// `head` starts a well-formed chain of `count` free blocks of `class`
    /// from this node's spans, given away by the caller.
    pub(crate) unsafe fn give_list<S: PageSource>(
        &self,
        class: usize,
        head: *mut Block,
        count: u32,
        remote: bool,
        pages: &S,
        relax: &dyn Relax,
    ) {
        if count == 0 {
            return;
        }
        let mut c = self.classes[class].0.lock_with(&|| relax.relax());
        if count == batch(class) {
            // SAFETY: the chain is ours now.
            unsafe { (*head).next_list = c.full };
            c.full = head;
            c.nfull += 1;
        } else {
            // A partial list: splice it onto the loose blocks.
            let mut tail = head;
            // SAFETY: a well-formed chain of `count` blocks, ours now.
            unsafe {
                while !(*tail).next.is_null() {
                    tail = (*tail).next;
                }
                (*tail).next = c.loose.head;
            }
            if c.loose.head.is_null() {
                c.loose.tail = tail;
            }
            c.loose.head = head;
            c.loose.count += count;
        }
        let mut released = 0;
        if c.nfull >= 2 * KEEP_LISTS {
            for _ in 0..KEEP_LISTS {
                let list = c.full;
                // SAFETY: a full list of ours; we unstack it and return each
                // of its blocks to its span.
                unsafe {
                    c.full = (*list).next_list;
                    c.nfull -= 1;
                    released += c.spans.give_back(list, pages);
                }
            }
        }
        drop(c);
        self.stats.lists_in.add_shared(1);
        if remote {
            self.stats.remote_lists_in.add_shared(1);
        }
        if released > 0 {
            self.stats.spans_released.add_shared(released);
        }
    }

    pub(crate) fn snapshot(&self, relax: &dyn Relax) -> NodeStats {
        let free_lists = self
            .classes
            .iter()
            .map(|c| u64::from(c.0.lock_with(&|| relax.relax()).nfull))
            .sum();
        NodeStats {
            spans: self.stats.spans.get(),
            spans_released: self.stats.spans_released.get(),
            lists_in: self.stats.lists_in.get(),
            lists_out: self.stats.lists_out.get(),
            remote_lists_in: self.stats.remote_lists_in.get(),
            large_pages: self.stats.large_pages.get(),
            borrowed: self.stats.borrowed.get(),
            free_lists,
        }
    }

    /// Gives every span back to the page source.
    ///
    /// # Safety
    /// Nothing uses any block of this node any more.
    pub(crate) unsafe fn release_spans<S: PageSource>(&self, pages: &S) {
        for class in &self.classes {
            let mut c = class.0.lock_with(&|| {});
            // SAFETY: we hold the lock and nothing uses the blocks.
            unsafe { c.spans.release_all(pages) };
        }
    }
}

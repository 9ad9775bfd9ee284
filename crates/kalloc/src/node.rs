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

use core::ptr::{self, NonNull};

use crate::block::{Block, List};
use crate::class::{batch, CLASS_SIZES, NUM_CLASSES};
use crate::lock::SpinLock;
use crate::platform::{NodeId, PageSource, Relax};
use crate::span::{SpanHeader, SpanKind, SPAN_PAGES, SPAN_SIZE};
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
    /// The span being carved, and its uncarved part `[bump, bump_end)`.
    bump_span: usize,
    bump: usize,
    bump_end: usize,
    /// All spans of this class on this node (linked through their books).
    spans: usize,
    /// Spans holding blocks given back to them.
    partial: usize,
}

// SAFETY: the raw pointers are to free blocks and spans owned by this
// structure, which only moves between threads inside its `SpinLock`.
unsafe impl Send for NodeClass {}

/// Span list plumbing. All of it runs under the class lock, which makes the
/// caller the owner of every span of the class (so `book()` is exclusive).
impl NodeClass {
    /// # Safety
    /// `span` is a live span of this class, on no list yet.
    unsafe fn link_span(&mut self, span: usize) {
        // SAFETY: spans of this class are ours under the lock.
        unsafe {
            let b = SpanHeader::at(span).book();
            b.prev = 0;
            b.next = self.spans;
            if self.spans != 0 {
                SpanHeader::at(self.spans).book().prev = span;
            }
        }
        self.spans = span;
    }

    /// # Safety
    /// `span` is on the list of all spans.
    unsafe fn unlink_span(&mut self, span: usize) {
        // SAFETY: as for `link_span`.
        unsafe {
            let (prev, next) = {
                let b = SpanHeader::at(span).book();
                (b.prev, b.next)
            };
            if prev == 0 {
                self.spans = next;
            } else {
                SpanHeader::at(prev).book().next = next;
            }
            if next != 0 {
                SpanHeader::at(next).book().prev = prev;
            }
        }
    }

    /// # Safety
    /// `span` is a live span of this class, not on the partial list.
    unsafe fn link_partial(&mut self, span: usize) {
        // SAFETY: as for `link_span`.
        unsafe {
            let b = SpanHeader::at(span).book();
            b.prev_partial = 0;
            b.next_partial = self.partial;
            if self.partial != 0 {
                SpanHeader::at(self.partial).book().prev_partial = span;
            }
        }
        self.partial = span;
    }

    /// # Safety
    /// `span` is on the partial list.
    unsafe fn unlink_partial(&mut self, span: usize) {
        // SAFETY: as for `link_span`.
        unsafe {
            let (prev, next) = {
                let b = SpanHeader::at(span).book();
                (b.prev_partial, b.next_partial)
            };
            if prev == 0 {
                self.partial = next;
            } else {
                SpanHeader::at(prev).book().next_partial = next;
            }
            if next != 0 {
                SpanHeader::at(next).book().prev_partial = prev;
            }
        }
    }

    /// Whether every block carved from `span` is back in it (and it is not
    /// the span still being carved).
    ///
    /// # Safety
    /// `span` is a live span of this class.
    unsafe fn is_idle(&self, span: usize) -> bool {
        // SAFETY: as for `link_span`.
        let b = unsafe { SpanHeader::at(span).book() };
        span != self.bump_span && b.nfree == b.carved
    }

    /// Unlinks an idle span and gives its pages back.
    ///
    /// # Safety
    /// `span` is idle (see `is_idle`), on the list of all spans, and on the
    /// partial list if it holds free blocks.
    unsafe fn release<S: PageSource>(&mut self, span: usize, pages: &S) {
        // SAFETY: per the caller; no block of the span is in use or listed
        // anywhere but in the span itself.
        unsafe {
            if SpanHeader::at(span).book().nfree > 0 {
                self.unlink_partial(span);
            }
            self.unlink_span(span);
            pages.free_pages(NonNull::new_unchecked(span as *mut u8), SPAN_PAGES);
        }
    }
}

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
                    bump_span: 0,
                    bump: 0,
                    bump_end: 0,
                    spans: 0,
                    partial: 0,
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
        } else if c.partial != 0 {
            // SAFETY: under the lock we own every span of the class.
            unsafe { self.gather(&mut c, want) }
        } else {
            if c.bump >= c.bump_end {
                let span = pages.alloc_pages(self.id, SPAN_PAGES, SPAN_SIZE)?;
                let base = span.as_ptr() as usize;
                // SAFETY: a fresh span-aligned run of SPAN_SIZE bytes from the
                // page source, ours alone.
                let (first, end) =
                    unsafe { SpanHeader::init(base, class, SpanKind::Global, self.id, 0) };
                let old = c.bump_span;
                c.bump_span = base;
                c.bump = first;
                c.bump_end = end;
                // SAFETY: a fresh span of this class, on no list; the old
                // bump span (if any) is live and ours.
                unsafe {
                    c.link_span(base);
                    if old != 0 && c.is_idle(old) {
                        c.release(old, pages);
                        self.stats.spans_released.add_shared(1);
                    }
                }
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
                    SpanHeader::at(c.bump_span).poison_fresh(block as *mut u8);
                }
            }
            c.bump += n * size;
            // SAFETY: the bump span is ours under the lock.
            unsafe { SpanHeader::at(c.bump_span).book().carved += n as u32 };
            (head, n as u32)
        };
        drop(c);
        self.stats.lists_out.add_shared(1);
        Some(got)
    }

    /// Gathers up to `want` blocks from partly free spans.
    ///
    /// # Safety
    /// `c` is locked (we own its spans) and has a partial span.
    unsafe fn gather(&self, c: &mut NodeClass, want: u32) -> (*mut Block, u32) {
        let mut list = List::EMPTY;
        while list.count < want && c.partial != 0 {
            let span = c.partial;
            // SAFETY: a partial span of ours: its free chain has `nfree`
            // blocks.
            unsafe {
                let b = SpanHeader::at(span).book();
                while list.count < want && b.nfree > 0 {
                    let block = b.free;
                    b.free = (*block).next;
                    b.nfree -= 1;
                    list.push(block);
                }
                if b.nfree == 0 {
                    c.unlink_partial(span);
                }
            }
        }
        (list.head, list.count)
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
                    released += self.return_to_spans(&mut c, list, pages);
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

    /// Returns each block of a chain to its span; releases idle spans.
    /// Returns how many spans went back to the page source.
    ///
    /// # Safety
    /// `c` is locked; `block` starts a chain of free blocks of its class.
    unsafe fn return_to_spans<S: PageSource>(
        &self,
        c: &mut NodeClass,
        mut block: *mut Block,
        pages: &S,
    ) -> u64 {
        let mut released = 0;
        while !block.is_null() {
            // SAFETY: the block is free and ours; its span is a global span
            // of this class and node, owned by us under the lock.
            unsafe {
                let next = (*block).next;
                let span = block as usize & !(SPAN_SIZE - 1);
                let b = SpanHeader::at(span).book();
                (*block).next = b.free;
                b.free = block;
                b.nfree += 1;
                if b.nfree == 1 {
                    c.link_partial(span);
                }
                if c.is_idle(span) {
                    c.release(span, pages);
                    released += 1;
                }
                block = next;
            }
        }
        released
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
            let mut span = class.0.lock_with(&|| {}).spans;
            while span != 0 {
                // SAFETY: a span we carved; its book links the next one.
                let next = unsafe { SpanHeader::at(span).book().next };
                // SAFETY: the span came from `pages` and is unused now.
                unsafe { pages.free_pages(NonNull::new_unchecked(span as *mut u8), SPAN_PAGES) };
                span = next;
            }
        }
    }
}

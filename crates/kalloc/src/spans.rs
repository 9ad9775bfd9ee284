//! A set of spans of one size class with one owner (a node layer's class,
//! or a processor's strictly-local class): the spans themselves, which of
//! them hold blocks given back to them, and which one is being carved.
//!
//! This is the page layer's bookkeeping (K42's `PMalloc` and
//! `AllocRegionManager`): an owner that holds more free blocks than it wants
//! gives them back to their spans, a span whose every carved block is back
//! goes back to the page source, and new blocks are gathered from partly
//! free spans before fresh memory is carved.
//!
//! Every method is `unsafe` for the same reason: the caller must be the
//! owner of every span in the set (hold the node class lock, or be the
//! owning processor), which is what makes each span's book exclusively
//! ours.

use core::ptr::NonNull;

use crate::block::{Block, List};
use crate::platform::PageSource;
use crate::span::{SpanHeader, SPAN_PAGES, SPAN_SIZE};

/// The spans of one class and one owner.
pub(crate) struct SpanSet {
    /// Every span (linked through `book.prev/next`).
    all: usize,
    /// Spans with blocks given back (`book.prev_partial/next_partial`).
    partial: usize,
    /// The span being carved (its book counts what was carved so far).
    current: usize,
}

impl SpanSet {
    pub(crate) const EMPTY: SpanSet = SpanSet {
        all: 0,
        partial: 0,
        current: 0,
    };

    /// Whether some span holds blocks given back to it.
    #[inline]
    pub(crate) fn has_partial(&self) -> bool {
        self.partial != 0
    }

    /// Adds a freshly initialized span and makes it the one being carved.
    /// The span carved before is released if it is idle.
    ///
    /// # Safety
    /// We own the set; `span` is a fresh span of its class, in no set.
    pub(crate) unsafe fn add_current<S: PageSource>(&mut self, span: usize, pages: &S) -> u64 {
        // SAFETY: ours, per the caller.
        unsafe {
            let b = SpanHeader::at(span).book();
            b.prev = 0;
            b.next = self.all;
            if self.all != 0 {
                SpanHeader::at(self.all).book().prev = span;
            }
            self.all = span;
            let old = core::mem::replace(&mut self.current, span);
            if old != 0 && self.is_idle(old) {
                self.release(old, pages);
                return 1;
            }
        }
        0
    }

    /// Counts `n` blocks carved from the current span.
    ///
    /// # Safety
    /// We own the set, which has a current span.
    #[inline]
    pub(crate) unsafe fn carved(&mut self, n: u32) {
        // SAFETY: ours, per the caller.
        unsafe { SpanHeader::at(self.current).book().carved += n };
    }

    /// Gives a chain of free blocks back to their spans (all in this set)
    /// and releases the spans that become idle. Returns how many spans
    /// went back to the page source.
    ///
    /// # Safety
    /// We own the set; `block` starts a chain of free blocks of its spans,
    /// given away by the caller.
    pub(crate) unsafe fn give_back<S: PageSource>(
        &mut self,
        mut block: *mut Block,
        pages: &S,
    ) -> u64 {
        let mut released = 0;
        while !block.is_null() {
            // SAFETY: the block is free and ours; its span is in the set.
            unsafe {
                let next = (*block).next;
                let span = block as usize & !(SPAN_SIZE - 1);
                let b = SpanHeader::at(span).book();
                (*block).next = b.free;
                b.free = block;
                b.nfree += 1;
                if b.nfree == 1 {
                    self.link_partial(span);
                }
                if self.is_idle(span) {
                    self.release(span, pages);
                    released += 1;
                }
                block = next;
            }
        }
        released
    }

    /// Takes up to `want` blocks given back to partly free spans.
    ///
    /// # Safety
    /// We own the set.
    pub(crate) unsafe fn gather(&mut self, want: u32) -> List {
        let mut list = List::EMPTY;
        while list.count < want && self.partial != 0 {
            let span = self.partial;
            // SAFETY: a partial span of ours: its chain has `nfree` blocks.
            unsafe {
                let b = SpanHeader::at(span).book();
                while list.count < want && b.nfree > 0 {
                    let block = b.free;
                    b.free = (*block).next;
                    b.nfree -= 1;
                    list.push(block);
                }
                if b.nfree == 0 {
                    self.unlink_partial(span);
                }
            }
        }
        list
    }

    /// Gives every span back to the page source (teardown).
    ///
    /// # Safety
    /// We own the set and nothing uses any of its blocks any more.
    pub(crate) unsafe fn release_all<S: PageSource>(&mut self, pages: &S) {
        let mut span = self.all;
        while span != 0 {
            // SAFETY: a span of ours; its book links the next one; it came
            // from `pages` and is unused.
            unsafe {
                let next = SpanHeader::at(span).book().next;
                pages.free_pages(NonNull::new_unchecked(span as *mut u8), SPAN_PAGES);
                span = next;
            }
        }
        *self = SpanSet::EMPTY;
    }

    /// # Safety
    /// We own the set; `span` is in it.
    unsafe fn is_idle(&self, span: usize) -> bool {
        // SAFETY: ours, per the caller.
        let b = unsafe { SpanHeader::at(span).book() };
        span != self.current && b.nfree == b.carved
    }

    /// # Safety
    /// We own the set; `span` is in it, idle, not current.
    unsafe fn release<S: PageSource>(&mut self, span: usize, pages: &S) {
        // SAFETY: per the caller; no block of the span is in use or listed
        // anywhere but in the span itself.
        unsafe {
            let (prev, next, nfree) = {
                let b = SpanHeader::at(span).book();
                (b.prev, b.next, b.nfree)
            };
            if nfree > 0 {
                self.unlink_partial(span);
            }
            if prev == 0 {
                self.all = next;
            } else {
                SpanHeader::at(prev).book().next = next;
            }
            if next != 0 {
                SpanHeader::at(next).book().prev = prev;
            }
            pages.free_pages(NonNull::new_unchecked(span as *mut u8), SPAN_PAGES);
        }
    }

    /// # Safety
    /// We own the set; `span` is in it and not on the partial list.
    unsafe fn link_partial(&mut self, span: usize) {
        // SAFETY: ours, per the caller.
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
    /// We own the set; `span` is on the partial list.
    unsafe fn unlink_partial(&mut self, span: usize) {
        // SAFETY: ours, per the caller.
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
}

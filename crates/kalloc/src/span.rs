//! Spans: the page layer's unit for small blocks.
//!
//! A span is [`SPAN_SIZE`] bytes of pages, aligned to its size, holding
//! blocks of one size class and one flavour. Its header, at the start, says
//! which class, which NUMA node the pages are on and (strictly-local spans)
//! which processor owns it, so a free finds all it needs by masking the
//! pointer: no lookup table, no lock.
//!
//! The header also has a bitmap with one bit per 16 bytes, set while a
//! block is handed out. Hardened builds (debug, or the `hardening` feature)
//! keep it up to date and check every free against it, which catches double
//! frees, pointers into the middle of blocks, and pointers the allocator
//! never gave out.

use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::block::Block;
use crate::class::{class_align, CLASS_SIZES};

/// Bytes in a span.
pub const SPAN_SIZE: usize = 64 * 1024;

/// Bytes in a page of the page layer.
pub const PAGE_SIZE: usize = 4096;

/// Pages in a span.
pub const SPAN_PAGES: usize = SPAN_SIZE / PAGE_SIZE;

const MAGIC: usize = 0x6b61_6c6c_6f63_5350; // "kallocSP"
const BITMAP_WORDS: usize = SPAN_SIZE / 16 / 64;

/// The byte freed blocks are filled with (after their two link words).
pub const POISON: u8 = 0xde;

/// Whether the hardening checks run in this build.
pub const HARDENED: bool = cfg!(any(debug_assertions, feature = "hardening"));

/// Who may keep a span's blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum SpanKind {
    /// Global (and global padded) blocks: any processor on the span's node
    /// may keep them in its lists.
    Global = 1,
    /// Strictly local blocks: only the owning processor.
    Local = 2,
}

/// The header at the start of every span.
#[repr(C, align(64))]
pub(crate) struct SpanHeader {
    magic: usize,
    pub(crate) class: u8,
    pub(crate) kind: SpanKind,
    pub(crate) node: u16,
    pub(crate) owner: u32,
    pub(crate) block_size: u32,
    pub(crate) first: u32,
    /// Bookkeeping of the span's owner: the node layer's class lock for
    /// global spans, the owning processor for strictly-local ones.
    book: UnsafeCell<SpanBook>,
    live: [AtomicU64; BITMAP_WORDS],
}

/// The mutable part of a span header, touched only by the span's owner.
pub(crate) struct SpanBook {
    /// Free blocks given back to the span itself (global spans: when the
    /// node layer holds more lists than it wants).
    pub(crate) free: *mut Block,
    pub(crate) nfree: u32,
    /// Blocks carved out of the span so far.
    pub(crate) carved: u32,
    /// The owner's list of all its spans (doubly linked; addresses, 0 ends).
    pub(crate) prev: usize,
    pub(crate) next: usize,
    /// The owner's list of spans with `nfree > 0`.
    pub(crate) prev_partial: usize,
    pub(crate) next_partial: usize,
}

/// Bytes reserved at the start of a span for its header.
pub(crate) const HEADER_SIZE: usize = core::mem::size_of::<SpanHeader>();

impl SpanHeader {
    /// Writes a header at `base` and returns the byte range `[first, end)`
    /// (as addresses) where blocks are carved.
    ///
    /// # Safety
    /// `base` is the start of [`SPAN_SIZE`] writable bytes, aligned to
    /// [`SPAN_SIZE`], that nobody else uses.
    pub(crate) unsafe fn init(
        base: usize,
        class: usize,
        kind: SpanKind,
        node: usize,
        owner: usize,
    ) -> (usize, usize) {
        let size = CLASS_SIZES[class] as usize;
        let first = HEADER_SIZE.next_multiple_of(class_align(class));
        let blocks = (SPAN_SIZE - first) / size;
        let header = SpanHeader {
            magic: MAGIC ^ base,
            class: class as u8,
            kind,
            node: node as u16,
            owner: owner as u32,
            block_size: size as u32,
            first: first as u32,
            book: UnsafeCell::new(SpanBook {
                free: ptr::null_mut(),
                nfree: 0,
                carved: 0,
                prev: 0,
                next: 0,
                prev_partial: 0,
                next_partial: 0,
            }),
            live: [const { AtomicU64::new(0) }; BITMAP_WORDS],
        };
        // SAFETY: the caller gives us the span; the header fits in its
        // first HEADER_SIZE bytes and `base` is aligned for it.
        unsafe { (base as *mut SpanHeader).write(header) };
        (base + first, base + first + blocks * size)
    }

    /// The header of the span holding `ptr`.
    ///
    /// # Safety
    /// `ptr` was handed out by the small-block path (so its span has a
    /// header). Hardened builds check the magic before trusting the rest.
    #[inline]
    pub(crate) unsafe fn of<'a>(ptr: *mut u8) -> &'a SpanHeader {
        let base = ptr as usize & !(SPAN_SIZE - 1);
        // SAFETY: by the caller's promise the span has a header.
        let header = unsafe { &*(base as *const SpanHeader) };
        if HARDENED && header.magic != MAGIC ^ base {
            foreign_pointer(ptr);
        }
        header
    }

    /// The span's bookkeeping.
    ///
    /// # Safety
    /// The caller is the span's owner (holds the node class lock for a
    /// global span, is the owning processor for a strictly-local one) and
    /// holds no other reference to the book.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn book(&self) -> &mut SpanBook {
        // SAFETY: exclusive by the caller's promise.
        unsafe { &mut *self.book.get() }
    }

    /// The header at span address `base`.
    ///
    /// # Safety
    /// `base` is the start of a live span.
    pub(crate) unsafe fn at<'a>(base: usize) -> &'a SpanHeader {
        // SAFETY: per the caller.
        unsafe { &*(base as *const SpanHeader) }
    }

    fn bit(&self, ptr: *mut u8) -> (usize, u64) {
        let offset = ptr as usize & (SPAN_SIZE - 1);
        let index = offset / 16;
        (index / 64, 1u64 << (index % 64))
    }

    /// Hardened builds: records that `ptr` is handed out, after checking
    /// that nobody wrote to it while it was free (its poison is intact).
    #[inline]
    pub(crate) fn mark_allocated(&self, ptr: *mut u8) {
        if HARDENED {
            let (word, mask) = self.bit(ptr);
            let old = self.live[word].fetch_or(mask, Ordering::Relaxed);
            assert!(
                old & mask == 0,
                "kalloc: internal error: block {ptr:p} handed out twice"
            );
            let links = core::mem::size_of::<Block>();
            let size = self.block_size as usize;
            // SAFETY: the block is `size` bytes, handed out to us just now.
            let body = unsafe { core::slice::from_raw_parts(ptr.add(links), size - links) };
            if let Some(at) = body.iter().position(|&b| b != POISON) {
                panic!(
                    "kalloc: block {ptr:p} was written after it was freed \
                     (byte {} is {:#04x}, not the poison {POISON:#04x}): use after free",
                    links + at,
                    body[at]
                );
            }
        }
    }

    /// Hardened builds: poisons a block that was just carved from fresh
    /// span memory, so `mark_allocated` can check it like a freed one.
    #[inline]
    pub(crate) fn poison_fresh(&self, ptr: *mut u8) {
        if HARDENED {
            let links = core::mem::size_of::<Block>();
            // SAFETY: a free block of `block_size` bytes, ours.
            unsafe {
                core::ptr::write_bytes(ptr.add(links), POISON, self.block_size as usize - links)
            };
        }
    }

    /// Hardened builds: checks that `ptr` is a live block of this span that
    /// fits a request of `size` bytes aligned to `align`, then records it
    /// free and poisons it. Panics with a clear message otherwise.
    #[inline]
    pub(crate) fn check_free(&self, ptr: *mut u8, size: usize, align: usize) {
        if !HARDENED {
            return;
        }
        let offset = ptr as usize & (SPAN_SIZE - 1);
        let first = self.first as usize;
        let block = self.block_size as usize;
        if offset < first || !(offset - first).is_multiple_of(block) {
            panic!("kalloc: free of {ptr:p}, which is not the start of a block (foreign pointer)");
        }
        if size > block || !(ptr as usize).is_multiple_of(align.max(1)) {
            panic!(
                "kalloc: free of {ptr:p} with a layout (size {size}, align {align}) \
                 that does not match its {block}-byte block"
            );
        }
        let (word, mask) = self.bit(ptr);
        let old = self.live[word].fetch_and(!mask, Ordering::Relaxed);
        if old & mask == 0 {
            panic!("kalloc: double free of {ptr:p} (or free of a block never allocated)");
        }
        // Poison what the free lists do not use, so a use after free reads
        // garbage loudly rather than stale data quietly.
        let links = core::mem::size_of::<Block>();
        // SAFETY: the block is `block` bytes, ours again since the check
        // above, and nobody else references it.
        unsafe { core::ptr::write_bytes(ptr.add(links), POISON, block - links) };
    }
}

#[cold]
#[inline(never)]
fn foreign_pointer(ptr: *mut u8) -> ! {
    panic!(
        "kalloc: free of {ptr:p}, which kalloc never handed out (foreign pointer: no span header)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_fits_many_blocks_and_keeps_alignment() {
        const { assert!(HEADER_SIZE.is_multiple_of(64) && HEADER_SIZE < 1024) };
        for (class, &size) in CLASS_SIZES.iter().enumerate() {
            let first = HEADER_SIZE.next_multiple_of(class_align(class));
            let size = size as usize;
            let blocks = (SPAN_SIZE - first) / size;
            assert!(blocks >= 30, "class {class}: {blocks} blocks");
            assert_eq!(first % class_align(class), 0);
        }
    }
}

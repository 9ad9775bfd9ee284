//! Free blocks and the intrusive lists made of them.
//!
//! A free block stores the list links in its own first two words, so a
//! list costs no memory beyond the blocks it holds. This is why the smallest
//! size class is 16 bytes.

use core::ptr;

/// The view of a free block: two link words over its first 16 bytes.
#[repr(C)]
pub struct Block {
    /// Next block in the same list.
    pub(crate) next: *mut Block,
    /// In the node layer's stack of whole lists: the head of the next list.
    pub(crate) next_list: *mut Block,
}

impl Block {
    /// A detached block (null links). Used by tests that build blocks by hand.
    pub const fn new() -> Self {
        Self {
            next: ptr::null_mut(),
            next_list: ptr::null_mut(),
        }
    }
}

impl Block {
    /// The next block in this block's list.
    pub fn next(&self) -> *mut Block {
        self.next
    }

    /// Links `next` after this block.
    pub fn set_next(&mut self, next: *mut Block) {
        self.next = next;
    }
}

impl Default for Block {
    fn default() -> Self {
        Self::new()
    }
}

/// A singly linked list with its tail and length, used where lists are
/// spliced onto others (batches of remote frees).
#[derive(Clone, Copy)]
pub(crate) struct List {
    pub(crate) head: *mut Block,
    pub(crate) tail: *mut Block,
    pub(crate) count: u32,
}

impl List {
    pub(crate) const EMPTY: List = List {
        head: ptr::null_mut(),
        tail: ptr::null_mut(),
        count: 0,
    };

    /// Pushes `block` at the front.
    ///
    /// # Safety
    /// `block` points to a free block this list may own (16 writable bytes).
    #[inline]
    pub(crate) unsafe fn push(&mut self, block: *mut Block) {
        // SAFETY: the caller hands us a free block we may write.
        unsafe { (*block).next = self.head };
        if self.head.is_null() {
            self.tail = block;
        }
        self.head = block;
        self.count += 1;
    }

    /// Takes the whole list, leaving it empty.
    #[inline]
    pub(crate) fn take(&mut self) -> List {
        core::mem::replace(self, List::EMPTY)
    }
}

//! Page-table nodes: one 4 KiB table each, owning its children.
//!
//! A [`Node`] is reference counted: a table linked into two parents (a
//! shared segment) lives until the last of them lets it go, and dropping a
//! node frees its frame and, through the `Arc`s, its subtree.
//!
//! Walks read a node's children without a lock and without touching a
//! reference count: each slot of a directory holds a pointer that owns
//! one count of the child's `Arc`, and a child taken out of its slot
//! (only [`Node::drop_empty_child`] does that) is kept until its parent
//! goes, so a `&Node` found by a walk stays valid as long as the parent
//! does. On the fault path this means processors faulting in different
//! regions write no shared cache line on the way down (the lock and the
//! counts they used to write were the same for all of them).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use mm::{CpuMask, MmError, SegmentHat};

use crate::entry::Entry;
use crate::slot::ArcSlot;
use crate::sync::Mutex;
use crate::TablePlatform;

/// Entries per table.
pub const ENTRIES: usize = 512;

/// The processors that ran one address space (its share of every
/// shootdown).
#[derive(Default, Debug)]
pub struct RanSet(pub AtomicU64);

impl RanSet {
    /// The mask now.
    pub fn mask(&self) -> CpuMask {
        self.0.load(Ordering::Acquire)
    }
}

/// One page table.
pub struct Node<P: TablePlatform> {
    /// Physical address of the table.
    pub pa: u64,
    /// 1 = page table (4 KiB entries) .. 4 = PML4.
    pub level: u8,
    /// First virtual address covered.
    pub base: u64,
    /// Child tables by entry (a directory's; none for a page table).
    kids: Box<[ArcSlot<Node<P>>]>,
    /// Serializes changes to `kids`, and keeps the children taken out of
    /// them (by entry index) until this node goes: a walk may still be on
    /// its way through one.
    retired: Mutex<Vec<(usize, Arc<Node<P>>)>>,
    /// When this table is a shared segment: every address space linking
    /// it (their processors get its shootdowns).
    linked_by: Mutex<Vec<Arc<RanSet>>>,
    /// `linked_by.len()`, read without the lock.
    links: AtomicUsize,
    platform: &'static P,
}

/// Bytes one entry of a level-`level` table covers.
pub const fn entry_span(level: u8) -> u64 {
    1 << (12 + 9 * (level as u32 - 1))
}

impl<P: TablePlatform> Node<P> {
    /// A new, empty table at `level` covering `base`.
    pub fn new(platform: &'static P, level: u8, base: u64) -> Result<Arc<Self>, MmError> {
        let pa = platform.alloc_table().ok_or(MmError::OutOfMemory)?;
        let kids = if level > 1 { ENTRIES } else { 0 };
        Ok(Arc::new(Node {
            pa,
            level,
            base,
            kids: (0..kids).map(|_| ArcSlot::empty()).collect(),
            retired: Mutex::new(Vec::new()),
            linked_by: Mutex::new(Vec::new()),
            links: AtomicUsize::new(0),
            platform,
        }))
    }

    /// The table's entries.
    pub fn entries(&self) -> &[AtomicU64; ENTRIES] {
        // SAFETY: the `TablePlatform` contract: `table(pa)` addresses the
        // 512 entries of a frame from `alloc_table`, valid until
        // `free_table`, which only our `Drop` calls.
        unsafe { &*(self.platform.table(self.pa) as *const [AtomicU64; ENTRIES]) }
    }

    /// Entry `i`.
    pub fn entry(&self, i: usize) -> &AtomicU64 {
        &self.entries()[i]
    }

    /// Index of the entry covering `va`.
    pub fn index(&self, va: u64) -> usize {
        ((va / entry_span(self.level)) % ENTRIES as u64) as usize
    }

    /// Bytes this table covers.
    pub fn span(&self) -> u64 {
        entry_span(self.level) * ENTRIES as u64
    }

    /// The child table at `i`, if any: no lock, no reference count.
    pub fn child(&self, i: usize) -> Option<&Node<P>> {
        self.kids.get(i)?.get()
    }

    /// The child table at `i`, counted: for callers that keep it beyond
    /// this node's borrow (a segment handed out or linked elsewhere).
    pub fn child_arc(&self, i: usize) -> Option<Arc<Node<P>>> {
        self.kids.get(i)?.get_arc()
    }

    /// Publishes `n` at slot `i` (with the lock held); fails if the slot
    /// is in use.
    fn publish(&self, i: usize, n: Arc<Node<P>>) -> Result<&Node<P>, MmError> {
        let pa = n.pa;
        let n = self.kids[i]
            .set(n)
            .map_err(|_| MmError::Invalid("range already mapped here"))?;
        self.entry(i).store(Entry::table(pa).0, Ordering::Release);
        Ok(n)
    }

    /// The child table at `i`, made if missing. Fails where entry `i` is a
    /// 2 MiB page.
    pub fn child_or_make(&self, i: usize) -> Result<&Node<P>, MmError> {
        let mut retired = self.retired.lock();
        if let Some(n) = self.child(i) {
            return Ok(n);
        }
        if Entry(self.entry(i).load(Ordering::Acquire)).present() {
            return Err(MmError::Invalid("a 2 MiB page covers that address"));
        }
        // A table this slot had before, if nothing else holds it and it is
        // still empty, comes back instead of a new one.
        let again = retired
            .iter()
            .position(|(at, n)| *at == i && Arc::strong_count(n) == 1 && n.present() == 0);
        let n = match again {
            Some(k) => retired.swap_remove(k).1,
            None => {
                let base = self.base + i as u64 * entry_span(self.level);
                Node::new(self.platform, self.level - 1, base)?
            }
        };
        self.publish(i, n)
    }

    /// Links an existing table at `i` (a shared segment). Fails if the
    /// slot is in use.
    pub fn link(&self, i: usize, n: Arc<Node<P>>) -> Result<(), MmError> {
        let _g = self.retired.lock();
        if self.child(i).is_some() || self.entry(i).load(Ordering::Acquire) != 0 {
            return Err(MmError::Invalid("range already mapped here"));
        }
        self.publish(i, n).map(|_| ())
    }

    /// Removes an empty, unshared child table at `i` (to put a 2 MiB page
    /// there). Fails if it still maps something or is shared.
    pub fn drop_empty_child(&self, i: usize) -> Result<(), MmError> {
        let mut retired = self.retired.lock();
        let Some(n) = self.kids[i].get_arc() else {
            return Ok(());
        };
        // Ours and the slot's: anything more is another holder.
        if n.present() != 0 || Arc::strong_count(&n) > 2 {
            return Err(MmError::Invalid(
                "4 KiB pages are mapped in that 2 MiB range",
            ));
        }
        // The caller shoots the range down after installing the large page
        // (the table held no translations, but paging-structure caches may
        // still hold the table pointer).
        self.entry(i).store(0, Ordering::Release);
        // SAFETY: a walk may still be on its way through the table: it
        // stays in `retired` until this node goes.
        if let Some(taken) = unsafe { self.kids[i].take() } {
            retired.push((i, taken));
        }
        Ok(())
    }

    /// Present entries.
    pub fn present(&self) -> usize {
        self.entries()
            .iter()
            .filter(|e| Entry(e.load(Ordering::Relaxed)).present())
            .count()
    }

    /// Processors of the address spaces linking this table (no lock for
    /// a table no other space links).
    pub fn linked_mask(&self) -> CpuMask {
        if self.links.load(Ordering::Acquire) == 0 {
            return 0;
        }
        self.linked_by.lock().iter().fold(0, |m, r| m | r.mask())
    }

    /// Records the address spaces linking this table: `first` (the one
    /// that made it) if none yet, then `ran`. True if `first` was added.
    pub fn add_links(&self, first: &Arc<RanSet>, ran: Arc<RanSet>) -> bool {
        let mut by = self.linked_by.lock();
        let was_empty = by.is_empty();
        if was_empty {
            by.push(first.clone());
        }
        by.push(ran);
        self.links.store(by.len(), Ordering::Release);
        was_empty
    }

    /// Forgets an address space that linked this table.
    pub fn remove_link(&self, ran: &Arc<RanSet>) {
        let mut by = self.linked_by.lock();
        by.retain(|r| !Arc::ptr_eq(r, ran));
        self.links.store(by.len(), Ordering::Release);
    }
}

impl<P: TablePlatform> Drop for Node<P> {
    fn drop(&mut self) {
        self.platform.free_table(self.pa);
    }
}

impl<P: TablePlatform> SegmentHat for Node<P> {
    fn base(&self) -> u64 {
        self.base
    }
    fn size(&self) -> usize {
        self.span() as usize
    }
    fn is_shared(&self) -> bool {
        self.links.load(Ordering::Acquire) > 1
    }
    fn mapped(&self) -> usize {
        self.present()
    }
}

//! Page-table nodes: one 4 KiB table each, owning its children.
//!
//! A [`Node`] is reference counted: a table linked into two parents (a
//! shared segment) lives until the last of them lets it go, and dropping a
//! node frees its frame and, through the `Arc`s, its subtree.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use mm::{CpuMask, MmError, SegmentHat};

use crate::entry::Entry;
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
    children: Mutex<BTreeMap<usize, Arc<Node<P>>>>,
    /// When this table is a shared segment: every address space linking
    /// it (their processors get its shootdowns).
    pub linked_by: Mutex<Vec<Arc<RanSet>>>,
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
        Ok(Arc::new(Node {
            pa,
            level,
            base,
            children: Mutex::new(BTreeMap::new()),
            linked_by: Mutex::new(Vec::new()),
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

    /// The child table at `i`, if any.
    pub fn child(&self, i: usize) -> Option<Arc<Node<P>>> {
        self.children.lock().get(&i).cloned()
    }

    /// The child table at `i`, made if missing. Fails where entry `i` is a
    /// 2 MiB page.
    pub fn child_or_make(&self, i: usize) -> Result<Arc<Node<P>>, MmError> {
        let mut c = self.children.lock();
        if let Some(n) = c.get(&i) {
            return Ok(n.clone());
        }
        if Entry(self.entry(i).load(Ordering::Acquire)).present() {
            return Err(MmError::Invalid("a 2 MiB page covers that address"));
        }
        let base = self.base + i as u64 * entry_span(self.level);
        let n = Node::new(self.platform, self.level - 1, base)?;
        self.entry(i).store(Entry::table(n.pa).0, Ordering::Release);
        c.insert(i, n.clone());
        Ok(n)
    }

    /// Links an existing table at `i` (a shared segment). Fails if the
    /// slot is in use.
    pub fn link(&self, i: usize, n: Arc<Node<P>>) -> Result<(), MmError> {
        let mut c = self.children.lock();
        if c.contains_key(&i) || self.entry(i).load(Ordering::Acquire) != 0 {
            return Err(MmError::Invalid("range already mapped here"));
        }
        self.entry(i).store(Entry::table(n.pa).0, Ordering::Release);
        c.insert(i, n);
        Ok(())
    }

    /// Removes an empty, unshared child table at `i` (to put a 2 MiB page
    /// there). Fails if it still maps something or is shared.
    pub fn drop_empty_child(&self, i: usize) -> Result<(), MmError> {
        let mut c = self.children.lock();
        let Some(n) = c.get(&i) else {
            return Ok(());
        };
        if n.present() != 0 || Arc::strong_count(n) > 1 {
            return Err(MmError::Invalid(
                "4 KiB pages are mapped in that 2 MiB range",
            ));
        }
        // The caller shoots the range down after installing the large page
        // (the table held no translations, but paging-structure caches may
        // still hold the table pointer).
        self.entry(i).store(0, Ordering::Release);
        c.remove(&i);
        Ok(())
    }

    /// Present entries.
    pub fn present(&self) -> usize {
        self.entries()
            .iter()
            .filter(|e| Entry(e.load(Ordering::Relaxed)).present())
            .count()
    }

    /// Processors of the address spaces linking this table.
    pub fn linked_mask(&self) -> CpuMask {
        self.linked_by.lock().iter().fold(0, |m, r| m | r.mask())
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
        self.linked_by.lock().len() > 1
    }
    fn mapped(&self) -> usize {
        self.present()
    }
}

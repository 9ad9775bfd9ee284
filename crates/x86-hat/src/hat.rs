//! [`X86Hat`]: the HAT of one address space on x86-64 page tables.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::Ordering;

use mm::{
    Access, CpuId, CpuMask, Hat, MmError, Mmu, Pfn, Prot, Pte, Scope, SegmentHat, LARGE_PAGE_SIZE,
    PAGE_SIZE,
};

use crate::entry::Entry;
use crate::node::{Node, RanSet, ENTRIES};
use crate::slot::ArcSlot;
use crate::sync::Mutex;
use crate::TablePlatform;

/// What a top-level (PML4) slot of the user half holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Free,
    /// Translations every processor sees.
    Global,
    /// Processor-specific memory: each processor's PML4 has its own
    /// subtree here.
    PerCpu,
}

/// User-half PML4 slots (the upper 256 belong to the kernel).
const USER_SLOTS: usize = ENTRIES / 2;

/// The HAT of one address space.
///
/// Each processor that runs the space has its own PML4 ([`root`]): its
/// upper half is the kernel's, its user half points to the same
/// page-directory-pointer tables as every other processor's, except in
/// the slots used for processor-specific memory ([`Scope::Cpu`]), where
/// each has its own. A 512 GiB slot holds either kind, never both.
///
/// [`root`]: X86Hat::root
pub struct X86Hat<P: TablePlatform> {
    platform: &'static P,
    /// The shared user half: PDPTs of the global slots.
    master: Arc<Node<P>>,
    /// The PML4 of each processor, made on first use (under `slots`'
    /// lock) and kept until the space goes.
    roots: Box<[ArcSlot<Node<P>>]>,
    slots: Mutex<[Slot; USER_SLOTS]>,
    ran: Arc<RanSet>,
    /// Shared segments listing `ran` (to unlist it when we go).
    shared: Mutex<Vec<Arc<Node<P>>>>,
}

/// A table found by a walk, and the processors of the other address
/// spaces sharing a segment on the way to it.
type Walked<'a, P> = (&'a Node<P>, CpuMask);

/// A leaf entry found by a walk.
struct Leaf<'a, P: TablePlatform> {
    table: &'a Node<P>,
    index: usize,
    large: bool,
    /// Processors of other address spaces sharing a segment on the path.
    others: CpuMask,
}

impl<P: TablePlatform> X86Hat<P> {
    /// An empty address space.
    pub fn new(platform: &'static P) -> Result<Self, MmError> {
        Ok(X86Hat {
            platform,
            master: Node::new(platform, 4, 0)?,
            roots: (0..platform.cpu_count())
                .map(|_| ArcSlot::empty())
                .collect(),
            slots: Mutex::new([Slot::Free; USER_SLOTS]),
            ran: Arc::new(RanSet::default()),
            shared: Mutex::new(Vec::new()),
        })
    }

    /// Physical address of the PML4 processor `cpu` loads into CR3 to run
    /// this space (made on first use).
    pub fn root(&self, cpu: CpuId) -> Result<u64, MmError> {
        Ok(self.root_node(cpu)?.pa)
    }

    /// Processor `cpu`'s PML4, if made.
    fn root_ref(&self, cpu: CpuId) -> Option<&Node<P>> {
        self.roots.get(cpu)?.get()
    }

    fn root_node(&self, cpu: CpuId) -> Result<&Node<P>, MmError> {
        let cell = self
            .roots
            .get(cpu)
            .ok_or(MmError::Invalid("processor outside this HAT"))?;
        if let Some(r) = cell.get() {
            return Ok(r);
        }
        // Roots are made, and global slots filled in, under `slots`' lock.
        let slots = self.slots.lock();
        if let Some(r) = cell.get() {
            return Ok(r);
        }
        let r = Node::new(self.platform, 4, 0)?;
        for (i, s) in slots.iter().enumerate() {
            if *s == Slot::Global {
                let e = self.master.entry(i).load(Ordering::Acquire);
                r.entry(i).store(e, Ordering::Release);
            }
        }
        for i in USER_SLOTS..ENTRIES {
            r.entry(i)
                .store(self.platform.kernel_entry(i), Ordering::Release);
        }
        cell.set(r)
            .map_err(|_| MmError::Invalid("a processor's PML4 made twice"))
    }

    /// The PDPT for `va` in `scope`, made if `create`.
    fn top(&self, scope: Scope, va: u64, create: bool) -> Result<Option<&Node<P>>, MmError> {
        let i = self.master.index(va);
        if va >= mm::USER_END || i >= USER_SLOTS {
            return Err(MmError::BadAddress(va));
        }
        let (top, want) = match scope {
            Scope::All => (&*self.master, Slot::Global),
            Scope::Cpu(c) => (self.root_node(c)?, Slot::PerCpu),
        };
        if let Some(n) = top.child(i) {
            return Ok(Some(n));
        }
        if !create {
            return Ok(None);
        }
        let mut slots = self.slots.lock();
        if slots[i] != Slot::Free && slots[i] != want {
            return Err(MmError::Invalid(
                "processor-specific and shared memory cannot share a 512 GiB slot",
            ));
        }
        let n = top.child_or_make(i)?;
        if want == Slot::Global && slots[i] == Slot::Free {
            let e = self.master.entry(i).load(Ordering::Acquire);
            for r in (0..self.roots.len()).filter_map(|c| self.root_ref(c)) {
                r.entry(i).store(e, Ordering::Release);
            }
        }
        slots[i] = want;
        Ok(Some(n))
    }

    /// The table at `level` (1 = page table, 2 = page directory) covering
    /// `va`, with the processors of other spaces sharing a segment on the
    /// way.
    fn walk(
        &self,
        scope: Scope,
        va: u64,
        level: u8,
        create: bool,
    ) -> Result<Option<Walked<'_, P>>, MmError> {
        let Some(mut n) = self.top(scope, va, create)? else {
            return Ok(None);
        };
        let mut others = 0;
        while n.level > level {
            let i = n.index(va);
            n = match n.child(i) {
                Some(c) => c,
                None if create => n.child_or_make(i)?,
                None => return Ok(None),
            };
            others |= n.linked_mask();
        }
        Ok(Some((n, others)))
    }

    /// The leaf translating `va`: a 2 MiB page in a directory or a 4 KiB
    /// page in a table.
    fn leaf(&self, scope: Scope, va: u64) -> Option<Leaf<'_, P>> {
        let (pd, others) = self.walk(scope, va, 2, false).ok()??;
        let i = pd.index(va);
        if Entry(pd.entry(i).load(Ordering::Acquire)).huge() {
            return Some(Leaf {
                table: pd,
                index: i,
                large: true,
                others,
            });
        }
        let pt = pd.child(i)?;
        let others = others | pt.linked_mask();
        let index = pt.index(va);
        Some(Leaf {
            table: pt,
            index,
            large: false,
            others,
        })
    }

    fn shoot(&self, scope: Scope, others: CpuMask, va: u64, large: bool) {
        let mine = self.ran.mask();
        let mask = match scope {
            Scope::All => mine | others,
            Scope::Cpu(c) => mine & (1 << c),
        };
        if mask != 0 {
            let len = if large { LARGE_PAGE_SIZE } else { PAGE_SIZE };
            self.platform.shootdown(mask, va, len as u64);
        }
    }

    /// Shoots down the page (4 KiB or 2 MiB, as `leaf` maps it) holding
    /// `va`.
    fn shoot_leaf(&self, scope: Scope, leaf: &Leaf<P>, va: u64) {
        let size = if leaf.large {
            LARGE_PAGE_SIZE
        } else {
            PAGE_SIZE
        } as u64;
        self.shoot(scope, leaf.others, va & !(size - 1), leaf.large);
    }

    /// Translates an access by processor `cpu` the way the MMU would:
    /// walks that processor's tables, checks the rights, sets the
    /// accessed and dirty bits. `None` is a page fault. (A software walker
    /// for tests and debuggers; it holds no lock against a concurrent
    /// unmap.)
    pub fn translate(&self, cpu: CpuId, va: u64, access: Access) -> Option<(Pfn, usize)> {
        let root = self.root_ref(cpu)?;
        let mut table = root.pa;
        for level in (1..=4u8).rev() {
            let shift = 12 + 9 * (u32::from(level) - 1);
            let i = ((va >> shift) as usize) % ENTRIES;
            // SAFETY: `table` is a live table of this HAT: the root, or
            // the address read from a present entry of a live table (the
            // walk races only with unmaps, as a hardware walk does).
            let slot = unsafe {
                &*(self.platform.table(table) as *const [core::sync::atomic::AtomicU64; ENTRIES])
            };
            let e = Entry(slot[i].load(Ordering::Acquire));
            if !e.present() {
                return None;
            }
            if level == 1 || (level == 2 && e.huge()) {
                let prot = e.prot();
                if !prot.allows(access) {
                    return None;
                }
                let bits = Entry::ACCESSED
                    | if access == Access::Write {
                        Entry::DIRTY
                    } else {
                        0
                    };
                slot[i].fetch_or(bits, Ordering::AcqRel);
                let inside = va & ((1u64 << shift) - 1);
                let pfn = Pfn(e.pfn(level == 2).0 + inside / PAGE_SIZE as u64);
                return Some((pfn, (inside % PAGE_SIZE as u64) as usize));
            }
            table = e.addr();
        }
        None
    }
}

impl<P: TablePlatform> Drop for X86Hat<P> {
    fn drop(&mut self) {
        for n in self.shared.lock().drain(..) {
            n.remove_link(&self.ran);
        }
    }
}

fn check_align(va: u64, large: bool) -> Result<(), MmError> {
    let size = if large { LARGE_PAGE_SIZE } else { PAGE_SIZE } as u64;
    if !va.is_multiple_of(size) {
        return Err(MmError::Invalid("unaligned mapping"));
    }
    Ok(())
}

impl<P: TablePlatform> Hat for X86Hat<P> {
    fn map(&self, va: u64, pfn: Pfn, prot: Prot, large: bool, scope: Scope) -> Result<(), MmError> {
        check_align(va, large)?;
        if prot == Prot::NONE {
            // Not expressible as a present entry: no translation at all.
            self.unmap(va, scope);
            return Ok(());
        }
        let new = Entry::leaf(pfn, prot, large);
        let (table, others) = self
            .walk(scope, va, if large { 2 } else { 1 }, true)?
            .ok_or(MmError::OutOfMemory)?;
        let i = table.index(va);
        if large {
            table.drop_empty_child(i)?;
        }
        let old = Entry(table.entry(i).swap(new.0, Ordering::AcqRel));
        if old.weakened_by(new) || (large && !old.present()) {
            // (A large page replacing an empty table: flush the cached
            // pointer to that table too.)
            self.shoot(scope, others, va, large);
        }
        Ok(())
    }

    fn unmap(&self, va: u64, scope: Scope) -> Option<Pte> {
        let leaf = self.leaf(scope, va)?;
        let old = Entry(leaf.table.entry(leaf.index).swap(0, Ordering::AcqRel));
        if !old.present() {
            return None;
        }
        self.shoot_leaf(scope, &leaf, va);
        Some(old.to_pte(leaf.large))
    }

    fn protect(&self, va: u64, prot: Prot, scope: Scope) -> bool {
        let Some(leaf) = self.leaf(scope, va) else {
            return false;
        };
        if prot == Prot::NONE {
            return self.unmap(va, scope).is_some();
        }
        let slot = leaf.table.entry(leaf.index);
        let mut cur = slot.load(Ordering::Acquire);
        let (before, after) = loop {
            let e = Entry(cur);
            if !e.present() {
                return false;
            }
            let keep = cur & (Entry::ACCESSED | Entry::DIRTY);
            let new = Entry::leaf(e.pfn(leaf.large), prot, leaf.large).0 | keep;
            match slot.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break (e, Entry(new)),
                Err(now) => cur = now,
            }
        };
        if before.weakened_by(after) {
            self.shoot_leaf(scope, &leaf, va);
        }
        true
    }

    fn query(&self, va: u64, scope: Scope) -> Option<Pte> {
        let leaf = self.leaf(scope, va)?;
        let e = Entry(leaf.table.entry(leaf.index).load(Ordering::Acquire));
        e.present().then(|| e.to_pte(leaf.large))
    }

    fn take_accessed(&self, va: u64, scope: Scope) -> bool {
        let Some(leaf) = self.leaf(scope, va) else {
            return false;
        };
        let was = leaf
            .table
            .entry(leaf.index)
            .fetch_and(!Entry::ACCESSED, Ordering::AcqRel);
        let was = Entry(was).present() && was & Entry::ACCESSED != 0;
        if was {
            // A cached translation would never set the bit again.
            self.shoot_leaf(scope, &leaf, va);
        }
        was
    }

    fn activate(&self, cpu: CpuId) {
        // Read first: the bit is set after the first fault, and a
        // read-modify-write on every fault would bounce the line between
        // the processors running the space.
        if cpu < self.roots.len() && self.ran.mask() & (1 << cpu) == 0 {
            self.ran.0.fetch_or(1 << cpu, Ordering::AcqRel);
        }
    }

    fn ran_on(&self) -> CpuMask {
        self.ran.mask()
    }

    fn segment(&self, va: u64) -> Option<Arc<dyn SegmentHat>> {
        // The leaf's table, counted: a 2 MiB page's directory (from its
        // PDPT) or a page table (from its directory).
        let (pd, _) = self.walk(Scope::All, va, 2, false).ok()??;
        let i = pd.index(va);
        let table = if Entry(pd.entry(i).load(Ordering::Acquire)).huge() {
            let (pdpt, _) = self.walk(Scope::All, va, 3, false).ok()??;
            pdpt.child_arc(pdpt.index(va))?
        } else {
            pd.child_arc(i)?
        };
        Some(table as Arc<dyn SegmentHat>)
    }

    fn share_segment(&self, other: &dyn Hat, base: u64, size: usize) -> Result<(), MmError> {
        let level = match size {
            LARGE_PAGE_SIZE => 1,
            s if s == 1 << 30 => 2,
            _ => return Err(MmError::Invalid("a segment is 2 MiB or 1 GiB")),
        };
        if !base.is_multiple_of(size as u64) {
            return Err(MmError::Invalid("unaligned segment"));
        }
        let other = other
            .as_any()
            .downcast_ref::<X86Hat<P>>()
            .ok_or(MmError::Invalid("not an X86Hat of the same platform"))?;
        if core::ptr::eq(self, other) {
            return Err(MmError::Invalid(
                "a space cannot share a segment with itself",
            ));
        }
        let (holder, _) = other
            .walk(Scope::All, base, level + 1, true)?
            .ok_or(MmError::OutOfMemory)?;
        let i = holder.index(base);
        holder.child_or_make(i)?;
        let seg = holder.child_arc(i).ok_or(MmError::OutOfMemory)?;
        let (parent, _) = self
            .walk(Scope::All, base, level + 1, true)?
            .ok_or(MmError::OutOfMemory)?;
        parent.link(parent.index(base), seg.clone())?;
        if seg.add_links(&other.ran, self.ran.clone()) {
            other.shared.lock().push(seg.clone());
        }
        self.shared.lock().push(seg);
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl<P: TablePlatform> Mmu for X86Hat<P> {
    fn access_with(
        &self,
        cpu: CpuId,
        va: u64,
        access: Access,
        f: &mut dyn FnMut(Pfn, usize),
    ) -> Option<()> {
        // Running here means the space is active on `cpu`.
        if self.ran.mask() & (1 << cpu) == 0 {
            self.activate(cpu);
        }
        self.root_node(cpu).ok()?;
        let (pfn, off) = self.translate(cpu, va, access)?;
        f(pfn, off);
        Some(())
    }
}

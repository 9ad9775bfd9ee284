//! Page-table entries: the x86-64 bit layout behind a typed wrapper.

use mm::{Pfn, Prot, Pte};

/// One 64-bit page-table entry, at any level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry(pub u64);

impl Entry {
    /// Bit 0: the entry is valid.
    pub const PRESENT: u64 = 1 << 0;
    /// Bit 1: stores allowed.
    pub const WRITABLE: u64 = 1 << 1;
    /// Bit 2: user-mode accesses allowed.
    pub const USER: u64 = 1 << 2;
    /// Bit 5: set by the MMU on any access.
    pub const ACCESSED: u64 = 1 << 5;
    /// Bit 6: set by the MMU on a store (leaves only).
    pub const DIRTY: u64 = 1 << 6;
    /// Bit 7 in a page directory: a 2 MiB page rather than a page table.
    pub const HUGE: u64 = 1 << 7;
    /// Bit 63: instruction fetches fault (needs `EFER.NXE`).
    pub const NO_EXECUTE: u64 = 1 << 63;
    /// Bits 12..52: the physical address of a 4 KiB frame or table.
    pub const ADDR: u64 = 0x000f_ffff_ffff_f000;
    /// Bits 21..52: the physical address of a 2 MiB page (bit 12 is PAT there).
    pub const HUGE_ADDR: u64 = 0x000f_ffff_ffe0_0000;

    /// The empty entry.
    pub const EMPTY: Entry = Entry(0);

    /// An entry pointing to a lower-level table. Permissions are granted
    /// in full here and decided by the leaf.
    pub fn table(pa: u64) -> Entry {
        Entry((pa & Self::ADDR) | Self::PRESENT | Self::WRITABLE | Self::USER)
    }

    /// A leaf: `pfn` with `prot`, a 2 MiB page when `large`. x86-64 has
    /// no write-only or execute-only pages: any access right implies read.
    pub fn leaf(pfn: Pfn, prot: Prot, large: bool) -> Entry {
        let mut e = (pfn.0 << 12) | Self::PRESENT | Self::USER;
        if prot.write {
            e |= Self::WRITABLE;
        }
        if !prot.exec {
            e |= Self::NO_EXECUTE;
        }
        if large {
            e |= Self::HUGE;
        }
        Entry(e)
    }

    /// Whether the entry is valid.
    pub fn present(self) -> bool {
        self.0 & Self::PRESENT != 0
    }

    /// Whether a page-directory entry maps a 2 MiB page.
    pub fn huge(self) -> bool {
        self.0 & Self::HUGE != 0
    }

    /// The physical address this entry points to (a table or a 4 KiB frame).
    pub fn addr(self) -> u64 {
        self.0 & Self::ADDR
    }

    /// The first frame of the page a leaf maps.
    pub fn pfn(self, large: bool) -> Pfn {
        let mask = if large { Self::HUGE_ADDR } else { Self::ADDR };
        Pfn((self.0 & mask) >> 12)
    }

    /// The protection a leaf grants.
    pub fn prot(self) -> Prot {
        Prot {
            read: self.present(),
            write: self.0 & Self::WRITABLE != 0,
            exec: self.0 & Self::NO_EXECUTE == 0,
        }
    }

    /// The leaf as the memory objects see it.
    pub fn to_pte(self, large: bool) -> Pte {
        Pte {
            pfn: self.pfn(large),
            prot: self.prot(),
            large,
            accessed: self.0 & Self::ACCESSED != 0,
            dirty: self.0 & Self::DIRTY != 0,
        }
    }

    /// Whether replacing `self` by `new` removes a right a TLB may cache
    /// (or moves the page): then the old translation must be shot down.
    pub fn weakened_by(self, new: Entry) -> bool {
        if !self.present() {
            return false;
        }
        let large = self.huge();
        !new.present()
            || self.pfn(large) != new.pfn(large)
            || (self.0 & Self::WRITABLE != 0 && new.0 & Self::WRITABLE == 0)
            || (self.0 & Self::NO_EXECUTE == 0 && new.0 & Self::NO_EXECUTE != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_bits() {
        let e = Entry::leaf(Pfn(0x1234), Prot::RW, false);
        assert_eq!(
            e.0,
            0x0123_4000 | Entry::PRESENT | Entry::USER | Entry::WRITABLE | Entry::NO_EXECUTE
        );
        assert_eq!(e.pfn(false), Pfn(0x1234));
        assert_eq!(e.prot(), Prot::RW);
        let x = Entry::leaf(Pfn(0x200), Prot::RX, true);
        assert!(x.huge() && x.0 & Entry::NO_EXECUTE == 0 && x.0 & Entry::WRITABLE == 0);
        assert_eq!(x.to_pte(true).pfn, Pfn(0x200));
    }

    #[test]
    fn weakening() {
        let rw = Entry::leaf(Pfn(1), Prot::RW, false);
        assert!(rw.weakened_by(Entry::leaf(Pfn(1), Prot::R, false)));
        assert!(rw.weakened_by(Entry::leaf(Pfn(2), Prot::RW, false)));
        assert!(rw.weakened_by(Entry::EMPTY));
        assert!(!Entry::leaf(Pfn(1), Prot::R, false).weakened_by(rw));
        assert!(!Entry::EMPTY.weakened_by(rw));
    }
}

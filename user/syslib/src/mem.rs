//! The address-space layout of a Linux process, as the library keeps it.
//!
//! The kernel maps anonymous memory where the library says; the library
//! decides where: the program's segments (placed by the kernel's ELF
//! loader, read back from the program headers), the stack, the `brk` heap
//! just above the program, and `mmap` areas allocated top-down from
//! [`MMAP_TOP`]. The library itself sits in [`LIBRARY_BASE`] ..
//! [`LIBRARY_END`], which no program mapping may touch. The list of areas
//! ([`Vma`]) is sorted and never overlaps; it is the library's answer to
//! "may the program pass this pointer" ([`Layout::check`]).

use crate::{page_down, page_up, Errno, Native};

/// Page size.
pub const PAGE: u64 = 4096;
/// Lowest address a mapping may have (Linux's `mmap_min_addr`).
pub const MMAP_MIN: u64 = 0x1_0000;
/// `mmap` areas are allocated downwards from here.
pub const MMAP_TOP: u64 = 0x6e00_0000_0000;
/// Where the library itself is linked (`build.rs`): below 2 GiB, for the
/// small code model; the `brk` heap of a program at the usual 4 MiB can
/// grow to about 1.7 GiB before it meets it (then `malloc` uses `mmap`).
pub const LIBRARY_BASE: u64 = 0x7000_0000;
/// The end of the window kept for the library.
pub const LIBRARY_END: u64 = 0x8000_0000;
/// No mapping of the program reaches the kernel's regions above this
/// (dispatcher pages, PPC pages; the stack is recorded on its own).
pub const USER_MAP_END: u64 = 0x7d00_0000_0000;
/// Room kept for `brk` above its start before `mmap` may allocate there.
pub const BRK_ROOM: u64 = 1 << 30;
/// The top of the initial stack, as the kernel builds it
/// (`kernel::process::STACK_TOP`).
pub const STACK_TOP: u64 = 0x7fff_f000_0000;
/// Its size.
pub const STACK_SIZE: u64 = 1 << 20;
/// At most this many areas (the library has no heap of its own).
pub const MAX_AREAS: usize = 512;

/// `PROT_READ`, `PROT_WRITE`, `PROT_EXEC`.
pub const PROT_READ: u32 = 1;
/// See [`PROT_READ`].
pub const PROT_WRITE: u32 = 2;
/// See [`PROT_READ`].
pub const PROT_EXEC: u32 = 4;

/// What made an area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A segment of the program.
    Program,
    /// The initial stack.
    Stack,
    /// The `brk` heap.
    Heap,
    /// An anonymous `mmap`.
    Anon,
    /// A file's `mmap` (shared or private): memory of the file server,
    /// mapped by the kernel (`map_handle`).
    File,
    /// A shared `mmap` of a file whose description may not write:
    /// `mprotect` may not add `PROT_WRITE` (`EACCES`).
    FileReadOnly,
}

impl Kind {
    /// Whether a file's `mmap` made the area.
    pub fn is_file(self) -> bool {
        matches!(self, Kind::File | Kind::FileReadOnly)
    }
}

/// One mapped area: `[start, end)`, page aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// `PROT_*` bits.
    pub prot: u32,
    /// What made it.
    pub kind: Kind,
}

const EMPTY: Vma = Vma {
    start: 0,
    end: 0,
    prot: 0,
    kind: Kind::Anon,
};

/// What a call will do with a user pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read it.
    Read,
    /// Write it.
    Write,
}

/// Whether `[start, end)` touches the library's window or the kernel's
/// regions: no program mapping may.
pub fn reserved(start: u64, end: u64) -> bool {
    (start < LIBRARY_END && LIBRARY_BASE < end) || end > USER_MAP_END
}

/// The areas of the process and its `brk`.
#[derive(Clone)]
pub struct Layout {
    areas: [Vma; MAX_AREAS],
    len: usize,
    /// Where the heap starts (the page after the program).
    pub brk_start: u64,
    /// The current break (not page aligned).
    pub brk: u64,
}

impl Layout {
    /// No areas yet; the break at `brk_start`.
    pub fn new(brk_start: u64) -> Self {
        let brk_start = page_up(brk_start).unwrap_or(brk_start);
        Layout {
            areas: [EMPTY; MAX_AREAS],
            len: 0,
            brk_start,
            brk: brk_start,
        }
    }

    /// The areas, in address order.
    pub fn areas(&self) -> &[Vma] {
        &self.areas[..self.len]
    }

    /// Records the program's `PT_LOAD` segments from its program headers
    /// at `phdr` (`AT_PHDR`, `AT_PHNUM`: memory the kernel set up).
    pub fn add_program(&mut self, native: &dyn Native, phdr: u64, phnum: u64) -> Result<(), Errno> {
        if phdr == 0 || phnum == 0 || phnum > 256 {
            return Err(Errno::EINVAL);
        }
        let header = |i: u64| {
            let mut h = [0u8; 56];
            native.read(phdr + 56 * i, &mut h);
            let word = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap_or([0; 8]));
            let kind = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            let flags = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
            (kind, flags, word(16), word(40))
        };
        // A static-PIE program is loaded at a bias: AT_PHDR minus PT_PHDR's
        // address.
        let mut bias = 0;
        for i in 0..phnum {
            let (kind, _, vaddr, _) = header(i);
            if kind == 6 {
                bias = phdr.wrapping_sub(vaddr);
            }
        }
        for i in 0..phnum {
            let (kind, flags, vaddr, memsz) = header(i);
            if kind != 1 || memsz == 0 {
                continue;
            }
            let start = page_down(vaddr.wrapping_add(bias));
            let end = vaddr
                .wrapping_add(bias)
                .checked_add(memsz)
                .and_then(page_up)
                .ok_or(Errno::EINVAL)?;
            // ELF flags: X = 1, W = 2, R = 4.
            let prot = (if flags & 4 != 0 { PROT_READ } else { 0 })
                | (if flags & 2 != 0 { PROT_WRITE } else { 0 })
                | (if flags & 1 != 0 { PROT_EXEC } else { 0 });
            // Two segments may share a page: the shared page gets both
            // protections.
            let mut start = start;
            if let Some(last) = self.areas[..self.len]
                .iter_mut()
                .find(|a| a.start < end && start < a.end)
            {
                last.prot |= prot;
                start = last.end;
            }
            if start < end {
                self.insert(Vma {
                    start,
                    end,
                    prot,
                    kind: Kind::Program,
                })?;
            }
        }
        Ok(())
    }

    /// Records the initial stack, which holds `rsp`.
    pub fn add_stack(&mut self, rsp: u64) {
        let (start, end) = if (STACK_TOP - STACK_SIZE..STACK_TOP).contains(&rsp) {
            (STACK_TOP - STACK_SIZE, STACK_TOP)
        } else {
            // Another kernel layout: at least the page of `rsp` and the one
            // above it, where the kernel wrote the arguments.
            (page_down(rsp), page_down(rsp).saturating_add(2 * PAGE))
        };
        let _ = self.insert(Vma {
            start,
            end,
            prot: PROT_READ | PROT_WRITE,
            kind: Kind::Stack,
        });
    }

    /// Inserts an area that overlaps none (`EEXIST` otherwise; `ENOMEM`
    /// when the list is full).
    pub fn insert(&mut self, vma: Vma) -> Result<(), Errno> {
        if self.overlaps(vma.start, vma.end) {
            return Err(Errno::EEXIST);
        }
        if self.len == MAX_AREAS {
            return Err(Errno::ENOMEM);
        }
        let at = self.areas[..self.len].partition_point(|a| a.start < vma.start);
        self.areas.copy_within(at..self.len, at + 1);
        self.areas[at] = vma;
        self.len += 1;
        Ok(())
    }

    /// Whether any area overlaps `[start, end)`.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.areas().iter().any(|a| a.start < end && start < a.end)
    }

    /// Whether `[start, end)` is mapped without a hole.
    pub fn covered(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        for a in self.areas() {
            if a.end <= at {
                continue;
            }
            if a.start > at {
                return false;
            }
            at = a.end;
            if at >= end {
                return true;
            }
        }
        at >= end
    }

    /// May the program let the kernel (here: the library) `access`
    /// `[addr, addr + len)`? `EFAULT` if any byte is unmapped or lacks the
    /// permission.
    pub fn check(&self, addr: u64, len: u64, access: Access) -> Result<(), Errno> {
        if len == 0 {
            return Ok(());
        }
        let end = addr.checked_add(len).ok_or(Errno::EFAULT)?;
        let need = match access {
            Access::Read => PROT_READ,
            Access::Write => PROT_WRITE,
        };
        let mut at = addr;
        for a in self.areas() {
            if a.end <= at {
                continue;
            }
            if a.start > at || a.prot & need == 0 {
                return Err(Errno::EFAULT);
            }
            at = a.end;
            if at >= end {
                return Ok(());
            }
        }
        Err(Errno::EFAULT)
    }

    /// Whether a page fault at `addr` with x86 error code `error` is an
    /// access past the end of a mapped file (SIGBUS, as in Linux): the
    /// page was not present, `addr` is in a file mapping, and the mapping
    /// allows the access (the file server's memory refused the page).
    pub fn past_file_end(&self, addr: u64, error: u64) -> bool {
        let need = if error & (1 << 4) != 0 {
            PROT_EXEC
        } else if error & (1 << 1) != 0 {
            PROT_WRITE
        } else {
            PROT_READ
        };
        error & 1 == 0
            && self
                .areas()
                .iter()
                .any(|a| a.kind.is_file() && a.start <= addr && addr < a.end && a.prot & need != 0)
    }

    /// Makes sure the parts of `[addr, addr + len)` (which [`check`](Self::check)
    /// passed) that lie in file mappings can be accessed, before the
    /// library copies to or from them: the kernel resolves their pages now
    /// ([`Native::probe`]), so a page past the end of a mapped file is
    /// `EFAULT` (as Linux answers) instead of a fault inside the library.
    pub fn probe_files(
        &self,
        native: &dyn Native,
        addr: u64,
        len: u64,
        access: Access,
    ) -> Result<(), Errno> {
        let end = addr.saturating_add(len);
        for a in self.areas().iter().filter(|a| a.kind.is_file()) {
            let (s, e) = (a.start.max(addr), a.end.min(end));
            if s < e {
                native.probe(s, e - s, access == Access::Write)?;
            }
        }
        Ok(())
    }

    /// A free range of `len` bytes for `mmap`, highest first, at `hint`
    /// if that is free.
    pub fn find_free(&self, len: u64, hint: u64) -> Option<u64> {
        let floor = self.brk_start.saturating_add(BRK_ROOM).max(MMAP_MIN);
        if hint != 0 && hint >= MMAP_MIN {
            if let Some(end) = hint.checked_add(len) {
                if end <= MMAP_TOP && !self.overlaps(hint, end) && !reserved(hint, end) {
                    return Some(hint);
                }
            }
        }
        let mut top = MMAP_TOP;
        for a in self.areas().iter().rev() {
            if a.start >= top {
                continue;
            }
            if a.end <= top && top - a.end >= len && top - len >= floor {
                return Some(top - len);
            }
            top = top.min(a.start);
        }
        (top >= floor.saturating_add(len)).then(|| top - len)
    }

    /// Removes `[start, end)` from the areas (splitting those it cuts),
    /// telling `f` each piece that was mapped. `ENOMEM` (and nothing
    /// changed) if a split would overflow the list.
    pub fn remove(&mut self, start: u64, end: u64, mut f: impl FnMut(&Vma)) -> Result<(), Errno> {
        let splits = self
            .areas()
            .iter()
            .filter(|a| a.start < start && end < a.end)
            .count();
        if self.len + splits > MAX_AREAS {
            return Err(Errno::ENOMEM);
        }
        let mut i = 0;
        while i < self.len {
            let a = self.areas[i];
            if a.end <= start || end <= a.start {
                i += 1;
                continue;
            }
            let cut = Vma {
                start: a.start.max(start),
                end: a.end.min(end),
                ..a
            };
            f(&cut);
            let left = (a.start < start).then_some(Vma { end: start, ..a });
            let right = (end < a.end).then_some(Vma { start: end, ..a });
            match (left, right) {
                (Some(l), Some(r)) => {
                    self.areas[i] = l;
                    self.areas.copy_within(i + 1..self.len, i + 2);
                    self.areas[i + 1] = r;
                    self.len += 1;
                    i += 2;
                }
                (Some(l), None) => {
                    self.areas[i] = l;
                    i += 1;
                }
                (None, Some(r)) => {
                    self.areas[i] = r;
                    i += 1;
                }
                (None, None) => {
                    self.areas.copy_within(i + 1..self.len, i);
                    self.len -= 1;
                }
            }
        }
        Ok(())
    }

    /// Gives `[start, end)` (all mapped) protection `prot`, telling `f`
    /// each piece whose protection changes.
    pub fn set_prot(
        &mut self,
        start: u64,
        end: u64,
        prot: u32,
        mut f: impl FnMut(&Vma) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        self.set_prot_dyn(start, end, prot, &mut f)
    }

    fn set_prot_dyn(
        &mut self,
        start: u64,
        end: u64,
        prot: u32,
        f: &mut dyn FnMut(&Vma) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        if !self.covered(start, end) {
            return Err(Errno::ENOMEM);
        }
        // Cut the range out and put it back piece by piece with the new
        // protection, keeping each piece's kind.
        let mut pieces = [EMPTY; 8];
        let mut n = 0;
        let mut overflow = false;
        let snapshot: &[Vma] = self.areas();
        for a in snapshot.iter().filter(|a| a.start < end && start < a.end) {
            if n == pieces.len() {
                overflow = true;
                break;
            }
            pieces[n] = Vma {
                start: a.start.max(start),
                end: a.end.min(end),
                ..*a
            };
            n += 1;
        }
        if overflow {
            // Many small areas: do it in two halves.
            let mid = pieces[4].start;
            self.set_prot_dyn(start, mid, prot, f)?;
            return self.set_prot_dyn(mid, end, prot, f);
        }
        if self.len + 2 > MAX_AREAS {
            return Err(Errno::ENOMEM);
        }
        for p in &pieces[..n] {
            if p.prot != prot {
                f(p)?;
            }
        }
        self.remove(start, end, |_| {})?;
        for p in &pieces[..n] {
            self.insert(Vma { prot, ..*p })?;
        }
        Ok(())
    }
}

//! The kernel's own symbol table, for backtraces with names.
//!
//! QEMU's PVH loader loads only the kernel's `PT_LOAD` segments, so the ELF
//! `.symtab` is not in guest memory. Instead the kernel reserves a
//! fixed-size `.ksyms` section, and `cargo xtask build` writes a compact,
//! demangled, sorted table of function symbols into it after linking. The
//! exception and panic reports look return addresses up here.
//!
//! Format (little endian):
//!
//! ```text
//! magic  "KSYM"          4 bytes
//! count  u32             number of symbols
//! entries[count]         { addr: u64, size: u32, name_off: u32, name_len: u32 } (20 bytes each)
//! names                  UTF-8, not terminated
//! ```
//!
//! Entries are sorted by address. An empty (all-zero) section decodes as
//! "no symbols", so an unpatched kernel still runs and prints raw
//! addresses.
//!
//! # Usage
//!
//! ```
//! let blob = ksyms::build(&[(0x1000, 0x20, "kmain"), (0x1020, 0x10, "idle")]);
//! let table = ksyms::Table::parse(&blob).unwrap();
//! assert_eq!(table.lookup(0x1024), Some(("idle", 4)));
//! assert_eq!(table.lookup(0x1040), None);
//! ```
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(feature = "build", test))]
extern crate alloc;

const MAGIC: &[u8; 4] = b"KSYM";
const ENTRY: usize = 20;

/// A decoded symbol table borrowing its bytes.
#[derive(Clone, Copy, Debug)]
pub struct Table<'a> {
    entries: &'a [u8],
    names: &'a [u8],
    count: usize,
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    (u64::from(u32_at(b, o + 4)) << 32) | u64::from(u32_at(b, o))
}

impl<'a> Table<'a> {
    /// Decodes a table. Returns `None` for an empty or malformed section.
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        if bytes.len() < 8 || &bytes[..4] != MAGIC {
            return None;
        }
        let count = u32_at(bytes, 4) as usize;
        let end = 8usize.checked_add(count.checked_mul(ENTRY)?)?;
        if end > bytes.len() {
            return None;
        }
        let t = Self {
            entries: &bytes[8..end],
            names: &bytes[end..],
            count,
        };
        // Validate every name once so lookups need no checks.
        for i in 0..count {
            let (off, len) = t.name_span(i);
            let name = t.names.get(off..off.checked_add(len)?)?;
            core::str::from_utf8(name).ok()?;
        }
        Some(t)
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn addr(&self, i: usize) -> u64 {
        u64_at(self.entries, i * ENTRY)
    }

    fn size(&self, i: usize) -> u64 {
        u64::from(u32_at(self.entries, i * ENTRY + 8))
    }

    fn name_span(&self, i: usize) -> (usize, usize) {
        (
            u32_at(self.entries, i * ENTRY + 12) as usize,
            u32_at(self.entries, i * ENTRY + 16) as usize,
        )
    }

    fn name(&self, i: usize) -> &'a str {
        let (off, len) = self.name_span(i);
        core::str::from_utf8(&self.names[off..off + len]).unwrap_or("?")
    }

    /// The symbol containing `addr` and the offset into it.
    pub fn lookup(&self, addr: u64) -> Option<(&'a str, u64)> {
        // Last entry with start <= addr.
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.addr(mid) <= addr {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let i = lo.checked_sub(1)?;
        let off = addr - self.addr(i);
        // Size 0 means "unknown": accept a small distance only.
        let size = self.size(i);
        if off < size || (size == 0 && off < 0x1000) {
            Some((self.name(i), off))
        } else {
            None
        }
    }

    /// The address of the symbol called `name`.
    pub fn address_of(&self, name: &str) -> Option<u64> {
        (0..self.count)
            .find(|&i| self.name(i) == name)
            .map(|i| self.addr(i))
    }
}

/// Builds a table from `(address, size, name)`; the input need not be
/// sorted. Hosted only (`build` feature, or tests).
#[cfg(any(feature = "build", test))]
pub fn build(symbols: &[(u64, u64, &str)]) -> alloc::vec::Vec<u8> {
    use alloc::vec::Vec;
    let mut syms: Vec<_> = symbols.to_vec();
    syms.sort_by_key(|s| s.0);
    syms.dedup_by_key(|s| s.0);
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(syms.len() as u32).to_le_bytes());
    let mut names = Vec::new();
    for (addr, size, name) in &syms {
        out.extend_from_slice(&addr.to_le_bytes());
        out.extend_from_slice(&(u32::try_from(*size).unwrap_or(u32::MAX)).to_le_bytes());
        out.extend_from_slice(&(names.len() as u32).to_le_bytes());
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        names.extend_from_slice(name.as_bytes());
    }
    out.extend_from_slice(&names);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_containing_symbol() {
        let blob = build(&[(0x3000, 0x100, "c"), (0x1000, 0x10, "a"), (0x2000, 0, "b")]);
        let t = Table::parse(&blob).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.lookup(0x1000), Some(("a", 0)));
        assert_eq!(t.lookup(0x100f), Some(("a", 0xf)));
        assert_eq!(t.lookup(0x1010), None, "past a sized symbol");
        assert_eq!(t.lookup(0x2abc), Some(("b", 0xabc)), "unsized symbol");
        assert_eq!(t.lookup(0xfff), None);
        assert_eq!(t.lookup(0x30ff), Some(("c", 0xff)));
        assert_eq!(t.address_of("c"), Some(0x3000));
    }

    #[test]
    fn empty_or_corrupt_sections_decode_to_none() {
        assert!(Table::parse(&[0u8; 64]).is_none());
        let mut blob = build(&[(0x1000, 0x10, "a")]);
        blob[4] = 200; // count beyond the data
        assert!(Table::parse(&blob).is_none());
        let mut blob = build(&[(0x1000, 0x10, "ab")]);
        let n = blob.len();
        blob[n - 1] = 0xff; // invalid UTF-8
        assert!(Table::parse(&blob).is_none());
    }
}

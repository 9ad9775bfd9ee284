//! What the loader tells the kernel at boot.
//!
//! K42-rs boots through QEMU's PVH entry: `qemu-system-x86_64 -kernel`
//! finds the `XEN_ELFNOTE_PHYS32_ENTRY` note in the kernel ELF, enters it in
//! 32-bit protected mode and leaves the physical address of an
//! `hvm_start_info` structure in `ebx`. That structure carries the kernel
//! command line, the modules (the `-initrd` file), the ACPI RSDP address and
//! the e820 memory map. This crate decodes it into plain Rust values.
//!
//! The crate never dereferences a physical address itself: the caller gives
//! it a function that maps `(physical address, length)` to bytes (the
//! kernel's identity or direct map; a byte buffer in tests). Every read is
//! bounds-checked, so a garbled start-info block is an [`Error`], not a
//! fault.
//!
//! # Usage
//!
//! ```
//! # let mut mem = vec![0u8; 0x2000];
//! # bootinfo::testing::write_start_info(&mut mem, 0x1000, "console=ttyS0 ktest", &[(0, 0x9fc00, 1), (0x100000, 0x7f00000, 1)]);
//! let read = |pa: u64, len: usize| mem.get(pa as usize..pa as usize + len);
//! let info = bootinfo::StartInfo::parse(0x1000, &read).unwrap();
//! assert!(info.cmdline.has("ktest"));
//! assert_eq!(info.memory.usable().count(), 2);
//! ```
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

use core::fmt;
use zerocopy::{FromBytes, Immutable, KnownLayout};

pub mod cmdline;
pub use cmdline::Cmdline;

/// `hvm_start_info.magic`.
pub const START_INFO_MAGIC: u32 = 0x336e_c578;

/// Most memory-map entries kept; QEMU gives fewer than ten.
pub const MAX_REGIONS: usize = 64;
/// Most boot modules kept.
pub const MAX_MODULES: usize = 4;

/// The raw `hvm_start_info` (Xen `public/arch-x86/hvm/start_info.h`).
#[derive(FromBytes, KnownLayout, Immutable, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawStartInfo {
    /// [`START_INFO_MAGIC`].
    pub magic: u32,
    /// Structure version; 1 adds the memory map.
    pub version: u32,
    /// Flags (unused by us).
    pub flags: u32,
    /// Number of module entries.
    pub nr_modules: u32,
    /// Physical address of the module list.
    pub modlist_paddr: u64,
    /// Physical address of the NUL-terminated command line.
    pub cmdline_paddr: u64,
    /// Physical address of the ACPI RSDP.
    pub rsdp_paddr: u64,
    /// Physical address of the memory map (version 1).
    pub memmap_paddr: u64,
    /// Number of memory-map entries (version 1).
    pub memmap_entries: u32,
    /// Reserved.
    pub reserved: u32,
}

/// One raw module-list entry.
#[derive(FromBytes, KnownLayout, Immutable, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawModule {
    /// Physical start.
    pub paddr: u64,
    /// Size in bytes.
    pub size: u64,
    /// Physical address of its command line, or 0.
    pub cmdline_paddr: u64,
    /// Reserved.
    pub reserved: u64,
}

/// One raw e820 entry.
#[derive(FromBytes, KnownLayout, Immutable, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawMemmapEntry {
    /// Physical start.
    pub addr: u64,
    /// Size in bytes.
    pub size: u64,
    /// e820 type.
    pub kind: u32,
    /// Reserved.
    pub reserved: u32,
}

/// The e820 type of a memory range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// Usable RAM.
    Ram,
    /// Reserved by the firmware.
    Reserved,
    /// ACPI tables; usable once they are read.
    AcpiReclaimable,
    /// ACPI non-volatile storage.
    AcpiNvs,
    /// Bad memory.
    Unusable,
    /// A type this kernel does not know.
    Other(u32),
}

impl RegionKind {
    fn from_e820(kind: u32) -> Self {
        match kind {
            1 => Self::Ram,
            2 => Self::Reserved,
            3 => Self::AcpiReclaimable,
            4 => Self::AcpiNvs,
            5 => Self::Unusable,
            k => Self::Other(k),
        }
    }
}

impl fmt::Display for RegionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ram => f.write_str("usable"),
            Self::Reserved => f.write_str("reserved"),
            Self::AcpiReclaimable => f.write_str("ACPI data"),
            Self::AcpiNvs => f.write_str("ACPI NVS"),
            Self::Unusable => f.write_str("unusable"),
            Self::Other(k) => write!(f, "type {k}"),
        }
    }
}

/// A physical memory range `[start, start + len)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// What it is.
    pub kind: RegionKind,
}

impl Region {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:#012x}-{:#012x}] {:>8} KiB {}",
            self.start,
            self.end().saturating_sub(1),
            self.len / 1024,
            self.kind
        )
    }
}

/// The memory map, in the loader's order.
#[derive(Clone, Copy)]
pub struct MemoryMap {
    regions: [Region; MAX_REGIONS],
    len: usize,
}

impl MemoryMap {
    /// An empty map.
    pub const fn new() -> Self {
        Self {
            regions: [Region {
                start: 0,
                len: 0,
                kind: RegionKind::Reserved,
            }; MAX_REGIONS],
            len: 0,
        }
    }

    /// Adds a region; returns `false` when the map is full.
    pub fn push(&mut self, r: Region) -> bool {
        if self.len == MAX_REGIONS {
            return false;
        }
        self.regions[self.len] = r;
        self.len += 1;
        true
    }

    /// All regions.
    pub fn regions(&self) -> &[Region] {
        &self.regions[..self.len]
    }

    /// The usable RAM regions.
    pub fn usable(&self) -> impl Iterator<Item = &Region> + '_ {
        self.regions().iter().filter(|r| r.kind == RegionKind::Ram)
    }

    /// Bytes of usable RAM.
    pub fn usable_bytes(&self) -> u64 {
        self.usable().map(|r| r.len).sum()
    }

    /// One past the highest usable byte.
    pub fn max_usable(&self) -> u64 {
        self.usable().map(Region::end).max().unwrap_or(0)
    }
}

impl Default for MemoryMap {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.regions()).finish()
    }
}

/// A boot module (QEMU `-initrd`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Module {
    /// Physical start.
    pub start: u64,
    /// Size in bytes.
    pub len: u64,
}

/// The decoded start info.
#[derive(Clone, Copy, Debug)]
pub struct StartInfo<'a> {
    /// Structure version.
    pub version: u32,
    /// The kernel command line.
    pub cmdline: Cmdline<'a>,
    /// Physical address of the ACPI RSDP, if given.
    pub rsdp: Option<u64>,
    /// The memory map.
    pub memory: MemoryMap,
    modules: [Option<Module>; MAX_MODULES],
}

/// Why a start-info block could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The structure at this address is not readable.
    Unreadable(u64),
    /// The magic word is wrong.
    BadMagic(u32),
    /// Version 0 has no memory map, which this kernel requires.
    NoMemoryMap,
    /// The command line is not UTF-8.
    CmdlineNotUtf8,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(pa) => write!(f, "boot information at {pa:#x} is not readable"),
            Self::BadMagic(m) => write!(
                f,
                "boot information has magic {m:#x}, expected {START_INFO_MAGIC:#x}: not booted through PVH?"
            ),
            Self::NoMemoryMap => f.write_str("PVH start info version 0 carries no memory map"),
            Self::CmdlineNotUtf8 => f.write_str("kernel command line is not UTF-8"),
        }
    }
}

fn read_obj<'a, T: FromBytes + KnownLayout + Immutable + Copy>(
    read: &impl Fn(u64, usize) -> Option<&'a [u8]>,
    pa: u64,
) -> Result<T, Error> {
    let bytes = read(pa, core::mem::size_of::<T>()).ok_or(Error::Unreadable(pa))?;
    T::read_from_bytes(bytes).map_err(|_| Error::Unreadable(pa))
}

/// Reads a NUL-terminated string of at most `max` bytes at `pa`.
fn read_cstr<'a>(
    read: &impl Fn(u64, usize) -> Option<&'a [u8]>,
    pa: u64,
    max: usize,
) -> Result<&'a str, Error> {
    // Read byte by byte up to the NUL so we never ask for bytes past the
    // end of readable memory.
    let mut len = 0;
    while len < max {
        let b = read(pa + len as u64, 1).ok_or(Error::Unreadable(pa))?;
        if b[0] == 0 {
            break;
        }
        len += 1;
    }
    let bytes = read(pa, len).ok_or(Error::Unreadable(pa))?;
    core::str::from_utf8(bytes).map_err(|_| Error::CmdlineNotUtf8)
}

impl<'a> StartInfo<'a> {
    /// Decodes the start info at physical address `pa`, reading memory
    /// through `read`.
    pub fn parse(pa: u64, read: &impl Fn(u64, usize) -> Option<&'a [u8]>) -> Result<Self, Error> {
        let raw: RawStartInfo = read_obj(read, pa)?;
        if raw.magic != START_INFO_MAGIC {
            return Err(Error::BadMagic(raw.magic));
        }
        if raw.version < 1 || raw.memmap_paddr == 0 {
            return Err(Error::NoMemoryMap);
        }
        let cmdline = if raw.cmdline_paddr == 0 {
            ""
        } else {
            read_cstr(read, raw.cmdline_paddr, 4096)?
        };
        let mut memory = MemoryMap::new();
        for i in 0..raw.memmap_entries.min(MAX_REGIONS as u32) {
            let e: RawMemmapEntry = read_obj(
                read,
                raw.memmap_paddr + u64::from(i) * core::mem::size_of::<RawMemmapEntry>() as u64,
            )?;
            memory.push(Region {
                start: e.addr,
                len: e.size,
                kind: RegionKind::from_e820(e.kind),
            });
        }
        let mut modules = [None; MAX_MODULES];
        for (i, slot) in modules.iter_mut().enumerate().take(raw.nr_modules as usize) {
            let m: RawModule = read_obj(
                read,
                raw.modlist_paddr + (i * core::mem::size_of::<RawModule>()) as u64,
            )?;
            if m.size != 0 {
                *slot = Some(Module {
                    start: m.paddr,
                    len: m.size,
                });
            }
        }
        Ok(Self {
            version: raw.version,
            cmdline: Cmdline::new(cmdline),
            rsdp: (raw.rsdp_paddr != 0).then_some(raw.rsdp_paddr),
            memory,
            modules,
        })
    }

    /// The boot modules.
    pub fn modules(&self) -> impl Iterator<Item = Module> + '_ {
        self.modules.iter().flatten().copied()
    }
}

/// Builders of start-info blocks for tests and doc examples.
pub mod testing {
    use super::*;
    use zerocopy::IntoBytes;

    #[derive(zerocopy::IntoBytes, Immutable)]
    #[repr(C)]
    struct Raw {
        magic: u32,
        version: u32,
        flags: u32,
        nr_modules: u32,
        modlist_paddr: u64,
        cmdline_paddr: u64,
        rsdp_paddr: u64,
        memmap_paddr: u64,
        memmap_entries: u32,
        reserved: u32,
    }

    /// Writes a version-1 start info at `at` in `mem`, followed by its
    /// command line and memory map (`(start, len, e820 type)` triples).
    pub fn write_start_info(mem: &mut [u8], at: usize, cmdline: &str, map: &[(u64, u64, u32)]) {
        let cmd_at = at + 0x100;
        let map_at = at + 0x400;
        let raw = Raw {
            magic: START_INFO_MAGIC,
            version: 1,
            flags: 0,
            nr_modules: 0,
            modlist_paddr: 0,
            cmdline_paddr: cmd_at as u64,
            rsdp_paddr: 0xe0000,
            memmap_paddr: map_at as u64,
            memmap_entries: map.len() as u32,
            reserved: 0,
        };
        mem[at..at + 56].copy_from_slice(raw.as_bytes());
        mem[cmd_at..cmd_at + cmdline.len()].copy_from_slice(cmdline.as_bytes());
        mem[cmd_at + cmdline.len()] = 0;
        for (i, &(start, len, kind)) in map.iter().enumerate() {
            let o = map_at + i * 24;
            mem[o..o + 8].copy_from_slice(&start.to_le_bytes());
            mem[o + 8..o + 16].copy_from_slice(&len.to_le_bytes());
            mem[o + 16..o + 20].copy_from_slice(&kind.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;

    fn mem_with(cmd: &str, map: &[(u64, u64, u32)]) -> std::vec::Vec<u8> {
        let mut mem = vec![0u8; 0x2000];
        testing::write_start_info(&mut mem, 0x1000, cmd, map);
        mem
    }

    #[test]
    fn decodes_memory_map_and_cmdline() {
        let mem = mem_with(
            "a=1 ktest.start=3",
            &[
                (0, 0x9fc00, 1),
                (0xf0000, 0x10000, 2),
                (0x100000, 0x100000, 1),
            ],
        );
        let read = |pa: u64, len: usize| mem.get(pa as usize..pa as usize + len);
        let info = StartInfo::parse(0x1000, &read).unwrap();
        assert_eq!(info.memory.regions().len(), 3);
        assert_eq!(info.memory.regions()[1].kind, RegionKind::Reserved);
        assert_eq!(info.memory.usable_bytes(), 0x9fc00 + 0x100000);
        assert_eq!(info.memory.max_usable(), 0x200000);
        assert_eq!(info.cmdline.get("ktest.start"), Some("3"));
        assert_eq!(info.rsdp, Some(0xe0000));
        assert_eq!(info.modules().count(), 0);
    }

    #[test]
    fn rejects_bad_magic() {
        let mut mem = mem_with("", &[]);
        mem[0x1000] = 0;
        let read = |pa: u64, len: usize| mem.get(pa as usize..pa as usize + len);
        assert!(matches!(
            StartInfo::parse(0x1000, &read),
            Err(Error::BadMagic(_))
        ));
    }

    #[test]
    fn unreadable_memory_is_an_error_not_a_fault() {
        let mem = mem_with("x", &[(0, 4096, 1)]);
        let read = |pa: u64, len: usize| mem.get(pa as usize..pa as usize + len);
        assert_eq!(
            StartInfo::parse(0x1fe0, &read).unwrap_err(),
            Error::Unreadable(0x1fe0)
        );
        // A memory map pointer past the end of memory.
        let mut bad = mem.clone();
        bad[0x1028..0x1030].copy_from_slice(&0xdead_0000u64.to_le_bytes());
        let read = |pa: u64, len: usize| bad.get(pa as usize..pa as usize + len);
        assert!(matches!(
            StartInfo::parse(0x1000, &read),
            Err(Error::Unreadable(_))
        ));
    }

    #[test]
    fn region_display_is_readable() {
        let r = Region {
            start: 0x100000,
            len: 0x200000,
            kind: RegionKind::Ram,
        };
        assert_eq!(
            std::format!("{r}"),
            "[0x0000100000-0x00002fffff]     2048 KiB usable"
        );
    }
}

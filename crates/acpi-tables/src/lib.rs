//! Just enough ACPI for K42-rs: find the processors, the I/O APICs, the
//! power-off register, the HPET and the NUMA affinity of processors and
//! memory.
//!
//! The `acpi` crate needs nightly (`allocator_api`), and the tables we need
//! are small and fixed, so they are parsed here by hand with `zerocopy`:
//! every structure is a `#[repr(C)]` of unaligned little-endian fields, read
//! with bounds checks and checksum verification. Nothing here dereferences
//! a physical address: the caller passes a function that maps
//! `(physical address, length)` to bytes, so the parser is tested hosted
//! on hand-built tables, and a corrupt table yields an [`Error`].
//!
//! # Usage
//!
//! ```ignore
//! let read = |pa: u64, len: usize| direct_map_slice(pa, len);
//! let acpi = acpi_tables::Acpi::from_rsdp(rsdp_paddr, &read)?;
//! let madt = acpi.madt()?;
//! for cpu in madt.processors() { /* start it */ }
//! ```
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

use core::fmt;
use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

pub mod madt;
pub mod srat;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use madt::{IoApic, Madt, MadtEntry, Processor};
pub use srat::{MemoryAffinity, ProcessorAffinity, Srat};

/// Why ACPI could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Memory at this physical address could not be read.
    Unreadable(u64),
    /// The RSDP signature is wrong.
    BadRsdp,
    /// A checksum does not add up to zero.
    BadChecksum([u8; 4]),
    /// A table is shorter than its own header says it must be.
    Truncated([u8; 4]),
    /// No table with this signature.
    Missing([u8; 4]),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn s(sig: &[u8; 4]) -> &str {
            core::str::from_utf8(sig).unwrap_or("????")
        }
        match self {
            Self::Unreadable(pa) => write!(f, "ACPI memory at {pa:#x} is not readable"),
            Self::BadRsdp => f.write_str("ACPI RSDP signature is wrong"),
            Self::BadChecksum(sig) => write!(f, "ACPI table {} has a bad checksum", s(sig)),
            Self::Truncated(sig) => write!(f, "ACPI table {} is truncated", s(sig)),
            Self::Missing(sig) => write!(f, "ACPI table {} is missing", s(sig)),
        }
    }
}

/// The Root System Description Pointer (ACPI 6.5, 5.2.5.3).
#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct Rsdp {
    /// `"RSD PTR "`.
    pub signature: [u8; 8],
    /// Checksum of the first 20 bytes.
    pub checksum: u8,
    /// OEM id.
    pub oem_id: [u8; 6],
    /// 0 for ACPI 1.0 (RSDT only), 2 for later (XSDT).
    pub revision: u8,
    /// Physical address of the RSDT.
    pub rsdt_address: U32,
}

/// The extended part of an ACPI 2.0+ RSDP.
#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RsdpExt {
    /// The first part.
    pub v1: Rsdp,
    /// Length of the whole structure.
    pub length: U32,
    /// Physical address of the XSDT.
    pub xsdt_address: U64,
    /// Checksum of the whole structure.
    pub extended_checksum: u8,
    /// Reserved.
    pub reserved: [u8; 3],
}

/// The header every System Description Table starts with.
#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct SdtHeader {
    /// Four-letter signature, e.g. `APIC`.
    pub signature: [u8; 4],
    /// Length of the table including this header.
    pub length: U32,
    /// Table revision.
    pub revision: u8,
    /// Makes the table sum to zero.
    pub checksum: u8,
    /// OEM id.
    pub oem_id: [u8; 6],
    /// OEM table id.
    pub oem_table_id: [u8; 8],
    /// OEM revision.
    pub oem_revision: U32,
    /// Creator id.
    pub creator_id: U32,
    /// Creator revision.
    pub creator_revision: U32,
}

/// Size of [`SdtHeader`].
pub const HEADER_LEN: usize = core::mem::size_of::<SdtHeader>();

/// A generic address structure (ACPI 5.2.3.2).
#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct GenericAddress {
    /// 0 = memory, 1 = I/O port.
    pub space_id: u8,
    /// Register width in bits.
    pub bit_width: u8,
    /// Bit offset.
    pub bit_offset: u8,
    /// Access size.
    pub access_size: u8,
    /// The address.
    pub address: U64,
}

/// Reads a little-endian `u32` at `o` (callers check the bounds).
pub(crate) fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// Walks the `(type, length, ...)` sub-tables that MADT and SRAT carry
/// after their fixed part at `first`. A zero or overlong length ends the
/// walk, so a corrupt table cannot loop or read out of bounds.
pub(crate) fn subtables(table: &[u8], first: usize) -> impl Iterator<Item = (u8, &[u8])> {
    let mut off = first;
    core::iter::from_fn(move || {
        let ty = *table.get(off)?;
        let len = *table.get(off + 1)? as usize;
        if len < 2 || off + len > table.len() {
            return None;
        }
        let e = &table[off..off + len];
        off += len;
        Some((ty, e))
    })
}

fn checksum_ok(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b)) == 0
}

/// Most tables remembered from the RSDT/XSDT.
pub const MAX_TABLES: usize = 64;

/// The ACPI tables reachable from the RSDP.
pub struct Acpi<'a, R: Fn(u64, usize) -> Option<&'a [u8]>> {
    read: &'a R,
    tables: [u64; MAX_TABLES],
    count: usize,
    /// The RSDP revision.
    pub revision: u8,
}

impl<'a, R: Fn(u64, usize) -> Option<&'a [u8]>> Acpi<'a, R> {
    /// Reads the RSDP at `rsdp` and the RSDT or XSDT it points to.
    pub fn from_rsdp(rsdp: u64, read: &'a R) -> Result<Self, Error> {
        let v1b = read(rsdp, 20).ok_or(Error::Unreadable(rsdp))?;
        let v1 = Rsdp::read_from_bytes(v1b).map_err(|_| Error::Unreadable(rsdp))?;
        if &v1.signature != b"RSD PTR " {
            return Err(Error::BadRsdp);
        }
        if !checksum_ok(v1b) {
            return Err(Error::BadChecksum(*b"RSDP"));
        }
        let (root, entry_size) = if v1.revision >= 2 {
            let b = read(rsdp, 36).ok_or(Error::Unreadable(rsdp))?;
            let ext = RsdpExt::read_from_bytes(b).map_err(|_| Error::Unreadable(rsdp))?;
            if !checksum_ok(b) {
                return Err(Error::BadChecksum(*b"RSDP"));
            }
            (ext.xsdt_address.get(), 8)
        } else {
            (u64::from(v1.rsdt_address.get()), 4)
        };
        let body = table_bytes(read, root)?;
        let mut acpi = Self {
            read,
            tables: [0; MAX_TABLES],
            count: 0,
            revision: v1.revision,
        };
        for chunk in body[HEADER_LEN..].chunks_exact(entry_size) {
            if acpi.count == MAX_TABLES {
                break;
            }
            let pa = if entry_size == 8 {
                u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]))
            } else {
                u64::from(u32::from_le_bytes(chunk.try_into().unwrap_or([0; 4])))
            };
            acpi.tables[acpi.count] = pa;
            acpi.count += 1;
        }
        Ok(acpi)
    }

    /// The signatures of all tables, in order (unreadable ones skipped).
    pub fn signatures(&self) -> impl Iterator<Item = [u8; 4]> + '_ {
        self.tables[..self.count]
            .iter()
            .filter_map(|&pa| (self.read)(pa, 4))
            .filter_map(|b| b.try_into().ok())
    }

    /// The whole table with signature `sig`, checksum verified.
    pub fn table(&self, sig: &[u8; 4]) -> Result<&'a [u8], Error> {
        for &pa in &self.tables[..self.count] {
            if (self.read)(pa, 4) == Some(&sig[..]) {
                return table_bytes(self.read, pa);
            }
        }
        Err(Error::Missing(*sig))
    }

    /// The MADT (signature `APIC`).
    pub fn madt(&self) -> Result<Madt<'a>, Error> {
        Madt::parse(self.table(b"APIC")?)
    }

    /// The SRAT, if the machine has NUMA information.
    pub fn srat(&self) -> Result<Srat<'a>, Error> {
        Srat::parse(self.table(b"SRAT")?)
    }

    /// The FADT (signature `FACP`).
    pub fn fadt(&self) -> Result<Fadt, Error> {
        Fadt::parse(self.table(b"FACP")?)
    }

    /// The HPET description.
    pub fn hpet(&self) -> Result<Hpet, Error> {
        Hpet::parse(self.table(b"HPET")?)
    }
}

/// Reads a whole table at `pa`: header, then `length` bytes, checksum.
fn table_bytes<'a>(
    read: &impl Fn(u64, usize) -> Option<&'a [u8]>,
    pa: u64,
) -> Result<&'a [u8], Error> {
    let hb = read(pa, HEADER_LEN).ok_or(Error::Unreadable(pa))?;
    let h = SdtHeader::read_from_bytes(hb).map_err(|_| Error::Unreadable(pa))?;
    let len = h.length.get() as usize;
    if len < HEADER_LEN {
        return Err(Error::Truncated(h.signature));
    }
    let all = read(pa, len).ok_or(Error::Unreadable(pa))?;
    if !checksum_ok(all) {
        return Err(Error::BadChecksum(h.signature));
    }
    Ok(all)
}

/// The parts of the FADT the kernel uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fadt {
    /// I/O port of the PM1a control block (power off: write `SLP_EN`).
    pub pm1a_control: u32,
    /// I/O port of the PM timer (3.579545 MHz), or 0.
    pub pm_timer: u32,
}

impl Fadt {
    /// Decodes a FADT.
    pub fn parse(t: &[u8]) -> Result<Self, Error> {
        let word = |o: usize| {
            t.get(o..o + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or(Error::Truncated(*b"FACP"))
        };
        Ok(Self {
            pm1a_control: word(64)?,
            pm_timer: word(76)?,
        })
    }
}

#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
struct RawHpet {
    header: SdtHeader,
    block_id: U32,
    base: GenericAddress,
    number: u8,
    min_tick: U16,
    protection: u8,
}

/// The HPET description table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hpet {
    /// Physical address of the HPET registers.
    pub base: u64,
    /// Minimum periodic tick.
    pub min_tick: u16,
}

impl Hpet {
    /// Decodes an HPET table.
    pub fn parse(t: &[u8]) -> Result<Self, Error> {
        let (raw, _) = RawHpet::read_from_prefix(t).map_err(|_| Error::Truncated(*b"HPET"))?;
        Ok(Self {
            base: raw.base.address.get(),
            min_tick: raw.min_tick.get(),
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::testing::*;
    use super::*;

    #[test]
    fn finds_tables_through_xsdt_and_rsdt() {
        for xsdt in [true, false] {
            let mem = Machine::new(xsdt)
                .madt(
                    &[(0, 0, true), (1, 1, true), (2, 5, false)],
                    &[(0, 0xfec0_0000, 0)],
                )
                .fadt(0x604, 0x608)
                .build();
            let read = |pa: u64, len: usize| mem.read(pa, len);
            let acpi = Acpi::from_rsdp(RSDP_AT, &read).unwrap();
            let sigs: std::vec::Vec<_> = acpi.signatures().collect();
            assert_eq!(sigs, [*b"APIC", *b"FACP"]);
            assert_eq!(acpi.fadt().unwrap().pm1a_control, 0x604);
            assert_eq!(acpi.hpet().unwrap_err(), Error::Missing(*b"HPET"));
            let madt = acpi.madt().unwrap();
            assert_eq!(madt.local_apic_address(), 0xfee0_0000);
            let cpus: std::vec::Vec<_> = madt.processors().collect();
            assert_eq!(cpus.len(), 3);
            assert_eq!(cpus[2].apic_id, 5);
            assert!(!cpus[2].enabled);
            let io: std::vec::Vec<_> = madt.io_apics().collect();
            assert_eq!(io[0].address, 0xfec0_0000);
        }
    }

    #[test]
    fn corrupt_tables_are_errors() {
        let mut m = Machine::new(true).madt(&[(0, 0, true)], &[]).build();
        let madt_at = m.table_at(b"APIC").unwrap();
        m.bytes[madt_at as usize + 40] ^= 0xff;
        let read = |pa: u64, len: usize| m.read(pa, len);
        let acpi = Acpi::from_rsdp(RSDP_AT, &read).unwrap();
        assert_eq!(acpi.madt().unwrap_err(), Error::BadChecksum(*b"APIC"));

        let mut m = Machine::new(true).build();
        m.bytes[RSDP_AT as usize] = b'X';
        let read = |pa: u64, len: usize| m.read(pa, len);
        assert_eq!(Acpi::from_rsdp(RSDP_AT, &read).err(), Some(Error::BadRsdp));
        let read = |_pa: u64, _len: usize| None;
        assert_eq!(
            Acpi::from_rsdp(RSDP_AT, &read).err(),
            Some(Error::Unreadable(RSDP_AT))
        );
    }

    #[test]
    fn truncated_madt_entries_stop_iteration() {
        let mut m = Machine::new(true)
            .madt(&[(0, 0, true), (1, 1, true)], &[])
            .build();
        // Make the second entry claim a length of 0: the walk must stop, not loop.
        let at = m.table_at(b"APIC").unwrap() as usize + HEADER_LEN + 8 + 8 + 1;
        m.bytes[at] = 0;
        m.fix_checksum(b"APIC");
        let read = |pa: u64, len: usize| m.read(pa, len);
        let acpi = Acpi::from_rsdp(RSDP_AT, &read).unwrap();
        assert_eq!(acpi.madt().unwrap().processors().count(), 1);
    }

    #[test]
    fn srat_gives_nodes() {
        let m = Machine::new(true)
            .srat(
                &[(0, 0), (1, 1)],
                &[(0, 0, 0x400_0000), (1, 0x400_0000, 0x400_0000)],
            )
            .build();
        let read = |pa: u64, len: usize| m.read(pa, len);
        let acpi = Acpi::from_rsdp(RSDP_AT, &read).unwrap();
        let srat = acpi.srat().unwrap();
        let p: std::vec::Vec<_> = srat.processors().collect();
        assert_eq!(
            p[1],
            ProcessorAffinity {
                apic_id: 1,
                node: 1,
                enabled: true
            }
        );
        let mem: std::vec::Vec<_> = srat.memory().collect();
        assert_eq!(mem[1].base, 0x400_0000);
        assert_eq!(mem[1].node, 1);
    }
}

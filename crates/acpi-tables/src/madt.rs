//! The Multiple APIC Description Table: processors and interrupt
//! controllers.

use crate::{le32, subtables, Error, HEADER_LEN};

/// One processor's local APIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Processor {
    /// ACPI processor UID.
    pub uid: u32,
    /// Local APIC id (the target of IPIs).
    pub apic_id: u32,
    /// Usable now (bit 0) or can be brought online (bit 1).
    pub enabled: bool,
}

/// An I/O APIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoApic {
    /// Its id.
    pub id: u8,
    /// Physical address of its registers.
    pub address: u32,
    /// First global system interrupt it handles.
    pub gsi_base: u32,
}

/// A decoded MADT entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MadtEntry {
    /// Type 0 or 9.
    Processor(Processor),
    /// Type 1.
    IoApic(IoApic),
    /// Type 2: an ISA IRQ routed to another GSI.
    InterruptOverride {
        /// ISA IRQ.
        source: u8,
        /// Global system interrupt.
        gsi: u32,
        /// MPS INTI flags (polarity, trigger).
        flags: u16,
    },
    /// Type 5: 64-bit local APIC address.
    LapicAddressOverride(u64),
    /// Anything else: type and length.
    Other(u8, u8),
}

/// The MADT.
#[derive(Clone, Copy, Debug)]
pub struct Madt<'a> {
    table: &'a [u8],
}

impl<'a> Madt<'a> {
    /// Wraps a whole, checksummed MADT.
    pub fn parse(table: &'a [u8]) -> Result<Self, Error> {
        if table.len() < HEADER_LEN + 8 {
            return Err(Error::Truncated(*b"APIC"));
        }
        Ok(Self { table })
    }

    /// Physical address of the local APICs, after any override.
    pub fn local_apic_address(&self) -> u64 {
        let mut addr = u64::from(le32(self.table, HEADER_LEN));
        for e in self.entries() {
            if let MadtEntry::LapicAddressOverride(a) = e {
                addr = a;
            }
        }
        addr
    }

    /// Whether legacy 8259 PICs are present (flag bit 0).
    pub fn has_8259(&self) -> bool {
        le32(self.table, HEADER_LEN + 4) & 1 != 0
    }

    /// All entries. A zero or overlong length ends the walk.
    pub fn entries(&self) -> impl Iterator<Item = MadtEntry> + 'a {
        subtables(self.table, HEADER_LEN + 8).map(|(ty, e)| {
            let len = e.len();
            match (ty, len) {
                (0, 8..) => MadtEntry::Processor(Processor {
                    uid: u32::from(e[2]),
                    apic_id: u32::from(e[3]),
                    enabled: le32(e, 4) & 3 != 0,
                }),
                (1, 12..) => MadtEntry::IoApic(IoApic {
                    id: e[2],
                    address: le32(e, 4),
                    gsi_base: le32(e, 8),
                }),
                (2, 10..) => MadtEntry::InterruptOverride {
                    source: e[3],
                    gsi: le32(e, 4),
                    flags: u16::from_le_bytes([e[8], e[9]]),
                },
                (5, 12..) => MadtEntry::LapicAddressOverride(
                    u64::from(le32(e, 4)) | (u64::from(le32(e, 8)) << 32),
                ),
                (9, 16..) => MadtEntry::Processor(Processor {
                    apic_id: le32(e, 4),
                    enabled: le32(e, 8) & 3 != 0,
                    uid: le32(e, 12),
                }),
                _ => MadtEntry::Other(ty, len as u8),
            }
        })
    }

    /// The processors, enabled or not.
    pub fn processors(&self) -> impl Iterator<Item = Processor> + 'a {
        self.entries().filter_map(|e| match e {
            MadtEntry::Processor(p) => Some(p),
            _ => None,
        })
    }

    /// The I/O APICs.
    pub fn io_apics(&self) -> impl Iterator<Item = IoApic> + 'a {
        self.entries().filter_map(|e| match e {
            MadtEntry::IoApic(io) => Some(io),
            _ => None,
        })
    }
}

//! The System Resource Affinity Table: which NUMA node each processor and
//! each memory range belongs to (QEMU: `-numa node,...`).

use crate::{le32, subtables, Error, HEADER_LEN};

/// A processor's node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessorAffinity {
    /// Local APIC id.
    pub apic_id: u32,
    /// Proximity domain.
    pub node: u32,
    /// Entry enabled.
    pub enabled: bool,
}

/// A memory range's node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryAffinity {
    /// Physical start.
    pub base: u64,
    /// Length in bytes.
    pub len: u64,
    /// Proximity domain.
    pub node: u32,
    /// Entry enabled.
    pub enabled: bool,
}

/// The SRAT.
#[derive(Clone, Copy, Debug)]
pub struct Srat<'a> {
    table: &'a [u8],
}

impl<'a> Srat<'a> {
    /// Wraps a whole, checksummed SRAT.
    pub fn parse(table: &'a [u8]) -> Result<Self, Error> {
        if table.len() < HEADER_LEN + 12 {
            return Err(Error::Truncated(*b"SRAT"));
        }
        Ok(Self { table })
    }

    fn entries(&self) -> impl Iterator<Item = (u8, &'a [u8])> + 'a {
        subtables(self.table, HEADER_LEN + 12)
    }

    /// Processor affinities (types 0 and 2).
    pub fn processors(&self) -> impl Iterator<Item = ProcessorAffinity> + 'a {
        self.entries().filter_map(|(ty, e)| match (ty, e.len()) {
            (0, 16..) => Some(ProcessorAffinity {
                apic_id: u32::from(e[3]),
                node: u32::from(e[2])
                    | (u32::from(e[9]) << 8)
                    | (u32::from(e[10]) << 16)
                    | (u32::from(e[11]) << 24),
                enabled: le32(e, 4) & 1 != 0,
            }),
            (2, 24..) => Some(ProcessorAffinity {
                apic_id: le32(e, 8),
                node: le32(e, 4),
                enabled: le32(e, 12) & 1 != 0,
            }),
            _ => None,
        })
    }

    /// Memory affinities (type 1).
    pub fn memory(&self) -> impl Iterator<Item = MemoryAffinity> + 'a {
        self.entries().filter_map(|(ty, e)| match (ty, e.len()) {
            (1, 40..) => Some(MemoryAffinity {
                node: le32(e, 2),
                base: u64::from(le32(e, 8)) | (u64::from(le32(e, 12)) << 32),
                len: u64::from(le32(e, 16)) | (u64::from(le32(e, 20)) << 32),
                enabled: le32(e, 28) & 1 != 0,
            }),
            _ => None,
        })
    }
}

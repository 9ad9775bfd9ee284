//! Hand-built ACPI tables in a fake physical memory, for tests.
extern crate std;
use std::vec;
use std::vec::Vec;

/// Where the builder puts the RSDP.
pub const RSDP_AT: u64 = 0x1000;

/// A fake machine's ACPI tables.
pub struct Machine {
    xsdt: bool,
    tables: Vec<([u8; 4], Vec<u8>)>,
    /// The memory image after [`Machine::build`].
    pub bytes: Vec<u8>,
    at: Vec<([u8; 4], u64)>,
}

fn header(sig: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(sig);
    t.extend_from_slice(&((36 + body.len()) as u32).to_le_bytes());
    t.push(1);
    t.push(0); // checksum
    t.extend_from_slice(b"K42RS ");
    t.extend_from_slice(b"TESTTABL");
    t.extend_from_slice(&[0; 12]);
    t.extend_from_slice(body);
    let sum = t.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    t[9] = 0u8.wrapping_sub(sum);
    t
}

impl Machine {
    /// A machine whose RSDP points at an XSDT (`true`) or RSDT.
    pub fn new(xsdt: bool) -> Self {
        Self {
            xsdt,
            tables: vec![],
            bytes: vec![],
            at: vec![],
        }
    }

    /// Adds a MADT: processors `(uid, apic id, enabled)`, I/O APICs `(id, address, gsi base)`.
    pub fn madt(mut self, cpus: &[(u8, u8, bool)], ioapics: &[(u8, u32, u32)]) -> Self {
        let mut b = Vec::new();
        b.extend_from_slice(&0xfee0_0000u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        for &(uid, id, en) in cpus {
            b.extend_from_slice(&[0, 8, uid, id]);
            b.extend_from_slice(&(en as u32).to_le_bytes());
        }
        for &(id, addr, gsi) in ioapics {
            b.extend_from_slice(&[1, 12, id, 0]);
            b.extend_from_slice(&addr.to_le_bytes());
            b.extend_from_slice(&gsi.to_le_bytes());
        }
        self.tables.push((*b"APIC", b));
        self
    }

    /// Adds a FADT with the PM1a control and PM timer ports.
    pub fn fadt(mut self, pm1a: u32, pmtmr: u32) -> Self {
        let mut b = vec![0u8; 244 - 36];
        b[64 - 36..68 - 36].copy_from_slice(&pm1a.to_le_bytes());
        b[76 - 36..80 - 36].copy_from_slice(&pmtmr.to_le_bytes());
        self.tables.push((*b"FACP", b));
        self
    }

    /// Adds an SRAT: processors `(apic id, node)`, memory `(node, base, len)`.
    pub fn srat(mut self, cpus: &[(u8, u8)], mem: &[(u32, u64, u64)]) -> Self {
        let mut b = vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        for &(id, node) in cpus {
            let mut e = vec![0u8, 16, node, id, 1, 0, 0, 0];
            e.extend_from_slice(&[0; 8]);
            b.extend_from_slice(&e);
        }
        for &(node, base, len) in mem {
            let mut e = vec![1u8, 40];
            e.extend_from_slice(&node.to_le_bytes());
            e.extend_from_slice(&[0, 0]);
            e.extend_from_slice(&(base as u32).to_le_bytes());
            e.extend_from_slice(&((base >> 32) as u32).to_le_bytes());
            e.extend_from_slice(&(len as u32).to_le_bytes());
            e.extend_from_slice(&((len >> 32) as u32).to_le_bytes());
            e.extend_from_slice(&[0; 4]);
            e.extend_from_slice(&1u32.to_le_bytes());
            e.extend_from_slice(&[0; 8]);
            b.extend_from_slice(&e);
        }
        self.tables.push((*b"SRAT", b));
        self
    }

    /// Lays the tables out in memory.
    pub fn build(mut self) -> Self {
        let mut mem = vec![0u8; 0x10000];
        let mut next = 0x2000usize;
        let mut addrs = Vec::new();
        for (sig, body) in &self.tables {
            let t = header(sig, body);
            mem[next..next + t.len()].copy_from_slice(&t);
            addrs.push(next as u64);
            self.at.push((*sig, next as u64));
            next = (next + t.len() + 15) & !15;
        }
        let mut root = Vec::new();
        for a in &addrs {
            if self.xsdt {
                root.extend_from_slice(&a.to_le_bytes());
            } else {
                root.extend_from_slice(&(*a as u32).to_le_bytes());
            }
        }
        let root = header(if self.xsdt { b"XSDT" } else { b"RSDT" }, &root);
        mem[next..next + root.len()].copy_from_slice(&root);
        let mut rsdp = Vec::new();
        rsdp.extend_from_slice(b"RSD PTR ");
        rsdp.push(0);
        rsdp.extend_from_slice(b"K42RS ");
        rsdp.push(if self.xsdt { 2 } else { 0 });
        rsdp.extend_from_slice(&(next as u32).to_le_bytes());
        let s = rsdp.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        rsdp[8] = 0u8.wrapping_sub(s);
        rsdp.extend_from_slice(&36u32.to_le_bytes());
        rsdp.extend_from_slice(&(next as u64).to_le_bytes());
        rsdp.extend_from_slice(&[0, 0, 0, 0]);
        let s = rsdp.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        rsdp[32] = 0u8.wrapping_sub(s);
        mem[RSDP_AT as usize..RSDP_AT as usize + 36].copy_from_slice(&rsdp);
        self.bytes = mem;
        self
    }

    /// Reads fake physical memory.
    pub fn read(&self, pa: u64, len: usize) -> Option<&[u8]> {
        self.bytes.get(pa as usize..pa as usize + len)
    }

    /// Where a table was placed.
    pub fn table_at(&self, sig: &[u8; 4]) -> Option<u64> {
        self.at.iter().find(|(s, _)| s == sig).map(|(_, a)| *a)
    }

    /// Recomputes a table's checksum after a test edited it.
    pub fn fix_checksum(&mut self, sig: &[u8; 4]) {
        let at = self.table_at(sig).unwrap() as usize;
        let len = u32::from_le_bytes(self.bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        self.bytes[at + 9] = 0;
        let s = self.bytes[at..at + len]
            .iter()
            .fold(0u8, |a, b| a.wrapping_add(*b));
        self.bytes[at + 9] = 0u8.wrapping_sub(s);
    }
}

//! Hand-built ELF images for tests, examples and fuzzing (not part of the
//! loader; hidden from the docs).

use alloc::vec::Vec;

use crate::raw::*;
use crate::PAGE_SIZE;

/// A program header to emit.
#[derive(Debug, Clone, Copy)]
pub struct Ph {
    /// `p_type`.
    pub kind: u32,
    /// `p_flags`.
    pub flags: u32,
    /// `p_offset`.
    pub offset: u64,
    /// `p_vaddr`.
    pub vaddr: u64,
    /// `p_filesz`.
    pub filesz: u64,
    /// `p_memsz`.
    pub memsz: u64,
    /// `p_align`.
    pub align: u64,
}

/// Builds an image: a first R segment at `base` holding the headers, then
/// the added segments, each on its own pages.
#[derive(Debug, Clone)]
pub struct Builder {
    /// `e_type`.
    pub kind: u16,
    /// `e_entry`.
    pub entry: u64,
    /// Link address of the header segment.
    pub base: u64,
    /// Loadable segments: (vaddr, flags, data, memsz).
    pub loads: Vec<(u64, u32, Vec<u8>, u64)>,
    /// Other program headers, by address (their offset is found from the loads).
    pub others: Vec<(u32, u32, u64, u64, u64, u64)>,
}

/// `PF_R`, `PF_W`, `PF_X` for building.
pub const R: u32 = PF_R;
/// Writable.
pub const W: u32 = PF_W;
/// Executable.
pub const X: u32 = PF_X;
/// `PT_*` values for building.
pub mod pt {
    #![allow(missing_docs)]
    pub const LOAD: u32 = crate::raw::PT_LOAD;
    pub const DYNAMIC: u32 = crate::raw::PT_DYNAMIC;
    pub const INTERP: u32 = crate::raw::PT_INTERP;
    pub const PHDR: u32 = crate::raw::PT_PHDR;
    pub const TLS: u32 = crate::raw::PT_TLS;
    pub const GNU_STACK: u32 = crate::raw::PT_GNU_STACK;
    pub const GNU_RELRO: u32 = crate::raw::PT_GNU_RELRO;
}

impl Builder {
    /// An empty `ET_EXEC` builder whose header segment is at `base`.
    pub fn new(kind: u16, base: u64) -> Builder {
        Builder {
            kind,
            entry: 0,
            base,
            loads: Vec::new(),
            others: Vec::new(),
        }
    }

    /// Adds a loadable segment.
    pub fn load(mut self, vaddr: u64, flags: u32, data: &[u8], memsz: u64) -> Builder {
        self.loads.push((vaddr, flags, data.to_vec(), memsz));
        self
    }

    /// Adds another program header (`kind`, `flags`, `vaddr`, `filesz`, `memsz`, `align`).
    pub fn other(
        mut self,
        kind: u32,
        flags: u32,
        vaddr: u64,
        filesz: u64,
        memsz: u64,
        align: u64,
    ) -> Builder {
        self.others.push((kind, flags, vaddr, filesz, memsz, align));
        self
    }

    /// Sets the entry point.
    pub fn entry(mut self, entry: u64) -> Builder {
        self.entry = entry;
        self
    }

    /// The program headers and file layout, before serialisation.
    pub fn headers(&self) -> (Vec<Ph>, usize) {
        let phnum = 1 + self.loads.len() + self.others.len();
        let hdr_len = (EHDR_SIZE + phnum * PHDR_SIZE) as u64;
        let mut phs = Vec::new();
        phs.push(Ph {
            kind: PT_LOAD,
            flags: PF_R,
            offset: 0,
            vaddr: self.base,
            filesz: hdr_len,
            memsz: hdr_len,
            align: PAGE_SIZE,
        });
        let mut end = hdr_len;
        for (vaddr, flags, data, memsz) in &self.loads {
            let offset = end.next_multiple_of(PAGE_SIZE) + vaddr % PAGE_SIZE;
            phs.push(Ph {
                kind: PT_LOAD,
                flags: *flags,
                offset,
                vaddr: *vaddr,
                filesz: data.len() as u64,
                memsz: *memsz,
                align: PAGE_SIZE,
            });
            end = offset + data.len() as u64;
        }
        for &(kind, flags, vaddr, filesz, memsz, align) in &self.others {
            let offset = phs
                .iter()
                .find(|p| p.kind == PT_LOAD && vaddr >= p.vaddr && vaddr < p.vaddr + p.memsz.max(1))
                .map_or(0, |p| p.offset + (vaddr - p.vaddr));
            phs.push(Ph {
                kind,
                flags,
                offset,
                vaddr,
                filesz,
                memsz,
                align,
            });
        }
        (phs, end as usize)
    }

    /// Serialises the image.
    pub fn build(&self) -> Vec<u8> {
        let (phs, len) = self.headers();
        let mut out = alloc::vec![0u8; len];
        out[..4].copy_from_slice(&MAGIC);
        out[4] = ELFCLASS64;
        out[5] = ELFDATA2LSB;
        out[6] = EV_CURRENT;
        put16(&mut out, 16, self.kind);
        put16(&mut out, 18, EM_X86_64);
        put32(&mut out, 20, 1);
        put64(&mut out, 24, self.entry);
        put64(&mut out, 32, EHDR_SIZE as u64);
        put16(&mut out, 52, EHDR_SIZE as u16);
        put16(&mut out, 54, PHDR_SIZE as u16);
        put16(&mut out, 56, phs.len() as u16);
        for (i, p) in phs.iter().enumerate() {
            let at = EHDR_SIZE + i * PHDR_SIZE;
            put32(&mut out, at, p.kind);
            put32(&mut out, at + 4, p.flags);
            put64(&mut out, at + 8, p.offset);
            put64(&mut out, at + 16, p.vaddr);
            put64(&mut out, at + 24, p.vaddr);
            put64(&mut out, at + 32, p.filesz);
            put64(&mut out, at + 40, p.memsz);
            put64(&mut out, at + 48, p.align);
        }
        for (ph, (_, _, data, _)) in phs[1..].iter().zip(&self.loads) {
            out[ph.offset as usize..][..data.len()].copy_from_slice(data);
        }
        out
    }
}

/// Little-endian stores into a byte buffer.
pub fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
/// Little-endian store.
pub fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
/// Little-endian store.
pub fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// `ET_EXEC` / `ET_DYN` for building.
pub const EXEC: u16 = ET_EXEC;
/// Position independent.
pub const DYN: u16 = ET_DYN;

/// The smallest valid static image: headers at 0x400000, code (`ud2`) at
/// 0x401000, 0x100 bytes of data + 0x2000 of bss at 0x402000.
pub fn minimal_static_builder() -> Builder {
    Builder::new(ET_EXEC, 0x40_0000)
        .load(0x40_1000, R | X, &[0x0f, 0x0b], 2)
        .load(0x40_2000, R | W, &[0x11; 0x100], 0x2100)
        .other(PT_GNU_STACK, R | W, 0, 0, 0, 16)
        .entry(0x40_1000)
}

/// [`minimal_static_builder`], built.
pub fn minimal_static() -> Vec<u8> {
    minimal_static_builder().build()
}

/// A static-PIE image linked at 0: code at 0x1000, and at 0x2000 a data
/// segment holding (at 0x2000) a dynamic section, (at 0x2100) a RELA table
/// with `n` RELATIVE relocations of the words at 0x2800 + 8 i to 0x1000 + i,
/// and one IRELATIVE.
pub fn static_pie(n: usize) -> Vec<u8> {
    let mut data = alloc::vec![0u8; 0x1000];
    let rela = 0x2100u64;
    let relasz = ((n + 1) * RELA_SIZE) as u64;
    let dynamic = [
        (DT_RELA, rela),
        (DT_RELASZ, relasz),
        (DT_RELAENT, RELA_SIZE as u64),
        (DT_NULL, 0),
    ];
    for (i, (tag, val)) in dynamic.iter().enumerate() {
        put64(&mut data, i * 16, *tag);
        put64(&mut data, i * 16 + 8, *val);
    }
    for i in 0..=n {
        let at = 0x100 + i * RELA_SIZE;
        let (kind, target, addend) = if i < n {
            (R_X86_64_RELATIVE, 0x2800 + 8 * i as u64, 0x1000 + i as u64)
        } else {
            (R_X86_64_IRELATIVE, 0x2ff8, 0x1000)
        };
        put64(&mut data, at, target);
        put64(&mut data, at + 8, u64::from(kind));
        put64(&mut data, at + 16, addend);
    }
    Builder::new(ET_DYN, 0)
        .load(0x1000, R | X, &[0x0f, 0x0b], 2)
        .load(0x2000, R | W, &data, 0x1000)
        .other(PT_DYNAMIC, R | W, 0x2000, 64, 64, 8)
        .other(PT_GNU_STACK, R | W, 0, 0, 0, 16)
        .entry(0x1000)
        .build()
}

/// A static-PIE image with a `DT_RELR` table (address 0x2800, then a
/// bitmap marking 0x2808 and 0x2818) and a TLS template at 0x2200.
pub fn static_pie_relr() -> Vec<u8> {
    let mut data = alloc::vec![0u8; 0x1000];
    let entries = [
        (DT_RELR, 0x2100u64),
        (DT_RELRSZ, 16),
        (DT_RELRENT, 8),
        (DT_NULL, 0),
    ];
    for (i, (t, v)) in entries.iter().enumerate() {
        put64(&mut data, i * 16, *t);
        put64(&mut data, i * 16 + 8, *v);
    }
    put64(&mut data, 0x100, 0x2800);
    put64(&mut data, 0x108, 1 | 1 << 1 | 1 << 3);
    for (i, v) in [0x1000u64, 0x1111, 0, 0x1333].iter().enumerate() {
        put64(&mut data, 0x800 + 8 * i, *v);
    }
    Builder::new(ET_DYN, 0)
        .load(0x1000, R | X, &[0xc3], 1)
        .load(0x2000, R | W, &data, 0x1000)
        .other(PT_DYNAMIC, R | W, 0x2000, 64, 64, 8)
        .other(PT_TLS, R, 0x2200, 0x10, 0x40, 16)
        .other(PT_GNU_RELRO, R, 0x2000, 0x100, 0x100, 1)
        .entry(0x1000)
        .build()
}

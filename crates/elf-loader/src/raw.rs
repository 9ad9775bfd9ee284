//! The four on-disk ELF64 structures the loader reads, as byte-exact views.
//!
//! Every field is a little-endian integer type from `zerocopy`, so the
//! structures have alignment 1 and can be read from any offset of the image
//! without copying, without `unsafe`, and without caring about the host's
//! byte order.

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

/// `Elf64_Ehdr`: the file header at offset 0.
#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub(crate) struct Ehdr {
    pub ident: [u8; 16],
    pub kind: U16,
    pub machine: U16,
    pub version: U32,
    pub entry: U64,
    pub phoff: U64,
    pub shoff: U64,
    pub flags: U32,
    pub ehsize: U16,
    pub phentsize: U16,
    pub phnum: U16,
    pub shentsize: U16,
    pub shnum: U16,
    pub shstrndx: U16,
}

/// `Elf64_Phdr`: one program header.
#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub(crate) struct Phdr {
    pub kind: U32,
    pub flags: U32,
    pub offset: U64,
    pub vaddr: U64,
    pub paddr: U64,
    pub filesz: U64,
    pub memsz: U64,
    pub align: U64,
}

/// `Elf64_Dyn`: one entry of the dynamic section.
#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub(crate) struct Dyn {
    pub tag: U64,
    pub val: U64,
}

/// `Elf64_Rela`: one relocation with explicit addend.
#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub(crate) struct Rela {
    pub offset: U64,
    pub info: U64,
    pub addend: U64,
}

pub(crate) const EHDR_SIZE: usize = core::mem::size_of::<Ehdr>();
pub(crate) const PHDR_SIZE: usize = core::mem::size_of::<Phdr>();
pub(crate) const DYN_SIZE: usize = core::mem::size_of::<Dyn>();
pub(crate) const RELA_SIZE: usize = core::mem::size_of::<Rela>();

const _: () = assert!(EHDR_SIZE == 64 && PHDR_SIZE == 56 && DYN_SIZE == 16 && RELA_SIZE == 24);

// e_ident
pub(crate) const MAGIC: [u8; 4] = [0x7f, b'E', b'L', b'F'];
pub(crate) const ELFCLASS64: u8 = 2;
pub(crate) const ELFDATA2LSB: u8 = 1;
pub(crate) const EV_CURRENT: u8 = 1;
pub(crate) const ELFOSABI_SYSV: u8 = 0;
pub(crate) const ELFOSABI_GNU: u8 = 3;

// e_type, e_machine
pub(crate) const ET_EXEC: u16 = 2;
pub(crate) const ET_DYN: u16 = 3;
pub(crate) const EM_X86_64: u16 = 62;

// p_type
pub(crate) const PT_LOAD: u32 = 1;
pub(crate) const PT_DYNAMIC: u32 = 2;
pub(crate) const PT_INTERP: u32 = 3;
pub(crate) const PT_PHDR: u32 = 6;
pub(crate) const PT_TLS: u32 = 7;
pub(crate) const PT_GNU_STACK: u32 = 0x6474_e551;
pub(crate) const PT_GNU_RELRO: u32 = 0x6474_e552;

// p_flags
pub(crate) const PF_X: u32 = 1;
pub(crate) const PF_W: u32 = 2;
pub(crate) const PF_R: u32 = 4;

// d_tag
pub(crate) const DT_NULL: u64 = 0;
pub(crate) const DT_PLTRELSZ: u64 = 2;
pub(crate) const DT_RELA: u64 = 7;
pub(crate) const DT_RELASZ: u64 = 8;
pub(crate) const DT_RELAENT: u64 = 9;
pub(crate) const DT_REL: u64 = 17;
pub(crate) const DT_RELSZ: u64 = 18;
pub(crate) const DT_PLTREL: u64 = 20;
pub(crate) const DT_TEXTREL: u64 = 22;
pub(crate) const DT_JMPREL: u64 = 23;
pub(crate) const DT_RELRSZ: u64 = 35;
pub(crate) const DT_RELR: u64 = 36;
pub(crate) const DT_RELRENT: u64 = 37;

// r_type (low 32 bits of r_info)
pub(crate) const R_X86_64_NONE: u32 = 0;
pub(crate) const R_X86_64_RELATIVE: u32 = 8;
pub(crate) const R_X86_64_IRELATIVE: u32 = 37;

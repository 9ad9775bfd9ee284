//! The loader's one error type: every way an image can be refused.

use core::fmt;

/// Why an image was refused. Each variant names what is wrong and, where it
/// helps, which program header (index into the program header table) or
/// relocation (index into its table) is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The image is shorter than what had to be read.
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// The first four bytes are not `\x7fELF`.
    BadMagic,
    /// `EI_CLASS` is not ELFCLASS64.
    WrongClass(u8),
    /// `EI_DATA` is not little-endian.
    WrongEndianness(u8),
    /// `EI_VERSION` or `e_version` is not EV_CURRENT.
    WrongVersion,
    /// `EI_OSABI` is neither System V nor GNU/Linux.
    WrongOsAbi(u8),
    /// `e_machine` is not EM_X86_64.
    WrongMachine(u16),
    /// `e_type` is neither ET_EXEC nor ET_DYN (relocatable objects, core files).
    NotExecutable(u16),
    /// A header size field (`e_ehsize`, `e_phentsize`) has the wrong value.
    BadHeaderSize {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u16,
    },
    /// More program headers than the loader accepts.
    TooManyProgramHeaders {
        /// `e_phnum`.
        count: u16,
        /// The limit, [`crate::MAX_PROGRAM_HEADERS`].
        max: u16,
    },
    /// More `PT_LOAD` segments than the loader accepts.
    TooManySegments {
        /// The limit, [`crate::MAX_SEGMENTS`].
        max: usize,
    },
    /// There is no `PT_LOAD` segment at all.
    NoLoadableSegment,
    /// A program header of a kind that may appear once appears twice.
    Duplicate {
        /// The program header kind, e.g. `"PT_TLS"`.
        kind: &'static str,
    },
    /// The image has a `PT_INTERP`: it is dynamically linked and needs a
    /// run-time linker, which this loader does not provide. Link it
    /// `-static` or `-static-pie`.
    DynamicallyLinked,
    /// A segment's file range `[p_offset, p_offset + p_filesz)` is not inside the image.
    SegmentOutsideFile {
        /// Program header index.
        index: usize,
    },
    /// A segment has `p_filesz > p_memsz`.
    FileSizeExceedsMemSize {
        /// Program header index.
        index: usize,
    },
    /// A segment's alignment is not a power of two, or its offset and
    /// address are not congruent modulo the alignment and the page size.
    MisalignedSegment {
        /// Program header index.
        index: usize,
    },
    /// Two `PT_LOAD` segments touch the same page, or are not in ascending
    /// address order as the ELF specification requires.
    OverlappingSegments {
        /// Program header index of the earlier segment.
        first: usize,
        /// Program header index of the later one.
        second: usize,
    },
    /// A segment (after the load bias) is not inside the user address range
    /// of [`crate::LoadOptions`].
    SegmentOutsideUserSpace {
        /// Program header index.
        index: usize,
    },
    /// A segment is both writable and executable and
    /// [`crate::LoadOptions::allow_wx`] is off.
    WritableAndExecutable {
        /// Program header index.
        index: usize,
    },
    /// `PT_GNU_STACK` asks for an executable stack and
    /// [`crate::LoadOptions::allow_executable_stack`] is off.
    ExecutableStack,
    /// The entry point is not inside any executable segment.
    EntryNotExecutable {
        /// `e_entry` (before the load bias).
        entry: u64,
    },
    /// An address or size computation overflowed 64 bits.
    Overflow {
        /// Which computation.
        what: &'static str,
    },
    /// The program headers are not inside a loaded segment, so `AT_PHDR`
    /// cannot point at them.
    ProgramHeadersNotLoaded,
    /// `PT_GNU_RELRO` is not inside a loaded segment.
    RelroNotLoaded,
    /// `PT_TLS` is malformed.
    BadTls {
        /// What is wrong.
        reason: &'static str,
    },
    /// `PT_DYNAMIC` or the tables it points to are malformed.
    BadDynamic {
        /// What is wrong.
        reason: &'static str,
    },
    /// A relocation of a kind this loader does not apply.
    UnsupportedRelocation {
        /// Index of the relocation (`DT_RELA` entries, then `DT_JMPREL` ones).
        index: usize,
        /// `ELF64_R_TYPE(r_info)`.
        kind: u32,
    },
    /// A relocation writes outside every loaded segment.
    RelocationOutsideImage {
        /// Index of the relocation in its table (for `DT_RELR`, the index of the word).
        index: usize,
        /// The target address, before the load bias.
        offset: u64,
    },
    /// The caller's [`crate::Memory`] refused an operation.
    Memory(crate::MemoryError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        match *self {
            Truncated { what } => write!(f, "image truncated: {what} lies past its end"),
            BadMagic => f.write_str("not an ELF file (bad magic)"),
            WrongClass(c) => write!(f, "not a 64-bit ELF file (EI_CLASS {c})"),
            WrongEndianness(d) => write!(f, "not a little-endian ELF file (EI_DATA {d})"),
            WrongVersion => f.write_str("unknown ELF version"),
            WrongOsAbi(a) => write!(f, "unsupported OS ABI {a}"),
            WrongMachine(m) => write!(f, "not an x86-64 executable (e_machine {m})"),
            NotExecutable(t) => write!(f, "not an executable (e_type {t})"),
            BadHeaderSize { field, value } => write!(f, "bad {field} {value}"),
            TooManyProgramHeaders { count, max } => {
                write!(f, "{count} program headers, at most {max} accepted")
            }
            TooManySegments { max } => write!(f, "more than {max} PT_LOAD segments"),
            NoLoadableSegment => f.write_str("no PT_LOAD segment"),
            Duplicate { kind } => write!(f, "more than one {kind}"),
            DynamicallyLinked => f.write_str(
                "dynamically linked executable (PT_INTERP): only static and static-PIE images load",
            ),
            SegmentOutsideFile { index } => {
                write!(f, "program header {index}: segment data outside the file")
            }
            FileSizeExceedsMemSize { index } => {
                write!(
                    f,
                    "program header {index}: file size larger than memory size"
                )
            }
            MisalignedSegment { index } => write!(f, "program header {index}: misaligned segment"),
            OverlappingSegments { first, second } => write!(
                f,
                "program headers {first} and {second}: PT_LOAD segments overlap or are out of order"
            ),
            SegmentOutsideUserSpace { index } => {
                write!(f, "program header {index}: segment outside user space")
            }
            WritableAndExecutable { index } => {
                write!(
                    f,
                    "program header {index}: writable and executable segment (W^X)"
                )
            }
            ExecutableStack => f.write_str("executable stack requested (PT_GNU_STACK) and refused"),
            EntryNotExecutable { entry } => {
                write!(f, "entry point {entry:#x} is not in an executable segment")
            }
            Overflow { what } => write!(f, "integer overflow computing {what}"),
            ProgramHeadersNotLoaded => f.write_str("program headers are not in a loaded segment"),
            RelroNotLoaded => f.write_str("PT_GNU_RELRO outside the loaded segments"),
            BadTls { reason } => write!(f, "bad PT_TLS: {reason}"),
            BadDynamic { reason } => write!(f, "bad dynamic section: {reason}"),
            UnsupportedRelocation { index, kind } => {
                write!(f, "relocation {index}: unsupported type {kind}")
            }
            RelocationOutsideImage { index, offset } => write!(
                f,
                "relocation {index}: target {offset:#x} outside the loaded segments"
            ),
            Memory(e) => write!(f, "memory: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

impl From<crate::MemoryError> for Error {
    fn from(e: crate::MemoryError) -> Self {
        Error::Memory(e)
    }
}

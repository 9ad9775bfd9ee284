//! Header validation and the load plan.

use alloc::vec::Vec;
use core::ops::Range;

use zerocopy::FromBytes;

use crate::error::Error;
use crate::raw::*;
use crate::{LoadOptions, MAX_PROGRAM_HEADERS, MAX_SEGMENTS, PAGE_SIZE};

/// Access rights of a mapped segment (`p_flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prot {
    /// `PF_R`.
    pub read: bool,
    /// `PF_W`.
    pub write: bool,
    /// `PF_X`.
    pub execute: bool,
}

impl Prot {
    fn from_flags(flags: u32) -> Prot {
        Prot {
            read: flags & PF_R != 0,
            write: flags & PF_W != 0,
            execute: flags & PF_X != 0,
        }
    }
}

/// One `PT_LOAD` segment to map, with the load bias already applied.
///
/// The kernel maps the pages `page_start()..page_end()` zero-filled (or backed
/// by the file), fills `vaddr..vaddr + file_size` from
/// `image[file_offset..file_offset + file_size]`, and leaves the rest up to
/// `vaddr + mem_size` zero (the `.bss`). Segments never share a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Index of the program header this segment came from.
    pub index: usize,
    /// First byte in memory (biased).
    pub vaddr: u64,
    /// Bytes in memory (`p_memsz`).
    pub mem_size: u64,
    /// Offset of the segment's data in the image (`p_offset`).
    pub file_offset: u64,
    /// Bytes taken from the image (`p_filesz`, at most `mem_size`).
    pub file_size: u64,
    /// Final protection.
    pub prot: Prot,
    /// `p_align` (0 and 1 mean none).
    pub align: u64,
}

impl Segment {
    /// First page of the segment (page-aligned).
    pub fn page_start(&self) -> u64 {
        self.vaddr & !(PAGE_SIZE - 1)
    }
    /// End of the last page of the segment (page-aligned, exclusive).
    ///
    /// Planning checked that the address arithmetic of its segments cannot
    /// overflow; for a hand-made `Segment` these methods saturate.
    pub fn page_end(&self) -> u64 {
        self.vaddr
            .saturating_add(self.mem_size)
            .checked_next_multiple_of(PAGE_SIZE)
            .unwrap_or(!(PAGE_SIZE - 1))
    }
    /// The segment's bytes in memory.
    pub fn vaddr_range(&self) -> Range<u64> {
        self.vaddr..self.vaddr.saturating_add(self.mem_size)
    }
    /// The segment's data in the image, as an index range.
    pub fn file_range(&self) -> Range<usize> {
        let start = usize::try_from(self.file_offset).unwrap_or(usize::MAX);
        start..start.saturating_add(usize::try_from(self.file_size).unwrap_or(usize::MAX))
    }
}

/// Static (`ET_EXEC`, loaded where linked) or static-PIE (`ET_DYN` without
/// `PT_INTERP`, loaded at a chosen bias and relocated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// `ET_EXEC`: fixed addresses, bias 0.
    Static,
    /// `ET_DYN` without interpreter: position independent.
    StaticPie,
}

/// The `PT_TLS` template for the thread library: each thread's TLS block is
/// `mem_size` bytes aligned to `align`, whose first `file_size` bytes are a
/// copy of the image at `file_offset` (equally: memory at `vaddr`) and the
/// rest zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tls {
    /// Address of the initialisation image in memory (biased).
    pub vaddr: u64,
    /// Offset of the initialisation image in the file.
    pub file_offset: u64,
    /// Bytes of initialised data (`.tdata`).
    pub file_size: u64,
    /// Bytes of the whole block (`.tdata` + `.tbss`).
    pub mem_size: u64,
    /// Alignment of the block (power of two, at least 1).
    pub align: u64,
}

/// The values of the aux vector that come from the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuxImage {
    /// `AT_PHDR`: address of the program headers in memory.
    pub phdr: u64,
    /// `AT_PHENT`: size of one program header (56).
    pub phent: u64,
    /// `AT_PHNUM`: number of program headers.
    pub phnum: u64,
    /// `AT_ENTRY`: the program's entry point.
    pub entry: u64,
    /// `AT_BASE`: load address of the interpreter; 0, as there is none
    /// (static-PIE start-up code finds its own bias from `AT_PHDR`, and Linux
    /// also passes 0 here).
    pub base: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Tables {
    /// File range of the `DT_RELA` table.
    pub rela: Option<(usize, usize)>,
    /// File range of the `DT_JMPREL` table (also `Elf64_Rela`).
    pub jmprel: Option<(usize, usize)>,
    /// File range of the `DT_RELR` table.
    pub relr: Option<(usize, usize)>,
}

/// What the kernel needs to start the image: produced by [`LoadPlan::new`],
/// which has checked everything in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadPlan {
    /// Static or static-PIE.
    pub kind: ImageKind,
    /// Added to every link-time address (0 for [`ImageKind::Static`]).
    pub bias: u64,
    /// Where execution starts (biased).
    pub entry: u64,
    /// The `PT_LOAD` segments, in ascending address order, never sharing a page.
    pub segments: Vec<Segment>,
    /// Values for the aux vector.
    pub aux: AuxImage,
    /// `PT_GNU_STACK` asked for an executable stack. An image without
    /// `PT_GNU_STACK` gets a non-executable stack (every toolchain of the
    /// last fifteen years emits the header).
    pub executable_stack: bool,
    /// The TLS template, if the image has `PT_TLS`.
    pub tls: Option<Tls>,
    /// `PT_GNU_RELRO` (biased): may be made read-only once relocated.
    pub relro: Option<Range<u64>>,
    /// First page after the highest segment: where `brk` starts.
    pub brk_start: u64,
    /// Number of relocations the loader applies (`R_X86_64_RELATIVE` and
    /// `DT_RELR` entries).
    pub relocations: usize,
    /// `R_X86_64_IRELATIVE` relocations: these call resolver code in the
    /// image, so they are left to the program's start-up code (glibc's
    /// `_dl_relocate_static_pie` / `apply_irel`).
    pub deferred_relocations: usize,
    pub(crate) tables: Tables,
    /// Unbiased `(vaddr, mem_size, file_offset, file_size)` of each segment,
    /// used to translate addresses while relocating.
    pub(crate) link_segments: Vec<(u64, u64, u64, u64)>,
}

fn read_at<T: FromBytes + zerocopy::KnownLayout + zerocopy::Immutable + Copy>(
    image: &[u8],
    offset: usize,
    what: &'static str,
) -> Result<T, Error> {
    let bytes = image.get(offset..).ok_or(Error::Truncated { what })?;
    T::read_from_prefix(bytes)
        .map(|(v, _)| v)
        .map_err(|_| Error::Truncated { what })
}

fn add(a: u64, b: u64, what: &'static str) -> Result<u64, Error> {
    a.checked_add(b).ok_or(Error::Overflow { what })
}

/// Checked `align_up` for a power-of-two alignment.
fn align_up(x: u64, align: u64, what: &'static str) -> Result<u64, Error> {
    x.checked_next_multiple_of(align)
        .ok_or(Error::Overflow { what })
}

/// A file range `[offset, offset + size)` converted to `usize` indices inside `len`.
fn file_range(offset: u64, size: u64, len: usize) -> Option<(usize, usize)> {
    let end = offset.checked_add(size)?;
    if end > len as u64 {
        return None;
    }
    Some((offset as usize, end as usize))
}

struct Singles {
    dynamic: Option<Phdr>,
    tls: Option<Phdr>,
    stack: Option<Phdr>,
    phdr: Option<Phdr>,
    relro: Option<Phdr>,
}

fn once(slot: &mut Option<Phdr>, ph: Phdr, kind: &'static str) -> Result<(), Error> {
    if slot.replace(ph).is_some() {
        return Err(Error::Duplicate { kind });
    }
    Ok(())
}

impl LoadPlan {
    /// Validates `image` and works out how to load it.
    ///
    /// Never panics, whatever the bytes; every refusal is an [`Error`]
    /// naming the problem.
    pub fn new(image: &[u8], opts: &LoadOptions) -> Result<LoadPlan, Error> {
        let eh: Ehdr = read_at(image, 0, "ELF header")?;
        check_ident(&eh)?;

        let kind = match eh.kind.get() {
            ET_EXEC => ImageKind::Static,
            ET_DYN => ImageKind::StaticPie,
            other => return Err(Error::NotExecutable(other)),
        };
        if eh.machine.get() != EM_X86_64 {
            return Err(Error::WrongMachine(eh.machine.get()));
        }
        if eh.version.get() != u32::from(EV_CURRENT) {
            return Err(Error::WrongVersion);
        }
        if usize::from(eh.ehsize.get()) != EHDR_SIZE {
            return Err(Error::BadHeaderSize {
                field: "e_ehsize",
                value: eh.ehsize.get(),
            });
        }
        let phnum = eh.phnum.get();
        if phnum == 0 {
            return Err(Error::NoLoadableSegment);
        }
        if phnum > MAX_PROGRAM_HEADERS {
            return Err(Error::TooManyProgramHeaders {
                count: phnum,
                max: MAX_PROGRAM_HEADERS,
            });
        }
        if usize::from(eh.phentsize.get()) != PHDR_SIZE {
            return Err(Error::BadHeaderSize {
                field: "e_phentsize",
                value: eh.phentsize.get(),
            });
        }
        let phoff = eh.phoff.get();
        let ph_bytes = u64::from(phnum) * PHDR_SIZE as u64;
        let (ph_start, _) = file_range(phoff, ph_bytes, image.len()).ok_or(Error::Truncated {
            what: "program headers",
        })?;

        // Pass 1: classify and check each program header on its own.
        let mut loads: Vec<(usize, Phdr)> = Vec::new();
        let mut singles = Singles {
            dynamic: None,
            tls: None,
            stack: None,
            phdr: None,
            relro: None,
        };
        let mut max_align = PAGE_SIZE;
        for index in 0..usize::from(phnum) {
            let ph: Phdr = read_at(image, ph_start + index * PHDR_SIZE, "program headers")?;
            match ph.kind.get() {
                PT_LOAD => {
                    check_load(image, index, &ph, opts)?;
                    if ph.memsz.get() == 0 {
                        continue; // Nothing to map; Linux skips these too.
                    }
                    if loads.len() == MAX_SEGMENTS {
                        return Err(Error::TooManySegments { max: MAX_SEGMENTS });
                    }
                    if let Some((prev_index, prev)) = loads.last() {
                        // Ascending order, and no page shared with the previous one.
                        let prev_end = align_up(
                            prev.vaddr.get() + prev.memsz.get(),
                            PAGE_SIZE,
                            "segment end",
                        )?;
                        if ph.vaddr.get() & !(PAGE_SIZE - 1) < prev_end {
                            return Err(Error::OverlappingSegments {
                                first: *prev_index,
                                second: index,
                            });
                        }
                    }
                    max_align = max_align.max(ph.align.get());
                    loads.push((index, ph));
                }
                PT_INTERP => return Err(Error::DynamicallyLinked),
                PT_DYNAMIC => once(&mut singles.dynamic, ph, "PT_DYNAMIC")?,
                PT_TLS => once(&mut singles.tls, ph, "PT_TLS")?,
                PT_GNU_STACK => once(&mut singles.stack, ph, "PT_GNU_STACK")?,
                PT_PHDR => once(&mut singles.phdr, ph, "PT_PHDR")?,
                PT_GNU_RELRO => once(&mut singles.relro, ph, "PT_GNU_RELRO")?,
                _ => {} // PT_NOTE, PT_GNU_PROPERTY, PT_GNU_EH_FRAME, ...: nothing to do.
            }
        }
        if loads.is_empty() {
            return Err(Error::NoLoadableSegment);
        }

        // The bias: static images load where linked; static-PIE images at
        // the requested base, rounded up to the largest segment alignment.
        let bias = match kind {
            ImageKind::Static => 0,
            ImageKind::StaticPie => {
                let low = loads[0].1.vaddr.get() & !(max_align - 1);
                let base = align_up(opts.pie_base, max_align, "load base")?;
                base.saturating_sub(low)
            }
        };

        let link_segments: Vec<(u64, u64, u64, u64)> = loads
            .iter()
            .map(|(_, ph)| {
                (
                    ph.vaddr.get(),
                    ph.memsz.get(),
                    ph.offset.get(),
                    ph.filesz.get(),
                )
            })
            .collect();
        let mut segments = Vec::with_capacity(loads.len());
        for &(index, ref ph) in &loads {
            let vaddr = add(ph.vaddr.get(), bias, "biased segment address")?;
            let end = add(vaddr, ph.memsz.get(), "biased segment end")?;
            let page_end = align_up(end, PAGE_SIZE, "biased segment end")?;
            if vaddr & !(PAGE_SIZE - 1) < opts.user_start || page_end > opts.user_end {
                return Err(Error::SegmentOutsideUserSpace { index });
            }
            segments.push(Segment {
                index,
                vaddr,
                mem_size: ph.memsz.get(),
                file_offset: ph.offset.get(),
                file_size: ph.filesz.get(),
                prot: Prot::from_flags(ph.flags.get()),
                align: ph.align.get(),
            });
        }
        let brk_start = segments.last().map_or(0, Segment::page_end);

        // Whether a link-time range lies inside one loaded segment's memory.
        let in_memory = |vaddr: u64, size: u64| -> bool {
            vaddr.checked_add(size).is_some_and(|end| {
                link_segments
                    .iter()
                    .any(|&(v, m, _, _)| vaddr >= v && end <= v + m)
            })
        };

        // The entry point must be in an executable segment.
        let entry = eh.entry.get();
        let executable = loads.iter().any(|(_, ph)| {
            ph.flags.get() & PF_X != 0
                && entry >= ph.vaddr.get()
                && entry < ph.vaddr.get() + ph.memsz.get()
        });
        if !executable {
            return Err(Error::EntryNotExecutable { entry });
        }

        // AT_PHDR: from PT_PHDR when present, else from the segment that maps
        // the program header table's file bytes.
        let phdr_link = match singles.phdr {
            Some(ph) => {
                if !in_memory(ph.vaddr.get(), ph_bytes) {
                    return Err(Error::ProgramHeadersNotLoaded);
                }
                ph.vaddr.get()
            }
            None => link_segments
                .iter()
                .find(|&&(_, _, off, filesz)| phoff >= off && phoff + ph_bytes <= off + filesz)
                .map(|&(v, _, off, _)| v + (phoff - off))
                .ok_or(Error::ProgramHeadersNotLoaded)?,
        };

        let tls = match singles.tls {
            None => None,
            Some(ph) => Some(check_tls(image, &ph, bias, &in_memory)?),
        };

        let executable_stack = singles.stack.is_some_and(|ph| ph.flags.get() & PF_X != 0);
        if executable_stack && !opts.allow_executable_stack {
            return Err(Error::ExecutableStack);
        }

        let relro = match singles.relro {
            None => None,
            Some(ph) => {
                if !in_memory(ph.vaddr.get(), ph.memsz.get()) {
                    return Err(Error::RelroNotLoaded);
                }
                let start = ph.vaddr.get() + bias;
                Some(start..start + ph.memsz.get())
            }
        };

        let mut plan = LoadPlan {
            kind,
            bias,
            entry: entry + bias,
            segments,
            aux: AuxImage {
                phdr: phdr_link + bias,
                phent: PHDR_SIZE as u64,
                phnum: u64::from(phnum),
                entry: entry + bias,
                base: 0,
            },
            executable_stack,
            tls,
            relro,
            brk_start,
            relocations: 0,
            deferred_relocations: 0,
            tables: Tables::default(),
            link_segments,
        };

        // Relocations: only static-PIE images are relocated.
        if kind == ImageKind::StaticPie {
            if let Some(dynamic) = singles.dynamic {
                plan.tables = crate::reloc::find_tables(image, &dynamic, &plan.link_segments)?;
                let (applied, deferred) = crate::reloc::validate(image, &plan)?;
                plan.relocations = applied;
                plan.deferred_relocations = deferred;
            }
        }
        Ok(plan)
    }

    /// Link-time address to file offset, if the address lies in a segment's
    /// file-backed part: `Some(Ok(offset))`; `Some(Err(()))` if it lies in a
    /// segment's zero-filled part; `None` if in no segment.
    pub(crate) fn file_offset_of(&self, vaddr: u64) -> Option<Result<u64, ()>> {
        self.link_segments.iter().find_map(|&(v, m, off, filesz)| {
            if vaddr < v || vaddr - v >= m {
                return None;
            }
            let delta = vaddr - v;
            Some(if delta < filesz {
                Ok(off + delta)
            } else {
                Err(())
            })
        })
    }
}

fn check_ident(eh: &Ehdr) -> Result<(), Error> {
    let id = &eh.ident;
    if id[..4] != MAGIC {
        return Err(Error::BadMagic);
    }
    if id[4] != ELFCLASS64 {
        return Err(Error::WrongClass(id[4]));
    }
    if id[5] != ELFDATA2LSB {
        return Err(Error::WrongEndianness(id[5]));
    }
    if id[6] != EV_CURRENT {
        return Err(Error::WrongVersion);
    }
    if id[7] != ELFOSABI_SYSV && id[7] != ELFOSABI_GNU {
        return Err(Error::WrongOsAbi(id[7]));
    }
    Ok(())
}

fn check_load(image: &[u8], index: usize, ph: &Phdr, opts: &LoadOptions) -> Result<(), Error> {
    let (offset, vaddr, filesz, memsz, align) = (
        ph.offset.get(),
        ph.vaddr.get(),
        ph.filesz.get(),
        ph.memsz.get(),
        ph.align.get(),
    );
    if file_range(offset, filesz, image.len()).is_none() {
        return Err(Error::SegmentOutsideFile { index });
    }
    if filesz > memsz {
        return Err(Error::FileSizeExceedsMemSize { index });
    }
    add(vaddr, memsz, "segment end")?;
    align_up(vaddr + memsz, PAGE_SIZE, "segment end")?;
    if align > 1 && (!align.is_power_of_two() || offset % align != vaddr % align) {
        return Err(Error::MisalignedSegment { index });
    }
    // Whatever p_align says, file pages can only be mapped if offset and
    // address agree within the page.
    if offset % PAGE_SIZE != vaddr % PAGE_SIZE {
        return Err(Error::MisalignedSegment { index });
    }
    let flags = ph.flags.get();
    if flags & PF_W != 0 && flags & PF_X != 0 && !opts.allow_wx {
        return Err(Error::WritableAndExecutable { index });
    }
    Ok(())
}

fn check_tls(
    image: &[u8],
    ph: &Phdr,
    bias: u64,
    in_memory: &dyn Fn(u64, u64) -> bool,
) -> Result<Tls, Error> {
    let (offset, vaddr, filesz, memsz, align) = (
        ph.offset.get(),
        ph.vaddr.get(),
        ph.filesz.get(),
        ph.memsz.get(),
        ph.align.get(),
    );
    if filesz > memsz {
        return Err(Error::BadTls {
            reason: "file size larger than memory size",
        });
    }
    if file_range(offset, filesz, image.len()).is_none() {
        return Err(Error::BadTls {
            reason: "template outside the file",
        });
    }
    if align > 1 && !align.is_power_of_two() {
        return Err(Error::BadTls {
            reason: "alignment not a power of two",
        });
    }
    // Per-thread blocks are sized `mem_size` rounded to `align`: make sure
    // that fits in the address space.
    let align = align.max(1);
    align_up(memsz, align, "TLS block size")?;
    if filesz > 0 && !in_memory(vaddr, filesz) {
        return Err(Error::BadTls {
            reason: "template not inside a loaded segment",
        });
    }
    Ok(Tls {
        vaddr: add(vaddr, bias, "TLS template address")?,
        file_offset: offset,
        file_size: filesz,
        mem_size: memsz,
        align,
    })
}

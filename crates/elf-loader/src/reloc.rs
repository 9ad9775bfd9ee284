//! Static-PIE relocation: finding the tables through `PT_DYNAMIC`, checking
//! every entry, and applying `R_X86_64_RELATIVE` and `DT_RELR` entries.
//!
//! Static-PIE start-up code (glibc's `_dl_relocate_static_pie`, musl's
//! `rcrt1.o`) relocates itself as well; RELA relative relocations carry
//! their addend, so applying them twice is harmless. Applying them in the
//! loader means a program's data is correct from its first instruction, and
//! lets a kernel load position-independent code that has no such start-up.

use zerocopy::FromBytes;

use crate::error::Error;
use crate::plan::{LoadPlan, Tables};
use crate::raw::*;
use crate::Memory;

/// One relocation to apply: write `value` (8 bytes, little-endian) at `vaddr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relocation {
    /// Biased address of the 8-byte word to write.
    pub vaddr: u64,
    /// The value to write there.
    pub value: u64,
}

/// One entry met while walking the tables.
enum Entry {
    /// A `DT_RELA` entry.
    Rela {
        index: usize,
        offset: u64,
        kind: u32,
        addend: u64,
    },
    /// A location named by `DT_RELR` (implicit addend: the word already there).
    Relr { index: usize, offset: u64 },
}

/// Finds the `DT_RELA` and `DT_RELR` tables of a static-PIE image.
pub(crate) fn find_tables(
    image: &[u8],
    dynamic: &Phdr,
    segments: &[(u64, u64, u64, u64)],
) -> Result<Tables, Error> {
    let bad = |reason| Error::BadDynamic { reason };
    let start =
        usize::try_from(dynamic.offset.get()).map_err(|_| bad("PT_DYNAMIC outside the file"))?;
    let size =
        usize::try_from(dynamic.filesz.get()).map_err(|_| bad("PT_DYNAMIC outside the file"))?;
    let end = start
        .checked_add(size)
        .ok_or(bad("PT_DYNAMIC outside the file"))?;
    let bytes = image
        .get(start..end)
        .ok_or(bad("PT_DYNAMIC outside the file"))?;

    let (mut rela, mut relasz, mut relaent) = (None, None, None);
    let (mut relr, mut relrsz, mut relrent) = (None, None, None);
    let (mut jmprel, mut pltrelsz, mut pltrel) = (None, None, None);
    let mut terminated = false;
    for chunk in bytes.chunks_exact(DYN_SIZE) {
        let d = Dyn::read_from_bytes(chunk).map_err(|_| bad("truncated entry"))?;
        let val = Some(d.val.get());
        match d.tag.get() {
            DT_NULL => {
                terminated = true;
                break;
            }
            DT_RELA => rela = val,
            DT_RELASZ => relasz = val,
            DT_RELAENT => relaent = val,
            DT_JMPREL => jmprel = val,
            DT_PLTRELSZ => pltrelsz = val,
            DT_PLTREL => pltrel = val,
            DT_RELR => relr = val,
            DT_RELRSZ => relrsz = val,
            DT_RELRENT => relrent = val,
            DT_REL | DT_RELSZ if d.val.get() != 0 => {
                return Err(bad("DT_REL tables are not used on x86-64"))
            }
            DT_TEXTREL => {} // Fine: relocations are written before protections apply.
            _ => {}
        }
    }
    if !terminated {
        return Err(bad("no DT_NULL terminator"));
    }

    let table = |addr: Option<u64>,
                 size: Option<u64>,
                 ent: Option<u64>,
                 want: usize,
                 name: &'static str|
     -> Result<Option<(usize, usize)>, Error> {
        let (addr, size) = match (addr, size) {
            (None, None) => return Ok(None),
            (Some(a), Some(s)) => (a, s),
            _ => return Err(bad(name)),
        };
        if ent.is_some_and(|e| e != want as u64) || size % want as u64 != 0 {
            return Err(bad(name));
        }
        // The whole table must lie in the file-backed part of one segment.
        let end = addr.checked_add(size).ok_or(bad(name))?;
        let &(v, _, off, _) = segments
            .iter()
            .find(|&&(v, _, _, filesz)| addr >= v && end <= v + filesz)
            .ok_or(bad(name))?;
        let start = off + (addr - v);
        // Inside a validated segment, hence inside the image.
        Ok(Some((start as usize, (start + size) as usize)))
    };
    if jmprel.is_some() && pltrel != Some(DT_RELA) {
        return Err(bad("DT_PLTREL is not DT_RELA"));
    }
    Ok(Tables {
        rela: table(rela, relasz, relaent, RELA_SIZE, "bad DT_RELA table")?,
        jmprel: table(jmprel, pltrelsz, None, RELA_SIZE, "bad DT_JMPREL table")?,
        relr: table(relr, relrsz, relrent, 8, "bad DT_RELR table")?,
    })
}

/// Walks every entry of the plan's tables in order.
fn walk(
    image: &[u8],
    tables: &Tables,
    mut f: impl FnMut(Entry) -> Result<(), Error>,
) -> Result<(), Error> {
    let table = |range: (usize, usize)| {
        image.get(range.0..range.1).ok_or(Error::Truncated {
            what: "relocation table",
        })
    };
    // DT_RELA then DT_JMPREL, numbered as one sequence.
    let mut index = 0;
    for range in [tables.rela, tables.jmprel].into_iter().flatten() {
        for chunk in table(range)?.chunks_exact(RELA_SIZE) {
            let r = Rela::read_from_bytes(chunk)
                .map_err(|_| Error::Truncated { what: "relocation" })?;
            f(Entry::Rela {
                index,
                offset: r.offset.get(),
                kind: r.info.get() as u32,
                addend: r.addend.get(),
            })?;
            index += 1;
        }
    }
    if let Some(range) = tables.relr {
        let overflow = Error::Overflow {
            what: "DT_RELR address",
        };
        let mut next: Option<u64> = None;
        for (index, chunk) in table(range)?.chunks_exact(8).enumerate() {
            let word =
                u64::read_from_bytes(chunk).map_err(|_| Error::Truncated { what: "DT_RELR" })?;
            let word = u64::from_le(word);
            if word & 1 == 0 {
                f(Entry::Relr {
                    index,
                    offset: word,
                })?;
                next = Some(word.checked_add(8).ok_or(overflow)?);
            } else {
                let base = next.ok_or(Error::BadDynamic {
                    reason: "DT_RELR bitmap before an address",
                })?;
                for bit in 0..63u64 {
                    if word >> (bit + 1) & 1 != 0 {
                        f(Entry::Relr {
                            index,
                            offset: base.checked_add(bit * 8).ok_or(overflow)?,
                        })?;
                    }
                }
                next = Some(base.checked_add(63 * 8).ok_or(overflow)?);
            }
        }
    }
    Ok(())
}

/// Checks every relocation; returns (applied, deferred) counts.
pub(crate) fn validate(image: &[u8], plan: &LoadPlan) -> Result<(usize, usize), Error> {
    let (mut applied, mut deferred) = (0, 0);
    let inside = |offset: u64| {
        offset.checked_add(8).is_some_and(|end| {
            plan.link_segments
                .iter()
                .any(|&(v, m, _, _)| offset >= v && end <= v + m)
        })
    };
    walk(image, &plan.tables, |entry| {
        let (index, offset, counter) = match entry {
            Entry::Rela {
                kind: R_X86_64_NONE,
                ..
            } => return Ok(()),
            Entry::Rela {
                index,
                offset,
                kind: R_X86_64_RELATIVE,
                ..
            } => (index, offset, &mut applied),
            Entry::Rela {
                index,
                offset,
                kind: R_X86_64_IRELATIVE,
                ..
            } => (index, offset, &mut deferred),
            Entry::Rela { index, kind, .. } => {
                return Err(Error::UnsupportedRelocation { index, kind })
            }
            Entry::Relr { index, offset } => (index, offset, &mut applied),
        };
        if !inside(offset) {
            return Err(Error::RelocationOutsideImage { index, offset });
        }
        *counter += 1;
        Ok(())
    })?;
    Ok((applied, deferred))
}

impl LoadPlan {
    /// Calls `f` with each relocation the loader applies, in table order.
    ///
    /// `image` must be the image the plan was made from; given another, this
    /// returns an error rather than misbehave.
    pub fn for_each_relocation(
        &self,
        image: &[u8],
        mut f: impl FnMut(Relocation) -> Result<(), Error>,
    ) -> Result<(), Error> {
        walk(image, &self.tables, |entry| {
            let (offset, value) = match entry {
                Entry::Rela {
                    offset,
                    kind: R_X86_64_RELATIVE,
                    addend,
                    ..
                } => (offset, self.bias.wrapping_add(addend)),
                Entry::Rela { .. } => return Ok(()),
                Entry::Relr { offset, .. } => {
                    (offset, self.bias.wrapping_add(self.word_at(image, offset)))
                }
            };
            f(Relocation {
                vaddr: offset.wrapping_add(self.bias),
                value,
            })
        })
    }

    /// Writes every relocation into `mem`; returns how many were applied.
    pub fn apply_relocations<M: Memory + ?Sized>(
        &self,
        image: &[u8],
        mem: &mut M,
    ) -> Result<usize, Error> {
        let mut count = 0;
        self.for_each_relocation(image, |r| {
            count += 1;
            mem.write(r.vaddr, &r.value.to_le_bytes())
                .map_err(Error::Memory)
        })?;
        Ok(count)
    }

    /// The 8 bytes at link-time address `vaddr` as the image initialises
    /// them (zero in `.bss`).
    fn word_at(&self, image: &[u8], vaddr: u64) -> u64 {
        let mut bytes = [0u8; 8];
        for (i, b) in bytes.iter_mut().enumerate() {
            if let Some(Ok(off)) = self.file_offset_of(vaddr.wrapping_add(i as u64)) {
                *b = usize::try_from(off)
                    .ok()
                    .and_then(|o| image.get(o))
                    .copied()
                    .unwrap_or(0);
            }
        }
        u64::from_le_bytes(bytes)
    }
}

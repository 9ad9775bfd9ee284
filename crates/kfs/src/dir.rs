//! Directory implementations, over a directory's data object.
//!
//! Both keep KFS's entry format: `(id u64, record length u16, name length
//! u8, type u8, name)`, padded to 8 bytes; entries never cross a block and
//! the records of a block cover it exactly (id 0 marks free space).
//!
//! * [`Imp::LinearDir`]: entries in any block; lookup scans every block.
//!   Cheapest for the common small directory.
//! * [`Imp::HashDir`]: `buckets` blocks (a power of two); a name lives in
//!   block `fnv1a(name) % buckets`, so lookup reads one block. A full bucket
//!   doubles the table. Best for large directories.

use crate::dev::BlockDevice;
use crate::error::{corrupt, Error, Result};
use crate::file::DataObj;
use crate::layout::{get_u16, get_u64, put_u16, put_u64, Imp, MAX_NAME};
use crate::BLOCK_SIZE;
use alloc::vec::Vec;

/// Most buckets of a hashed directory (256 MiB of entries).
pub const MAX_BUCKETS: u32 = 1 << 16;
const HDR: usize = 12;

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Object id.
    pub id: u64,
    /// File type (the `S_IFMT` bits shifted right by 12, as in `DT_*`).
    pub ftype: u8,
    /// Name bytes.
    pub name: Vec<u8>,
}

fn entry_len(name_len: usize) -> usize {
    (HDR + name_len).div_ceil(8) * 8
}

/// FNV-1a, 64-bit: deterministic, so bucket positions survive remounts.
pub fn fnv1a(name: &[u8]) -> u64 {
    name.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Checks a name: 1..=255 bytes, no `/` or NUL, not `.` or `..`.
pub fn check_name(name: &[u8]) -> Result<()> {
    if name.len() > MAX_NAME {
        return Err(Error::NameTooLong);
    }
    if name.is_empty() || name == b"." || name == b".." || name.iter().any(|&c| c == b'/' || c == 0)
    {
        return Err(Error::Invalid);
    }
    Ok(())
}

/// Parses a directory block: `(offset, record length, entry)` for every
/// record, used (`Some`) or free (`None`). Checks every field.
pub fn parse_block(
    b: &[u8],
    dir: u64,
    blk: u64,
    max_id: u64,
) -> Result<Vec<(usize, usize, Option<DirEntry>)>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < BLOCK_SIZE {
        if off + HDR > BLOCK_SIZE {
            return Err(corrupt!(
                "directory {dir} block {blk}: record at {off} overruns the block"
            ));
        }
        let id = get_u64(b, off);
        let rl = get_u16(b, off + 8) as usize;
        let nl = b[off + 10] as usize;
        if rl < 16 || !rl.is_multiple_of(8) || off + rl > BLOCK_SIZE {
            return Err(corrupt!(
                "directory {dir} block {blk}: record at {off} has bad length {rl}"
            ));
        }
        if id == 0 {
            out.push((off, rl, None));
        } else {
            if id >= max_id || entry_len(nl) > rl {
                return Err(corrupt!("directory {dir} block {blk}: entry at {off} (id {id}, name length {nl}) is invalid"));
            }
            let name = b[off + HDR..off + HDR + nl].to_vec();
            if check_name(&name).is_err() {
                return Err(corrupt!(
                    "directory {dir} block {blk}: entry at {off} has an invalid name"
                ));
            }
            out.push((
                off,
                rl,
                Some(DirEntry {
                    id,
                    ftype: b[off + 11],
                    name,
                }),
            ));
        }
        off += rl;
    }
    Ok(out)
}

fn write_entry(b: &mut [u8], off: usize, rl: usize, e: &DirEntry) {
    put_u64(b, off, e.id);
    put_u16(b, off + 8, rl as u16);
    b[off + 10] = e.name.len() as u8;
    b[off + 11] = e.ftype;
    b[off + HDR..off + HDR + e.name.len()].copy_from_slice(&e.name);
}

fn init_block(b: &mut [u8]) {
    // One free record covering the whole block.
    b.fill(0);
    put_u16(b, 8, BLOCK_SIZE as u16);
}

/// Tries to place `e` in block `b`; false if it does not fit.
fn block_insert(b: &mut [u8], e: &DirEntry, dir: u64, blk: u64, max_id: u64) -> Result<bool> {
    let need = entry_len(e.name.len());
    for (off, rl, ent) in parse_block(b, dir, blk, max_id)? {
        let used = ent.as_ref().map_or(0, |x| entry_len(x.name.len()));
        if rl - used >= need {
            if used == 0 {
                write_entry(b, off, rl, e);
            } else {
                put_u16(b, off + 8, used as u16);
                write_entry(b, off + used, rl - used, e);
            }
            return Ok(true);
        }
    }
    Ok(false)
}

/// Removes `name` from block `b`; returns its entry if it was there.
fn block_remove(
    b: &mut [u8],
    name: &[u8],
    dir: u64,
    blk: u64,
    max_id: u64,
) -> Result<Option<DirEntry>> {
    let recs = parse_block(b, dir, blk, max_id)?;
    for (i, (off, rl, ent)) in recs.iter().enumerate() {
        if let Some(e) = ent.as_ref().filter(|e| e.name == name) {
            if i > 0 {
                // Merge into the previous record.
                let (poff, prl, _) = recs[i - 1];
                put_u16(b, poff + 8, (prl + rl) as u16);
            } else {
                put_u64(b, *off, 0);
            }
            return Ok(Some(e.clone()));
        }
    }
    Ok(None)
}

/// A directory: its data object plus which implementation it uses.
pub(crate) struct Dir<'a> {
    pub id: u64,
    pub imp: Imp,
    pub size: u64,
    pub buckets: u32,
    pub data: &'a mut DataObj,
    pub dev: &'a mut dyn BlockDevice,
    pub max_id: u64,
}

impl Dir<'_> {
    fn nblocks(&self) -> u64 {
        self.size / BLOCK_SIZE as u64
    }

    fn bucket(&self, name: &[u8]) -> u64 {
        fnv1a(name) & (self.buckets as u64 - 1)
    }

    fn blocks_for(&self, name: &[u8]) -> core::ops::Range<u64> {
        if self.imp == Imp::HashDir {
            let b = self.bucket(name);
            b..b + 1
        } else {
            0..self.nblocks()
        }
    }

    /// Looks `name` up. Scans blocks in place without allocating and checks
    /// what it relies on (record lengths, the entry found); a block whose
    /// records do not tile it is reported by [`parse_block`].
    pub fn lookup(&mut self, name: &[u8]) -> Result<Option<DirEntry>> {
        for blk in self.blocks_for(name) {
            let (id, max) = (self.id, self.max_id);
            let b = self.data.block(blk, self.dev)?;
            let mut off = 0;
            while off + HDR <= BLOCK_SIZE {
                let rl = get_u16(b, off + 8) as usize;
                if rl < 16 || off + rl > BLOCK_SIZE {
                    break;
                }
                let nl = b[off + 10] as usize;
                let eid = get_u64(b, off);
                if eid != 0
                    && nl == name.len()
                    && entry_len(nl) <= rl
                    && &b[off + HDR..off + HDR + nl] == name
                {
                    if eid >= max {
                        return Err(corrupt!(
                            "directory {id} block {blk}: entry at {off} names id {eid}"
                        ));
                    }
                    return Ok(Some(DirEntry {
                        id: eid,
                        ftype: b[off + 11],
                        name: name.to_vec(),
                    }));
                }
                off += rl;
            }
            if off != BLOCK_SIZE {
                parse_block(b, id, blk, max)?; // reports the damage
            }
        }
        Ok(None)
    }

    /// All entries, in on-disk order.
    pub fn entries(&mut self) -> Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        for blk in 0..self.nblocks() {
            let b = self.data.block(blk, self.dev)?;
            out.extend(
                parse_block(b, self.id, blk, self.max_id)?
                    .into_iter()
                    .filter_map(|(_, _, e)| e),
            );
        }
        Ok(out)
    }

    /// Adds `e` (the caller checked that the name is absent).
    pub fn insert(&mut self, e: &DirEntry) -> Result<()> {
        for blk in self.blocks_for(&e.name) {
            let (id, max) = (self.id, self.max_id);
            let b = self.data.block(blk, self.dev)?;
            if block_insert(b, e, id, blk, max)? {
                self.data.mark_dirty(blk);
                return Ok(());
            }
        }
        if self.imp == Imp::LinearDir {
            let blk = self.nblocks();
            let b = self.data.block(blk, self.dev)?;
            init_block(b);
            block_insert(b, e, self.id, blk, self.max_id)?;
            self.data.mark_dirty(blk);
            self.size += BLOCK_SIZE as u64;
            return Ok(());
        }
        // Hashed and the bucket is full: grow the table.
        let mut all = self.entries()?;
        all.push(e.clone());
        self.rebuild(Imp::HashDir, &all, self.buckets.saturating_mul(2))
    }

    /// Removes `name`; returns its entry.
    pub fn remove(&mut self, name: &[u8]) -> Result<Option<DirEntry>> {
        for blk in self.blocks_for(name) {
            let (id, max) = (self.id, self.max_id);
            let b = self.data.block(blk, self.dev)?;
            if let Some(e) = block_remove(b, name, id, blk, max)? {
                self.data.mark_dirty(blk);
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    /// Rewrites the directory's blocks in layout `imp` holding `all`.
    /// The caller has truncated the data object's old blocks if needed;
    /// blocks are rewritten in place, and surplus ones are left for the
    /// caller to truncate (it compares `size`).
    pub fn rebuild(&mut self, imp: Imp, all: &[DirEntry], min_buckets: u32) -> Result<()> {
        if imp == Imp::LinearDir {
            self.imp = imp;
            self.buckets = 0;
            let mut blk = 0;
            let b = self.data.block(0, self.dev)?;
            init_block(b);
            self.data.mark_dirty(0);
            for e in all {
                let (id, max) = (self.id, self.max_id);
                let b = self.data.block(blk, self.dev)?;
                if !block_insert(b, e, id, blk, max)? {
                    blk += 1;
                    let b = self.data.block(blk, self.dev)?;
                    init_block(b);
                    block_insert(b, e, id, blk, max)?;
                    self.data.mark_dirty(blk);
                }
                self.data.mark_dirty(blk);
            }
            self.size = (blk + 1) * BLOCK_SIZE as u64;
            return Ok(());
        }
        let bytes: usize = all.iter().map(|e| entry_len(e.name.len())).sum();
        let mut n = min_buckets
            .max(1)
            .max((2 * bytes / BLOCK_SIZE + 1).next_power_of_two() as u32);
        // Names that keep colliding would double the table without end:
        // past 8x the space the entries need, hashing does not suit this
        // directory, and it falls back to the linear implementation.
        let cap = MAX_BUCKETS.min(64.max(8 * (bytes / BLOCK_SIZE + 1) as u32));
        'grow: loop {
            if n > cap {
                if all.iter().map(|e| entry_len(e.name.len())).sum::<usize>()
                    > MAX_BUCKETS as usize * BLOCK_SIZE
                {
                    return Err(Error::NoSpace);
                }
                return self.rebuild(Imp::LinearDir, all, 0);
            }
            let mut blocks = alloc::vec![alloc::vec![0u8; BLOCK_SIZE]; n as usize];
            for b in &mut blocks {
                init_block(b);
            }
            for e in all {
                let k = (fnv1a(&e.name) & (n as u64 - 1)) as usize;
                if !block_insert(&mut blocks[k], e, self.id, k as u64, self.max_id)? {
                    n *= 2;
                    continue 'grow;
                }
            }
            for (k, b) in blocks.iter().enumerate() {
                self.data.block(k as u64, self.dev)?.copy_from_slice(b);
                self.data.mark_dirty(k as u64);
            }
            self.imp = Imp::HashDir;
            self.buckets = n;
            self.size = n as u64 * BLOCK_SIZE as u64;
            return Ok(());
        }
    }
}

//! The RecordMap: object id to typed record (paper §8).
//!
//! Records live in record blocks; the record blocks' addresses live in index
//! blocks; the index blocks' addresses live in the superblock. Every level
//! is copied on write, so a record has no fixed home: changing it moves its
//! block, exactly the LFS-like relocation KFS was built for. The map keeps
//! all records in memory (256 bytes each) and writes back only the record
//! and index blocks that changed.

use crate::alloc_map::AllocMap;
use crate::dev::BlockDevice;
use crate::error::{corrupt, Error, Result};
use crate::layout::{
    get_u64, put_u64, Geometry, Imp, Record, MAX_INDEX, PTRS_PER_BLOCK, RECORD_SIZE, RECS_PER_BLOCK,
};
use crate::BLOCK_SIZE;
use alloc::collections::BTreeSet;
use alloc::vec;
use alloc::vec::Vec;

/// The RecordMap object.
pub struct RecordMap {
    recs: Vec<Record>,
    rb_addr: Vec<u64>,
    idx_addr: Vec<u64>,
    dirty_rb: BTreeSet<usize>,
    dirty_idx: BTreeSet<usize>,
    hint: usize,
}

/// Writes `buf` copy-on-write: in place if `old` is not referenced by the
/// last checkpoint, else to a new block (freeing `old`). Returns the address.
pub(crate) fn cow_write(
    dev: &mut dyn BlockDevice,
    alloc: &mut AllocMap,
    old: u64,
    buf: &[u8],
) -> Result<u64> {
    let addr = if old != 0 && !alloc.is_committed(old) {
        old
    } else {
        let new = alloc.alloc(old)?;
        if old != 0 {
            alloc.free(old)?;
        }
        new
    };
    dev.write_block(addr, buf)?;
    Ok(addr)
}

impl RecordMap {
    /// An empty map with one record block (ids 0..16; id 0 is never used).
    pub fn new() -> Self {
        RecordMap {
            recs: vec![Record::free(); RECS_PER_BLOCK],
            rb_addr: vec![0],
            idx_addr: vec![0],
            dirty_rb: [0].into_iter().collect(),
            dirty_idx: [0].into_iter().collect(),
            hint: 1,
        }
    }

    /// Loads the map described by the superblock and checks every record.
    pub fn load(
        dev: &mut dyn BlockDevice,
        geo: Geometry,
        alloc: &AllocMap,
        index: &[u64],
        nrb: u64,
    ) -> Result<Self> {
        let mut m = RecordMap {
            recs: Vec::with_capacity(nrb as usize * RECS_PER_BLOCK),
            rb_addr: Vec::with_capacity(nrb as usize),
            idx_addr: index.to_vec(),
            dirty_rb: BTreeSet::new(),
            dirty_idx: BTreeSet::new(),
            hint: 1,
        };
        let mut buf = vec![0u8; BLOCK_SIZE];
        for (i, &a) in index.iter().enumerate() {
            if !alloc.is_used(a) {
                return Err(corrupt!(
                    "RecordMap index block {i} at {a} is marked free in the bitmap"
                ));
            }
            dev.read_block(a, &mut buf)?;
            let n = (nrb as usize - i * PTRS_PER_BLOCK).min(PTRS_PER_BLOCK);
            for j in 0..n {
                let rb = get_u64(&buf, 8 * j);
                if !geo.in_data(rb) || !alloc.is_used(rb) {
                    return Err(corrupt!(
                        "RecordMap record block {} at {rb} is outside the data area or free",
                        i * PTRS_PER_BLOCK + j
                    ));
                }
                m.rb_addr.push(rb);
            }
        }
        for (k, &rb) in m.rb_addr.iter().enumerate() {
            dev.read_block(rb, &mut buf)?;
            for r in 0..RECS_PER_BLOCK {
                let id = (k * RECS_PER_BLOCK + r) as u64;
                let rec = Record::decode(&buf[r * RECORD_SIZE..(r + 1) * RECORD_SIZE], id)?;
                if id == 0 && rec.imp != Imp::Free {
                    return Err(corrupt!("record 0 (reserved) is in use"));
                }
                m.recs.push(rec);
            }
        }
        Ok(m)
    }

    /// Whether records changed since the last write-back.
    pub fn is_dirty(&self) -> bool {
        !self.dirty_rb.is_empty() || !self.dirty_idx.is_empty()
    }

    /// Number of id slots (used or not).
    pub fn len(&self) -> u64 {
        self.recs.len() as u64
    }

    /// Whether no id slot exists (never true: id 0 is always there).
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// The record of a live object.
    pub fn get(&self, id: u64) -> Result<&Record> {
        match self.recs.get(id as usize) {
            Some(r) if r.imp != Imp::Free => Ok(r),
            _ => Err(Error::NotFound),
        }
    }

    /// The record of a live object, for update (marks its block dirty).
    pub fn get_mut(&mut self, id: u64) -> Result<&mut Record> {
        match self.recs.get_mut(id as usize) {
            Some(r) if r.imp != Imp::Free => {
                self.dirty_rb.insert(id as usize / RECS_PER_BLOCK);
                Ok(r)
            }
            _ => Err(Error::NotFound),
        }
    }

    /// Any record, used or free (fsck).
    pub fn raw(&self, id: u64) -> Option<&Record> {
        self.recs.get(id as usize)
    }

    /// Stores `rec` under `id` (fsck repair and object creation).
    pub fn put(&mut self, id: u64, rec: Record) {
        self.dirty_rb.insert(id as usize / RECS_PER_BLOCK);
        self.recs[id as usize] = rec;
    }

    /// Finds a free id, growing the map by a record block if needed, and
    /// stores `rec` there.
    pub fn insert(&mut self, rec: Record) -> Result<u64> {
        let n = self.recs.len();
        let found = (self.hint..n)
            .chain(1..self.hint.min(n))
            .find(|&i| self.recs[i].imp == Imp::Free);
        let id = match found {
            Some(i) => i,
            None => {
                if self.rb_addr.len() >= MAX_INDEX * PTRS_PER_BLOCK {
                    return Err(Error::NoSpace);
                }
                self.recs.resize(n + RECS_PER_BLOCK, Record::free());
                self.rb_addr.push(0);
                if self.rb_addr.len() > self.idx_addr.len() * PTRS_PER_BLOCK {
                    self.idx_addr.push(0);
                }
                self.dirty_idx.insert(self.idx_addr.len() - 1);
                n
            }
        };
        self.hint = id + 1;
        self.put(id as u64, rec);
        Ok(id as u64)
    }

    /// Frees `id`.
    pub fn remove(&mut self, id: u64) {
        self.put(id, Record::free());
        self.hint = self.hint.min(id as usize);
    }

    /// Ids of all live records.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.recs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.imp != Imp::Free)
            .map(|(i, _)| i as u64)
    }

    /// Writes changed record and index blocks (copy-on-write). Returns the
    /// index addresses and record-block count for the superblock.
    pub fn write(
        &mut self,
        dev: &mut dyn BlockDevice,
        alloc: &mut AllocMap,
    ) -> Result<(Vec<u64>, u64)> {
        let mut buf = vec![0u8; BLOCK_SIZE];
        for k in core::mem::take(&mut self.dirty_rb) {
            for r in 0..RECS_PER_BLOCK {
                self.recs[k * RECS_PER_BLOCK + r]
                    .encode(&mut buf[r * RECORD_SIZE..(r + 1) * RECORD_SIZE]);
            }
            self.rb_addr[k] = cow_write(dev, alloc, self.rb_addr[k], &buf)?;
            self.dirty_idx.insert(k / PTRS_PER_BLOCK);
        }
        for i in core::mem::take(&mut self.dirty_idx) {
            buf.fill(0);
            let lo = i * PTRS_PER_BLOCK;
            let hi = self.rb_addr.len().min(lo + PTRS_PER_BLOCK);
            for (j, a) in self.rb_addr[lo..hi].iter().enumerate() {
                put_u64(&mut buf, 8 * j, *a);
            }
            self.idx_addr[i] = cow_write(dev, alloc, self.idx_addr[i], &buf)?;
        }
        Ok((self.idx_addr.clone(), self.rb_addr.len() as u64))
    }

    /// Addresses of the record and index blocks (fsck).
    pub fn meta_blocks(&self) -> impl Iterator<Item = u64> + '_ {
        self.rb_addr.iter().chain(self.idx_addr.iter()).copied()
    }
}

impl Default for RecordMap {
    fn default() -> Self {
        Self::new()
    }
}

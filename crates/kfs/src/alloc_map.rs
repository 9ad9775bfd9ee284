//! The block allocation map: KFS's allocation-map object.
//!
//! It keeps two bitmaps: `cur` (blocks in use now) and `committed` (blocks
//! the last checkpoint references). A block is handed out only when it is
//! free in both, so nothing the last checkpoint can see is ever overwritten;
//! this is what makes every checkpoint survive a crash. Freed committed
//! blocks become reusable at the next checkpoint.
//!
//! On disk the map alternates between two fixed regions, one per superblock
//! slot. Each bitmap block remembers, per region, whether it changed since
//! that region was last written, so a checkpoint writes only changed blocks.

use crate::dev::BlockDevice;
use crate::error::{corrupt, Error, Result};
use crate::layout::{Geometry, BITS_PER_BLOCK};
use crate::BLOCK_SIZE;
use alloc::collections::BTreeSet;
use alloc::vec;
use alloc::vec::Vec;

const WORDS_PER_BLOCK: usize = BLOCK_SIZE / 8;

/// The allocation map object.
pub struct AllocMap {
    geo: Geometry,
    cur: Vec<u64>,
    committed: Vec<u64>,
    /// Bitmap blocks changed since region 0 / region 1 was written.
    dirty: [BTreeSet<u64>; 2],
    cursor: u64,
    /// Blocks kept back for metadata so a checkpoint can always complete.
    reserve: u64,
    free: u64,
    /// Freed since the last checkpoint but still referenced by it.
    pinned: u64,
}

impl AllocMap {
    /// A fresh map for mkfs: the superblocks and both bitmap regions are used.
    pub fn new(geo: Geometry) -> Self {
        let words = geo.bitmap_blocks as usize * WORDS_PER_BLOCK;
        let mut m = AllocMap {
            geo,
            cur: vec![0; words],
            committed: vec![0; words],
            dirty: [BTreeSet::new(), BTreeSet::new()],
            cursor: geo.first_data(),
            reserve: 16 + geo.total / 128,
            free: geo.total,
            pinned: 0,
        };
        for b in geo.total..words as u64 * 64 {
            m.set(b, true);
        }
        for b in 0..geo.first_data() {
            m.set(b, true);
        }
        m.free = geo.total - geo.first_data();
        for b in 0..geo.bitmap_blocks {
            m.dirty[0].insert(b);
            m.dirty[1].insert(b);
        }
        m.committed.clone_from(&m.cur);
        m
    }

    /// Loads the map of superblock slot `slot`.
    pub fn load(dev: &mut dyn BlockDevice, geo: Geometry, slot: u64) -> Result<Self> {
        let mut m = AllocMap::new(geo);
        m.dirty = [BTreeSet::new(), BTreeSet::new()];
        let mut buf = vec![0u8; geo.bitmap_blocks as usize * BLOCK_SIZE];
        dev.read_blocks(geo.bitmap_start(slot), &mut buf)?;
        for (w, c) in m.cur.iter_mut().zip(buf.chunks(8)) {
            let mut a = [0; 8];
            a.copy_from_slice(c);
            *w = u64::from_le_bytes(a);
        }
        for b in (0..geo.first_data()).chain(geo.total..m.cur.len() as u64 * 64) {
            if !m.is_used(b) {
                return Err(corrupt!("bitmap: reserved block {b} is marked free"));
            }
        }
        m.free = m.cur.iter().map(|w| w.count_zeros() as u64).sum();
        m.committed.clone_from(&m.cur);
        // The other region is older: the next checkpoint rewrites the
        // blocks where it differs.
        let mut other = vec![0u8; buf.len()];
        dev.read_blocks(geo.bitmap_start(1 - slot), &mut other)?;
        for (i, (a, b)) in buf
            .chunks(BLOCK_SIZE)
            .zip(other.chunks(BLOCK_SIZE))
            .enumerate()
        {
            if a != b {
                m.dirty[1 - slot as usize].insert(i as u64);
            }
        }
        Ok(m)
    }

    fn set(&mut self, b: u64, used: bool) {
        let (w, bit) = ((b / 64) as usize, b % 64);
        if used {
            self.cur[w] |= 1 << bit;
        } else {
            self.cur[w] &= !(1 << bit);
        }
        let blk = b / BITS_PER_BLOCK;
        self.dirty[0].insert(blk);
        self.dirty[1].insert(blk);
    }

    /// Whether `b` is in use now.
    pub fn is_used(&self, b: u64) -> bool {
        self.cur
            .get((b / 64) as usize)
            .is_some_and(|w| w & (1 << (b % 64)) != 0)
    }

    /// Whether the last checkpoint references `b` (so it must not be overwritten).
    pub fn is_committed(&self, b: u64) -> bool {
        self.committed
            .get((b / 64) as usize)
            .is_some_and(|w| w & (1 << (b % 64)) != 0)
    }

    /// Free blocks now (including those still pinned by the last checkpoint).
    pub fn free_blocks(&self) -> u64 {
        self.free
    }

    /// Blocks a data allocation could get now.
    pub fn available(&self) -> u64 {
        self.free.saturating_sub(self.reserve + self.pinned)
    }

    /// Allocates a block for file data, keeping the metadata reserve.
    pub fn alloc_data(&mut self, goal: u64) -> Result<u64> {
        if self.free <= self.reserve + self.pinned {
            return Err(Error::NoSpace);
        }
        self.alloc(goal)
    }

    /// Allocates a block, preferring `goal` and the blocks after it.
    pub fn alloc(&mut self, goal: u64) -> Result<u64> {
        let goal = if self.geo.in_data(goal) {
            goal
        } else {
            self.cursor
        };
        let nwords = self.cur.len();
        let start = (goal / 64) as usize;
        for i in 0..=nwords {
            let w = (start + i) % nwords;
            let mut busy = self.cur[w] | self.committed[w];
            if i == 0 {
                busy |= (1u64 << (goal % 64)) - 1; // skip bits before goal once
            }
            if busy != !0 {
                let b = w as u64 * 64 + (!busy).trailing_zeros() as u64;
                self.set(b, true);
                self.free -= 1;
                self.cursor = b + 1;
                return Ok(b);
            }
        }
        // The skipped low bits of the goal word, on the way round.
        let w = start;
        let busy = self.cur[w] | self.committed[w];
        if busy != !0 {
            let b = w as u64 * 64 + (!busy).trailing_zeros() as u64;
            self.set(b, true);
            self.free -= 1;
            return Ok(b);
        }
        Err(Error::NoSpace)
    }

    /// Frees `b`. Freeing a block twice or a reserved block is an error.
    pub fn free(&mut self, b: u64) -> Result<()> {
        if !self.geo.in_data(b) || !self.is_used(b) {
            return Err(corrupt!(
                "freeing block {b}, which is not an allocated data block"
            ));
        }
        self.set(b, false);
        self.free += 1;
        if self.is_committed(b) {
            self.pinned += 1;
        }
        Ok(())
    }

    /// Marks `b` used (fsck repair and mkfs).
    pub fn mark_used(&mut self, b: u64) {
        if !self.is_used(b) {
            self.set(b, true);
            self.free -= 1;
        }
    }

    /// Writes the changed bitmap blocks into the region of `slot`.
    pub fn write(&mut self, dev: &mut dyn BlockDevice, slot: u64) -> Result<()> {
        let dirty = core::mem::take(&mut self.dirty[slot as usize]);
        let mut buf = vec![0u8; BLOCK_SIZE];
        for blk in dirty {
            let words =
                &self.cur[blk as usize * WORDS_PER_BLOCK..(blk as usize + 1) * WORDS_PER_BLOCK];
            for (c, w) in buf.chunks_mut(8).zip(words) {
                c.copy_from_slice(&w.to_le_bytes());
            }
            dev.write_block(self.geo.bitmap_start(slot) + blk, &buf)?;
        }
        Ok(())
    }

    /// The checkpoint is durable: what is in use now is what it references.
    pub fn commit(&mut self) {
        self.pinned = 0;
        self.committed.clone_from(&self.cur);
    }
}

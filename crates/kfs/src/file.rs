//! The per-element data object: one per file, directory or symlink that is
//! in use, each with its own block cache (there is no global buffer cache).
//!
//! The object holds the element's complete block map (logical to physical)
//! in memory. The map's on-disk encoding is the element's implementation:
//!
//! * [`Imp::SmallFile`] (also directories and symlinks): 12 direct pointers
//!   and single, double and triple indirect trees, as in the original KFS.
//!   Each indirect node remembers its address and whether it changed, so a
//!   flush rewrites only the changed paths.
//! * [`Imp::ExtentFile`]: runs of (logical, physical, length), 9 inline in
//!   the record and the rest in a chain of extent blocks. A contiguous 1 GiB
//!   file is a handful of extents instead of 513 indirect blocks.
//!
//! Because the map in memory does not depend on the encoding, switching a
//! live file between the two (hot swap) is: free the old encoding's
//! metadata blocks and mark the new one dirty. No data block moves.
//!
//! Data is written back copy-on-write: a block the last checkpoint
//! references gets a new home; a block born since is overwritten in place.

use crate::alloc_map::AllocMap;
use crate::dev::BlockDevice;
use crate::error::{corrupt, Result};
use crate::layout::{
    get_u32, get_u64, put_u32, put_u64, Geometry, Imp, Record, EXTENTS_PER_BLOCK, INLINE_EXTENTS,
    NDIRECT, PTRS_PER_BLOCK,
};
use crate::recmap::cow_write;
use crate::BLOCK_SIZE;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec;
use alloc::vec::Vec;

/// An indirect node: (tree 1..=3, depth in the tree, prefix of the logical
/// block numbers it covers).
type NodeKey = (u8, u8, u64);

const SHIFT: u32 = 9; // log2(PTRS_PER_BLOCK)

/// Splits a logical block `l >= NDIRECT` into its tree and offset in it.
fn tree_of(l: u64) -> Option<(u8, u64)> {
    let mut rel = l.checked_sub(NDIRECT as u64)?;
    for t in 1..=3u8 {
        let span = 1u64 << (SHIFT * t as u32);
        if rel < span {
            return Some((t, rel));
        }
        rel -= span;
    }
    None
}

fn tree_base(t: u8) -> u64 {
    let mut b = NDIRECT as u64;
    for k in 1..t {
        b += 1u64 << (SHIFT * k as u32);
    }
    b
}

/// One cached block.
struct Cached {
    data: Box<[u8]>,
    dirty: bool,
}

/// The data object of one element.
pub(crate) struct DataObj {
    /// Encoding of the block map.
    pub imp: Imp,
    map: BTreeMap<u64, u64>,
    nodes: BTreeMap<NodeKey, u64>,
    dirty_nodes: BTreeSet<NodeKey>,
    chain: Vec<u64>,
    ext_dirty: bool,
    /// The map changed since the record's roots were last stored.
    map_dirty: bool,
    cache: BTreeMap<u64, Cached>,
    ndirty: usize,
}

fn read_ptr_block(
    dev: &mut dyn BlockDevice,
    geo: Geometry,
    addr: u64,
    what: &dyn core::fmt::Display,
) -> Result<Vec<u64>> {
    if !geo.in_data(addr) {
        return Err(corrupt!(
            "{what}: block pointer {addr} outside the data area"
        ));
    }
    let mut buf = vec![0u8; BLOCK_SIZE];
    dev.read_block(addr, &mut buf)?;
    Ok((0..PTRS_PER_BLOCK).map(|i| get_u64(&buf, 8 * i)).collect())
}

impl DataObj {
    /// An empty object with encoding `imp`.
    pub fn empty(imp: Imp) -> Self {
        DataObj {
            imp,
            map: BTreeMap::new(),
            nodes: BTreeMap::new(),
            dirty_nodes: BTreeSet::new(),
            chain: Vec::new(),
            ext_dirty: false,
            map_dirty: false,
            cache: BTreeMap::new(),
            ndirty: 0,
        }
    }

    /// Instantiates the object for record `rec` (id `id`), reading its block map.
    pub fn load(id: u64, rec: &Record, dev: &mut dyn BlockDevice, geo: Geometry) -> Result<Self> {
        let mut o = DataObj::empty(rec.imp);
        let nblocks = rec.size.div_ceil(BLOCK_SIZE as u64);
        let check = |l: u64, p: u64| -> Result<()> {
            if !geo.in_data(p) {
                return Err(corrupt!(
                    "object {id}: block {l} maps to {p}, outside the data area"
                ));
            }
            if l >= nblocks {
                return Err(corrupt!(
                    "object {id}: block {l} mapped beyond its size {}",
                    rec.size
                ));
            }
            Ok(())
        };
        if rec.imp == Imp::ExtentFile {
            let n = get_u32(&rec.payload, 0) as usize;
            let mut next = get_u64(&rec.payload, 8);
            let mut ext = Vec::with_capacity(n);
            for i in 0..n.min(INLINE_EXTENTS) {
                ext.push(extent_at(&rec.payload, 16 + 16 * i));
            }
            let mut buf = vec![0u8; BLOCK_SIZE];
            while ext.len() < n {
                if !geo.in_data(next) || o.chain.contains(&next) {
                    return Err(corrupt!(
                        "object {id}: extent block pointer {next} is invalid"
                    ));
                }
                dev.read_block(next, &mut buf)?;
                o.chain.push(next);
                let cnt = get_u32(&buf, 8) as usize;
                if cnt == 0 || cnt > EXTENTS_PER_BLOCK || cnt > n - ext.len() {
                    return Err(corrupt!(
                        "object {id}: extent block {next} claims {cnt} extents"
                    ));
                }
                for i in 0..cnt {
                    ext.push(extent_at(&buf, 16 + 16 * i));
                }
                next = get_u64(&buf, 0);
            }
            let mut end = 0;
            for (l, len, p) in ext {
                if len == 0 || l < end || p.checked_add(len).is_none_or(|e| e > geo.total) {
                    return Err(corrupt!("object {id}: bad extent ({l}, {len}, {p})"));
                }
                for k in 0..len {
                    check(l + k, p + k)?;
                    o.map.insert(l + k, p + k);
                }
                end = l + len;
            }
        } else {
            for l in 0..NDIRECT {
                let p = rec.ptr(l);
                if p != 0 {
                    check(l as u64, p)?;
                    o.map.insert(l as u64, p);
                }
            }
            for t in 1..=3u8 {
                let root = rec.ptr(NDIRECT + t as usize - 1);
                if root != 0 {
                    o.load_node(id, (t, 0, 0), root, dev, geo, &check)?;
                }
            }
        }
        Ok(o)
    }

    fn load_node(
        &mut self,
        id: u64,
        key: NodeKey,
        addr: u64,
        dev: &mut dyn BlockDevice,
        geo: Geometry,
        check: &dyn Fn(u64, u64) -> Result<()>,
    ) -> Result<()> {
        let (t, d, prefix) = key;
        let ptrs = read_ptr_block(dev, geo, addr, &format_args!("object {id}"))?;
        self.nodes.insert(key, addr);
        for (s, &p) in ptrs.iter().enumerate() {
            if p == 0 {
                continue;
            }
            let child = (prefix << SHIFT) | s as u64;
            if d + 1 == t {
                let l = tree_base(t) + child;
                check(l, p)?;
                self.map.insert(l, p);
            } else {
                self.load_node(id, (t, d + 1, child), p, dev, geo, check)?;
            }
        }
        Ok(())
    }

    /// Logical to physical, for every mapped block.
    pub fn mapping(&self) -> &BTreeMap<u64, u64> {
        &self.map
    }

    /// Every metadata block the encoding uses (indirect or extent blocks).
    pub fn meta_blocks(&self) -> Vec<u64> {
        self.nodes
            .values()
            .chain(self.chain.iter())
            .copied()
            .collect()
    }

    /// Blocks owned, for `st_blocks`.
    pub fn block_count(&self) -> u64 {
        (self.map.len() + self.nodes.len() + self.chain.len()) as u64
    }

    /// Whether anything must be written back.
    pub fn is_dirty(&self) -> bool {
        self.ndirty > 0 || self.map_dirty
    }

    /// Dirty cached data blocks.
    pub fn dirty_count(&self) -> usize {
        self.ndirty
    }

    /// Cached blocks.
    pub fn cached_count(&self) -> usize {
        self.cache.len()
    }

    fn mark_map(&mut self, l: u64) {
        self.map_dirty = true;
        if self.imp == Imp::ExtentFile {
            self.ext_dirty = true;
        } else if let Some((t, rel)) = tree_of(l) {
            for d in 0..t {
                self.dirty_nodes
                    .insert((t, d, rel >> (SHIFT * (t - d) as u32)));
            }
        }
    }

    /// The cached block `l`, read from disk (or zero for a hole) on a miss.
    pub fn block(&mut self, l: u64, dev: &mut dyn BlockDevice) -> Result<&mut [u8]> {
        if !self.cache.contains_key(&l) {
            let mut data = vec![0u8; BLOCK_SIZE].into_boxed_slice();
            if let Some(&p) = self.map.get(&l) {
                dev.read_block(p, &mut data)?;
            }
            self.cache.insert(l, Cached { data, dirty: false });
        }
        Ok(&mut self.cache.get_mut(&l).expect("just inserted").data)
    }

    /// Marks cached block `l` dirty.
    pub fn mark_dirty(&mut self, l: u64) {
        if let Some(c) = self.cache.get_mut(&l) {
            if !c.dirty {
                c.dirty = true;
                self.ndirty += 1;
            }
        }
    }

    /// Reads `buf.len()` bytes at `off` (the caller clips to the size).
    /// Misses on contiguous blocks are read in one device request.
    pub fn read(&mut self, off: u64, buf: &mut [u8], dev: &mut dyn BlockDevice) -> Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let pos = off + done as u64;
            let l = pos / BLOCK_SIZE as u64;
            let bo = (pos % BLOCK_SIZE as u64) as usize;
            let n = (BLOCK_SIZE - bo).min(buf.len() - done);
            if let Some(c) = self.cache.get(&l) {
                buf[done..done + n].copy_from_slice(&c.data[bo..bo + n]);
            } else if let Some(&p) = self.map.get(&l) {
                // Read the run of uncached, physically contiguous blocks at once.
                let last = (off + buf.len() as u64 - 1) / BLOCK_SIZE as u64;
                let mut run = 1;
                while l + run <= last
                    && run < 64
                    && !self.cache.contains_key(&(l + run))
                    && self.map.get(&(l + run)) == Some(&(p + run))
                {
                    run += 1;
                }
                let mut tmp = vec![0u8; run as usize * BLOCK_SIZE];
                dev.read_blocks(p, &mut tmp)?;
                let take = (run as usize * BLOCK_SIZE - bo).min(buf.len() - done);
                buf[done..done + take].copy_from_slice(&tmp[bo..bo + take]);
                done += take;
                continue;
            } else {
                buf[done..done + n].fill(0);
            }
            done += n;
        }
        Ok(())
    }

    /// Writes `data` at `off` into the cache.
    pub fn write(&mut self, off: u64, data: &[u8], dev: &mut dyn BlockDevice) -> Result<()> {
        let mut done = 0;
        while done < data.len() {
            let pos = off + done as u64;
            let l = pos / BLOCK_SIZE as u64;
            let bo = (pos % BLOCK_SIZE as u64) as usize;
            let n = (BLOCK_SIZE - bo).min(data.len() - done);
            if n == BLOCK_SIZE && !self.cache.contains_key(&l) {
                let block = data[done..done + n].to_vec().into_boxed_slice();
                self.cache.insert(
                    l,
                    Cached {
                        data: block,
                        dirty: false,
                    },
                );
            } else {
                self.block(l, dev)?[bo..bo + n].copy_from_slice(&data[done..done + n]);
            }
            self.mark_dirty(l);
            done += n;
        }
        Ok(())
    }

    /// Shrinks to `new_size` bytes: frees blocks past it and zeroes the tail
    /// of the last partial block, so a later extension reads zeros.
    pub fn truncate(
        &mut self,
        new_size: u64,
        dev: &mut dyn BlockDevice,
        alloc: &mut AllocMap,
    ) -> Result<()> {
        let keep = new_size.div_ceil(BLOCK_SIZE as u64);
        let gone: Vec<u64> = self.cache.range(keep..).map(|(l, _)| *l).collect();
        for l in gone {
            if self.cache.remove(&l).is_some_and(|c| c.dirty) {
                self.ndirty -= 1;
            }
        }
        let freed: Vec<(u64, u64)> = self.map.range(keep..).map(|(l, p)| (*l, *p)).collect();
        for (l, p) in freed {
            alloc.free(p)?;
            self.map.remove(&l);
            self.mark_map(l);
        }
        let tail = (new_size % BLOCK_SIZE as u64) as usize;
        let l = new_size / BLOCK_SIZE as u64;
        if tail != 0 && (self.map.contains_key(&l) || self.cache.contains_key(&l)) {
            self.block(l, dev)?[tail..].fill(0);
            self.mark_dirty(l);
        }
        Ok(())
    }

    /// Frees everything (the element is being deleted).
    pub fn destroy(&mut self, alloc: &mut AllocMap) -> Result<()> {
        for p in self
            .map
            .values()
            .chain(self.nodes.values())
            .chain(self.chain.iter())
        {
            alloc.free(*p)?;
        }
        *self = DataObj::empty(self.imp);
        Ok(())
    }

    /// Drops clean cached blocks.
    pub fn evict_clean(&mut self) {
        self.cache.retain(|_, c| c.dirty);
    }

    /// Switches the block-map encoding (hot swap between small-file and
    /// extent layouts). Data blocks stay where they are.
    pub fn set_encoding(&mut self, imp: Imp, alloc: &mut AllocMap) -> Result<()> {
        for p in self.nodes.values().chain(self.chain.iter()) {
            alloc.free(*p)?;
        }
        self.nodes.clear();
        self.chain.clear();
        self.dirty_nodes.clear();
        self.imp = imp;
        self.ext_dirty = imp == Imp::ExtentFile;
        self.map_dirty = true;
        let keys: Vec<u64> = self.map.keys().copied().collect();
        for l in keys {
            self.mark_map(l);
        }
        Ok(())
    }

    /// Writes dirty data blocks (copy-on-write), batching contiguous runs.
    pub fn flush_data(&mut self, dev: &mut dyn BlockDevice, alloc: &mut AllocMap) -> Result<()> {
        let dirty: Vec<u64> = self
            .cache
            .iter()
            .filter(|(_, c)| c.dirty)
            .map(|(l, _)| *l)
            .collect();
        let mut run_start = 0;
        let mut run: Vec<u8> = Vec::new();
        for l in dirty {
            let p = match self.map.get(&l) {
                Some(&p) if !alloc.is_committed(p) => p,
                old => {
                    let old = old.copied();
                    let goal = l
                        .checked_sub(1)
                        .and_then(|k| self.map.get(&k))
                        .map_or(0, |p| p + 1);
                    let p = alloc.alloc_data(goal)?;
                    if let Some(o) = old {
                        alloc.free(o)?;
                    }
                    self.map.insert(l, p);
                    self.mark_map(l);
                    p
                }
            };
            if !run.is_empty()
                && (p != run_start + (run.len() / BLOCK_SIZE) as u64
                    || run.len() >= 256 * BLOCK_SIZE)
            {
                dev.write_blocks(run_start, &run)?;
                run.clear();
            }
            if run.is_empty() {
                run_start = p;
            }
            let c = self.cache.get_mut(&l).expect("dirty block is cached");
            run.extend_from_slice(&c.data);
            c.dirty = false;
            self.ndirty -= 1;
        }
        if !run.is_empty() {
            dev.write_blocks(run_start, &run)?;
        }
        Ok(())
    }

    /// Writes data and the changed parts of the block-map encoding, and
    /// stores the encoding's roots in `rec`.
    pub fn flush(
        &mut self,
        rec: &mut Record,
        dev: &mut dyn BlockDevice,
        alloc: &mut AllocMap,
    ) -> Result<()> {
        self.flush_data(dev, alloc)?;
        if self.imp == Imp::ExtentFile {
            if self.ext_dirty {
                self.write_extents(rec, dev, alloc)?;
            }
        } else {
            self.write_nodes(dev, alloc)?;
            for l in 0..NDIRECT {
                rec.set_ptr(l, self.map.get(&(l as u64)).copied().unwrap_or(0));
            }
            for t in 1..=3u8 {
                rec.set_ptr(
                    NDIRECT + t as usize - 1,
                    self.nodes.get(&(t, 0, 0)).copied().unwrap_or(0),
                );
            }
            rec.payload[8 * (NDIRECT + 3)..].fill(0);
        }
        rec.blocks = self.block_count();
        self.map_dirty = false;
        Ok(())
    }

    fn write_nodes(&mut self, dev: &mut dyn BlockDevice, alloc: &mut AllocMap) -> Result<()> {
        let mut keys: Vec<NodeKey> = core::mem::take(&mut self.dirty_nodes).into_iter().collect();
        keys.sort_by_key(|&(t, d, p)| (core::cmp::Reverse(d), t, p)); // children before parents
        let mut buf = vec![0u8; BLOCK_SIZE];
        for key @ (t, d, prefix) in keys {
            buf.fill(0);
            let mut any = false;
            for s in 0..PTRS_PER_BLOCK as u64 {
                let child = (prefix << SHIFT) | s;
                let p = if d + 1 == t {
                    self.map.get(&(tree_base(t) + child)).copied()
                } else {
                    self.nodes.get(&(t, d + 1, child)).copied()
                };
                if let Some(p) = p {
                    put_u64(&mut buf, 8 * s as usize, p);
                    any = true;
                }
            }
            let old = self.nodes.remove(&key);
            if any {
                let addr = cow_write(dev, alloc, old.unwrap_or(0), &buf)?;
                self.nodes.insert(key, addr);
            } else if let Some(o) = old {
                alloc.free(o)?;
            }
        }
        Ok(())
    }

    fn write_extents(
        &mut self,
        rec: &mut Record,
        dev: &mut dyn BlockDevice,
        alloc: &mut AllocMap,
    ) -> Result<()> {
        let mut ext: Vec<(u64, u64, u64)> = Vec::new();
        for (&l, &p) in &self.map {
            match ext.last_mut() {
                Some((el, len, ep))
                    if *el + *len == l && *ep + *len == p && *len < u32::MAX as u64 =>
                {
                    *len += 1
                }
                _ => ext.push((l, 1, p)),
            }
        }
        for p in core::mem::take(&mut self.chain) {
            alloc.free(p)?;
        }
        rec.payload.fill(0);
        put_u32(&mut rec.payload, 0, ext.len() as u32);
        for (i, e) in ext.iter().take(INLINE_EXTENTS).enumerate() {
            put_extent(&mut rec.payload, 16 + 16 * i, *e);
        }
        let rest: Vec<_> = ext.iter().skip(INLINE_EXTENTS).copied().collect();
        let chunks: Vec<_> = rest.chunks(EXTENTS_PER_BLOCK).collect();
        let mut addrs = Vec::with_capacity(chunks.len());
        for _ in &chunks {
            addrs.push(alloc.alloc(0)?);
        }
        let mut buf = vec![0u8; BLOCK_SIZE];
        for (i, chunk) in chunks.iter().enumerate() {
            buf.fill(0);
            put_u64(&mut buf, 0, addrs.get(i + 1).copied().unwrap_or(0));
            put_u32(&mut buf, 8, chunk.len() as u32);
            for (j, e) in chunk.iter().enumerate() {
                put_extent(&mut buf, 16 + 16 * j, *e);
            }
            dev.write_block(addrs[i], &buf)?;
        }
        put_u64(&mut rec.payload, 8, addrs.first().copied().unwrap_or(0));
        self.chain = addrs;
        self.ext_dirty = false;
        Ok(())
    }
}

fn extent_at(b: &[u8], o: usize) -> (u64, u64, u64) {
    (
        get_u32(b, o) as u64,
        get_u32(b, o + 4) as u64,
        get_u64(b, o + 8),
    )
}

fn put_extent(b: &mut [u8], o: usize, (l, len, p): (u64, u64, u64)) {
    put_u32(b, o, l as u32);
    put_u32(b, o + 4, len as u32);
    put_u64(b, o + 8, p);
}

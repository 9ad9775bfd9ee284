//! The file system: mkfs, mount, the POSIX operations, checkpoints and hot swap.

use crate::alloc_map::AllocMap;
use crate::dev::{BlockDevice, Tracked};
use crate::dir::{check_name, Dir, DirEntry};
use crate::error::{corrupt, Error, Result};
use crate::file::DataObj;
use crate::layout::{mode, Geometry, Imp, Record, Superblock, Time, MAX_FILE_SIZE, ROOT_ID};
use crate::recmap::RecordMap;
use crate::BLOCK_SIZE;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// Runs of (logical block, physical block, length) and the metadata blocks
/// of an element's layout: what [`Fs::block_map`] returns.
pub type BlockMap = (Vec<(u64, u64, u64)>, Vec<u64>);

/// Most hard links to one object.
pub const MAX_LINKS: u32 = 65_000;

/// Mount-time policy knobs.
#[derive(Debug, Clone)]
pub struct Options {
    /// A linear directory that grows past this many blocks is hot-swapped
    /// to the hashed implementation (0: never).
    pub dir_hash_threshold: u64,
    /// A regular file that grows past this many blocks is hot-swapped from
    /// small-file to extent layout at write-back (0: never).
    pub extent_threshold: u64,
    /// Cached blocks, all objects together, before write-back and eviction.
    pub cache_blocks: usize,
    /// Dirty blocks one object may hold before it writes back.
    pub dirty_blocks: usize,
    /// Refuse every change.
    pub read_only: bool,
    /// Wall clock for timestamps (the kernel supplies its own).
    pub clock: fn() -> Time,
}

fn zero_clock() -> Time {
    Time::default()
}

/// The host's wall clock (with `std`).
#[cfg(feature = "std")]
pub fn system_clock() -> Time {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Time {
        sec: d.as_secs() as i64,
        nsec: d.subsec_nanos(),
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dir_hash_threshold: 2,
            extent_threshold: 64,
            cache_blocks: 16 * 1024,
            dirty_blocks: 2048,
            read_only: false,
            #[cfg(feature = "std")]
            clock: system_clock,
            #[cfg(not(feature = "std"))]
            clock: zero_clock,
        }
    }
}

impl Options {
    /// Defaults with a clock that always says 0 (deterministic tests).
    pub fn deterministic() -> Self {
        Options {
            clock: zero_clock,
            ..Options::default()
        }
    }
}

/// Attributes of an object (what `stat` shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// Object id (the inode number).
    pub id: u64,
    /// Type and permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Hard links.
    pub nlink: u32,
    /// Bytes.
    pub size: u64,
    /// 512-byte sectors owned.
    pub blocks: u64,
    /// Access time.
    pub atime: Time,
    /// Modification time.
    pub mtime: Time,
    /// Change time.
    pub ctime: Time,
    /// Device number of a device node.
    pub rdev: u64,
    /// Implementation serving it.
    pub imp: Imp,
}

/// Changes for [`Fs::setattr`]; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct SetAttr {
    /// Permission bits (the type bits are kept).
    pub mode: Option<u32>,
    /// Owner.
    pub uid: Option<u32>,
    /// Group.
    pub gid: Option<u32>,
    /// Truncate or extend.
    pub size: Option<u64>,
    /// Access time.
    pub atime: Option<Time>,
    /// Modification time.
    pub mtime: Option<Time>,
}

/// File-system statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatFs {
    /// Block size.
    pub bsize: u32,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Blocks available to files.
    pub bavail: u64,
    /// Object ids in the RecordMap.
    pub files: u64,
    /// Free object ids (ids the map can still grow to included).
    pub ffree: u64,
    /// Longest name.
    pub namelen: u32,
}

/// An open file: KFS's open-file-instance object. It carries the
/// per-open policy state: append mode and a sequential-access detector that
/// lets a streaming reader drop blocks behind it from the file's cache.
#[derive(Debug, Clone)]
pub struct OpenFile {
    /// The object.
    pub id: u64,
    /// Writes go to the end.
    pub append: bool,
    next: u64,
    sequential: bool,
}

/// A mounted KFS.
pub struct Fs<D: BlockDevice> {
    pub(crate) dev: Tracked<D>,
    pub(crate) geo: Geometry,
    pub(crate) seq: u64,
    pub(crate) label: [u8; 32],
    pub(crate) alloc: AllocMap,
    pub(crate) recs: RecordMap,
    pub(crate) objs: BTreeMap<u64, DataObj>,
    opens: BTreeMap<u64, OpenFile>,
    open_count: BTreeMap<u64, u32>,
    next_fh: u64,
    pub(crate) opts: Options,
    ops: u64,
}

fn dtype(mode: u32) -> u8 {
    ((mode & mode::S_IFMT) >> 12) as u8
}

/// Options for [`mkfs`].
#[derive(Debug, Clone, Default)]
pub struct MkfsOptions {
    /// Volume label (at most 32 bytes).
    pub label: String,
    /// Blocks to use (default: the whole device).
    pub blocks: Option<u64>,
}

/// Formats `dev`: an empty root directory, checkpoint 1.
pub fn mkfs<D: BlockDevice>(mut dev: D, o: &MkfsOptions) -> Result<D> {
    let total = o.blocks.unwrap_or(dev.block_count());
    if total > dev.block_count() {
        return Err(Error::Invalid);
    }
    let geo = Geometry::new(total);
    if geo.first_data() + 16 > total {
        return Err(Error::NoSpace);
    }
    if o.label.len() > 32 {
        return Err(Error::NameTooLong);
    }
    let zero = vec![0u8; BLOCK_SIZE];
    dev.write_block(0, &zero)?;
    dev.write_block(1, &zero)?;
    let mut label = [0; 32];
    label[..o.label.len()].copy_from_slice(o.label.as_bytes());
    let opts = Options::default();
    let mut fs = Fs {
        dev: Tracked::new(dev),
        geo,
        seq: 0,
        label,
        alloc: AllocMap::new(geo),
        recs: RecordMap::new(),
        objs: BTreeMap::new(),
        opens: BTreeMap::new(),
        open_count: BTreeMap::new(),
        next_fh: 1,
        ops: 0,
        opts,
    };
    let now = (fs.opts.clock)();
    let mut root = Record::free();
    root.imp = Imp::LinearDir;
    root.mode = mode::S_IFDIR | 0o755;
    root.nlink = 2;
    root.parent = ROOT_ID;
    root.atime = now;
    root.mtime = now;
    root.ctime = now;
    fs.recs.put(ROOT_ID, root);
    fs.checkpoint()?;
    Ok(fs.dev.inner)
}

/// Reads both superblock slots and returns the newest valid one.
pub fn read_superblock(dev: &mut dyn BlockDevice) -> Result<Superblock> {
    let n = dev.block_count();
    if n < 2 {
        return Err(corrupt!(
            "device of {n} blocks is too small to hold a superblock"
        ));
    }
    let mut buf = vec![0u8; BLOCK_SIZE];
    let mut found = Vec::new();
    let mut errs = Vec::new();
    for slot in 0..2u64 {
        dev.read_block(slot, &mut buf)?;
        match Superblock::decode(&buf, n) {
            Ok(sb) if sb.seq % 2 != slot => errs.push(format!(
                "slot {slot}: sequence {} in the wrong slot",
                sb.seq
            )),
            Ok(sb) => found.push(sb),
            Err(Error::Corrupt(m)) => errs.push(format!("slot {slot}: {m}")),
            Err(e) => return Err(e),
        }
    }
    found.sort_by_key(|sb| core::cmp::Reverse(sb.seq));
    'next: for sb in found {
        // A single-flush commit counts only if every block it lists landed.
        for &(blk, crc) in &sb.commit {
            dev.read_block(blk, &mut buf)?;
            if crate::layout::crc32(&buf) != crc {
                errs.push(format!(
                    "slot {}: checkpoint {} is incomplete (block {blk} did not reach the disk)",
                    sb.seq % 2,
                    sb.seq
                ));
                continue 'next;
            }
        }
        return Ok(sb);
    }
    Err(corrupt!("no valid superblock ({})", errs.join("; ")))
}

impl<D: BlockDevice> Fs<D> {
    /// Mounts the newest valid checkpoint on `dev`. Refuses a corrupt
    /// image with an error naming what is wrong.
    pub fn mount(mut dev: D, opts: Options) -> Result<Self> {
        let sb = read_superblock(&mut dev)?;
        let geo = sb.geo;
        let alloc = AllocMap::load(&mut dev, geo, sb.seq % 2)?;
        let recs = RecordMap::load(&mut dev, geo, &alloc, &sb.index, sb.record_blocks)?;
        match recs.get(ROOT_ID) {
            Ok(r) if r.is_dir() => {}
            _ => {
                return Err(corrupt!(
                    "root directory (record {ROOT_ID}) is missing or not a directory"
                ))
            }
        }
        let mut fs = Fs {
            dev: Tracked::new(dev),
            geo,
            seq: sb.seq,
            label: sb.label,
            alloc,
            recs,
            objs: BTreeMap::new(),
            opens: BTreeMap::new(),
            open_count: BTreeMap::new(),
            next_fh: 1,
            ops: 0,
            opts,
        };
        if !fs.opts.read_only {
            // Objects unlinked while open when the last checkpoint was taken.
            let orphans: Vec<u64> = fs
                .recs
                .ids()
                .filter(|&i| fs.recs.get(i).is_ok_and(|r| r.nlink == 0))
                .collect();
            for id in orphans {
                fs.destroy(id)?;
            }
        }
        Ok(fs)
    }

    /// Writes everything back and returns the device.
    pub fn unmount(mut self) -> Result<D> {
        if !self.opts.read_only {
            self.checkpoint()?;
        }
        Ok(self.dev.inner)
    }

    /// Drops all in-memory state without writing (a simulated crash).
    pub fn into_device(self) -> D {
        self.dev.inner
    }

    /// The device.
    pub fn device(&mut self) -> &mut D {
        &mut self.dev.inner
    }

    /// The geometry.
    pub fn geometry(&self) -> Geometry {
        self.geo
    }

    /// Sequence number of the last checkpoint.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The volume label.
    pub fn label(&self) -> &[u8] {
        let n = self.label.iter().position(|&c| c == 0).unwrap_or(32);
        &self.label[..n]
    }

    /// The RecordMap (read-only view, for tools).
    pub fn records(&self) -> &RecordMap {
        &self.recs
    }

    /// The allocation map (read-only view, for tools).
    pub fn alloc_map(&self) -> &AllocMap {
        &self.alloc
    }

    fn now(&self) -> Time {
        (self.opts.clock)()
    }

    fn writable(&self) -> Result<()> {
        if self.opts.read_only {
            Err(Error::ReadOnly)
        } else {
            Ok(())
        }
    }

    /// Takes a checkpoint: writes every dirty object, the RecordMap, the
    /// bitmap and a superblock, with a flush before and after the
    /// superblock. Nothing the previous checkpoint references is
    /// overwritten, so a crash at any write leaves one of the two intact.
    pub fn checkpoint(&mut self) -> Result<()> {
        self.writable()?;
        let ids: Vec<u64> = self
            .objs
            .iter()
            .filter(|(_, o)| o.is_dirty())
            .map(|(i, _)| *i)
            .collect();
        for id in ids {
            self.flush_obj(id)?;
        }
        let (index, record_blocks) = self.recs.write(&mut self.dev, &mut self.alloc)?;
        let seq = self.seq + 1;
        self.alloc.write(&mut self.dev, seq % 2)?;
        // Small checkpoints commit with one flush: the superblock lists every
        // block this checkpoint references that was written since the last
        // one, with its CRC, and mount rejects the superblock unless all
        // match. Large ones flush before the superblock instead.
        let commit: Vec<(u64, u32)> = if self.dev.overflow {
            self.dev.flush()?;
            Vec::new()
        } else {
            let alloc = &self.alloc;
            self.dev
                .crcs
                .iter()
                .filter(|(b, _)| **b >= 2 && alloc.is_used(**b))
                .map(|(b, c)| (*b, *c))
                .collect()
        };
        let sb = Superblock {
            seq,
            geo: self.geo,
            record_blocks,
            index,
            free_blocks: self.alloc.free_blocks(),
            label: self.label,
            commit,
        };
        let mut buf = vec![0u8; BLOCK_SIZE];
        sb.encode(&mut buf);
        self.dev.write_block(seq % 2, &buf)?;
        self.dev.flush()?;
        self.dev.crcs.clear();
        self.dev.overflow = false;
        self.alloc.commit();
        self.seq = seq;
        Ok(())
    }

    /// Dirty data blocks cached in all objects.
    fn dirty_blocks(&self) -> u64 {
        self.objs.values().map(|o| o.dirty_count() as u64).sum()
    }

    /// Whether anything changed since the last checkpoint.
    pub fn needs_checkpoint(&self) -> bool {
        self.recs.is_dirty() || self.objs.values().any(|o| o.is_dirty())
    }

    /// `fsync`: KFS commits by checkpoint, so this makes everything durable
    /// (and costs nothing when nothing changed since the last one).
    pub fn fsync(&mut self) -> Result<()> {
        if self.needs_checkpoint() {
            self.checkpoint()?;
        }
        Ok(())
    }

    fn flush_obj(&mut self, id: u64) -> Result<()> {
        let Some(o) = self.objs.get_mut(&id) else {
            return Ok(());
        };
        o.flush_data(&mut self.dev, &mut self.alloc)?;
        let rec = self.recs.get_mut(id)?;
        // Adaptive policy: a large small-file file moves to extents.
        if rec.imp == Imp::SmallFile
            && rec.kind() == mode::S_IFREG
            && self.opts.extent_threshold > 0
            && o.mapping().len() as u64 > self.opts.extent_threshold
        {
            o.set_encoding(Imp::ExtentFile, &mut self.alloc)?;
            rec.imp = Imp::ExtentFile;
        }
        o.flush(rec, &mut self.dev, &mut self.alloc)
    }

    pub(crate) fn load(&mut self, id: u64) -> Result<()> {
        if !self.objs.contains_key(&id) {
            let rec = self.recs.get(id)?;
            let o = DataObj::load(id, rec, &mut self.dev, self.geo)?;
            self.objs.insert(id, o);
        }
        Ok(())
    }

    /// Keeps memory bounded: writes back and evicts objects' caches.
    fn pressure(&mut self, id: u64) -> Result<()> {
        if self
            .objs
            .get(&id)
            .is_some_and(|o| o.dirty_count() > self.opts.dirty_blocks)
        {
            let o = self.objs.get_mut(&id).expect("checked");
            o.flush_data(&mut self.dev, &mut self.alloc)?;
        }
        self.ops += 1;
        if !self.ops.is_multiple_of(64) {
            return Ok(());
        }
        let cached: usize = self.objs.values().map(|o| o.cached_count()).sum();
        if cached <= self.opts.cache_blocks && self.objs.len() <= self.opts.cache_blocks / 4 {
            return Ok(());
        }
        let ids: Vec<u64> = self.objs.keys().copied().collect();
        for i in ids {
            if self.objs.get(&i).is_some_and(|o| o.is_dirty()) {
                self.flush_obj(i)?;
            }
            let open = self.open_count.contains_key(&i);
            let o = self.objs.get_mut(&i).expect("listed");
            o.evict_clean();
            if !open && i != id {
                self.objs.remove(&i);
            }
        }
        Ok(())
    }

    fn attr_of(&self, id: u64) -> Result<Attr> {
        let r = self.recs.get(id)?;
        let blocks = self.objs.get(&id).map_or(r.blocks, |o| o.block_count());
        let is_dev = matches!(r.kind(), mode::S_IFCHR | mode::S_IFBLK);
        Ok(Attr {
            id,
            mode: r.mode,
            uid: r.uid,
            gid: r.gid,
            nlink: r.nlink,
            size: r.size,
            blocks: blocks.saturating_mul(BLOCK_SIZE as u64 / 512),
            atime: r.atime,
            mtime: r.mtime,
            ctime: r.ctime,
            rdev: if is_dev { r.parent } else { 0 },
            imp: r.imp,
        })
    }

    /// Runs `f` on directory `id` and stores layout changes in its record.
    pub(crate) fn with_dir<R>(
        &mut self,
        id: u64,
        f: impl FnOnce(&mut Dir<'_>) -> Result<R>,
    ) -> Result<R> {
        let rec = self.recs.get(id)?;
        if !rec.imp.is_dir() {
            return Err(Error::NotDir);
        }
        let (imp, size, buckets) = (rec.imp, rec.size, rec.buckets);
        self.load(id)?;
        let max_id = self.recs.len();
        let data = self.objs.get_mut(&id).expect("loaded");
        let mut d = Dir {
            id,
            imp,
            size,
            buckets,
            data,
            dev: &mut self.dev,
            max_id,
        };
        let r = f(&mut d);
        let (nimp, nsize, nbuckets) = (d.imp, d.size, d.buckets);
        if (nimp, nsize, nbuckets) != (imp, size, buckets) {
            if nsize < size {
                data.truncate(nsize, &mut self.dev, &mut self.alloc)?;
            }
            data.imp = nimp;
            let rec = self.recs.get_mut(id)?;
            rec.imp = nimp;
            rec.size = nsize;
            rec.buckets = nbuckets;
        }
        r
    }

    fn touch_dir(&mut self, id: u64) -> Result<()> {
        let now = self.now();
        let r = self.recs.get_mut(id)?;
        r.mtime = now;
        r.ctime = now;
        Ok(())
    }

    /// The root directory's id.
    pub fn root(&self) -> u64 {
        ROOT_ID
    }

    /// Attributes of `id`.
    pub fn getattr(&self, id: u64) -> Result<Attr> {
        self.attr_of(id)
    }

    /// Looks `name` up in directory `parent`.
    pub fn lookup(&mut self, parent: u64, name: &[u8]) -> Result<Attr> {
        if name == b"." {
            return self.attr_of(parent);
        }
        if name == b".." {
            let p = self.recs.get(parent)?;
            if !p.is_dir() {
                return Err(Error::NotDir);
            }
            return self.attr_of(p.parent);
        }
        if name.len() > crate::MAX_NAME {
            return Err(Error::NameTooLong);
        }
        let e = self
            .with_dir(parent, |d| d.lookup(name))?
            .ok_or(Error::NotFound)?;
        self.attr_of(e.id).map_err(|_| {
            corrupt!(
                "directory {parent}: entry {:?} points to free record {}",
                String::from_utf8_lossy(name),
                e.id
            )
        })
    }

    /// Resolves an absolute or root-relative path (no symlinks followed).
    pub fn resolve(&mut self, path: &str) -> Result<u64> {
        let mut id = ROOT_ID;
        for c in path.split('/').filter(|c| !c.is_empty()) {
            id = self.lookup(id, c.as_bytes())?.id;
        }
        Ok(id)
    }

    pub(crate) fn add_entry(&mut self, parent: u64, name: &[u8], id: u64, ftype: u8) -> Result<()> {
        let threshold = self.opts.dir_hash_threshold;
        let e = DirEntry {
            id,
            ftype,
            name: name.to_vec(),
        };
        self.with_dir(parent, |d| {
            d.insert(&e)?;
            // Adaptive policy: a linear directory that grew large becomes hashed.
            if d.imp == Imp::LinearDir && threshold > 0 && d.size / BLOCK_SIZE as u64 > threshold {
                let all = d.entries()?;
                d.rebuild(Imp::HashDir, &all, 1)?;
            }
            Ok(())
        })?;
        self.touch_dir(parent)
    }

    fn new_object(
        &mut self,
        parent: u64,
        name: &[u8],
        m: u32,
        uid: u32,
        gid: u32,
        extra: u64,
    ) -> Result<Attr> {
        self.writable()?;
        check_name(name)?;
        if !self.recs.get(parent)?.is_dir() {
            return Err(Error::NotDir);
        }
        if self.with_dir(parent, |d| d.lookup(name))?.is_some() {
            return Err(Error::Exists);
        }
        let now = self.now();
        let mut r = Record::free();
        let is_dir = m & mode::S_IFMT == mode::S_IFDIR;
        r.imp = if is_dir {
            Imp::LinearDir
        } else {
            Imp::SmallFile
        };
        r.mode = m;
        r.uid = uid;
        r.gid = gid;
        r.nlink = if is_dir { 2 } else { 1 };
        r.parent = extra;
        r.atime = now;
        r.mtime = now;
        r.ctime = now;
        let id = self.recs.insert(r)?;
        self.objs.insert(
            id,
            DataObj::empty(if is_dir {
                Imp::LinearDir
            } else {
                Imp::SmallFile
            }),
        );
        if let Err(e) = self.add_entry(parent, name, id, dtype(m)) {
            self.objs.remove(&id);
            self.recs.remove(id);
            return Err(e);
        }
        if is_dir {
            let p = self.recs.get_mut(parent)?;
            p.nlink = p.nlink.saturating_add(1);
        }
        self.attr_of(id)
    }

    /// Creates a regular file, device node, FIFO or socket (`mode` includes
    /// the type bits; a bare permission mode means a regular file).
    pub fn create(
        &mut self,
        parent: u64,
        name: &[u8],
        m: u32,
        uid: u32,
        gid: u32,
        rdev: u64,
    ) -> Result<Attr> {
        let m = if m & mode::S_IFMT == 0 {
            m | mode::S_IFREG
        } else {
            m
        };
        match m & mode::S_IFMT {
            mode::S_IFREG | mode::S_IFIFO | mode::S_IFSOCK => {
                self.new_object(parent, name, m, uid, gid, 0)
            }
            mode::S_IFCHR | mode::S_IFBLK => self.new_object(parent, name, m, uid, gid, rdev),
            _ => Err(Error::Invalid),
        }
    }

    /// Creates a directory.
    pub fn mkdir(&mut self, parent: u64, name: &[u8], m: u32, uid: u32, gid: u32) -> Result<Attr> {
        self.new_object(parent, name, mode::S_IFDIR | (m & 0o7777), uid, gid, parent)
    }

    /// Creates a symbolic link to `target`.
    pub fn symlink(
        &mut self,
        parent: u64,
        name: &[u8],
        target: &[u8],
        uid: u32,
        gid: u32,
    ) -> Result<Attr> {
        if target.is_empty() || target.len() >= 4096 {
            return Err(if target.is_empty() {
                Error::Invalid
            } else {
                Error::NameTooLong
            });
        }
        let a = self.new_object(parent, name, mode::S_IFLNK | 0o777, uid, gid, 0)?;
        self.write(a.id, 0, target)?;
        self.attr_of(a.id)
    }

    /// The target of symlink `id`.
    pub fn readlink(&mut self, id: u64) -> Result<Vec<u8>> {
        let r = self.recs.get(id)?;
        if r.kind() != mode::S_IFLNK {
            return Err(Error::Invalid);
        }
        if r.size >= 4096 {
            return Err(corrupt!("symlink {id}: target of {} bytes", r.size));
        }
        let size = r.size;
        self.read(id, 0, size as usize)
    }

    /// Adds a hard link to `id` as `newparent/newname`.
    pub fn link(&mut self, id: u64, newparent: u64, newname: &[u8]) -> Result<Attr> {
        self.writable()?;
        check_name(newname)?;
        let r = self.recs.get(id)?;
        if r.is_dir() {
            return Err(Error::NotPermitted);
        }
        if r.nlink >= MAX_LINKS {
            return Err(Error::TooManyLinks);
        }
        let ft = dtype(r.mode);
        if self.with_dir(newparent, |d| d.lookup(newname))?.is_some() {
            return Err(Error::Exists);
        }
        self.add_entry(newparent, newname, id, ft)?;
        let now = self.now();
        let r = self.recs.get_mut(id)?;
        r.nlink = r.nlink.saturating_add(1);
        r.ctime = now;
        self.attr_of(id)
    }

    /// Drops one link of `id`; frees it when none is left and it is not open.
    fn drop_link(&mut self, id: u64) -> Result<()> {
        let now = self.now();
        let r = self.recs.get_mut(id)?;
        r.ctime = now;
        if r.is_dir() {
            r.nlink = 0;
        } else {
            r.nlink = r.nlink.saturating_sub(1);
        }
        if r.nlink == 0 && !self.open_count.contains_key(&id) {
            self.destroy(id)?;
        }
        Ok(())
    }

    pub(crate) fn destroy(&mut self, id: u64) -> Result<()> {
        self.load(id)?;
        let mut o = self.objs.remove(&id).expect("loaded");
        o.destroy(&mut self.alloc)?;
        self.recs.remove(id);
        Ok(())
    }

    /// Removes the non-directory `parent/name`.
    pub fn unlink(&mut self, parent: u64, name: &[u8]) -> Result<()> {
        self.writable()?;
        let a = self.lookup(parent, name)?;
        if a.mode & mode::S_IFMT == mode::S_IFDIR {
            return Err(Error::IsDir);
        }
        self.with_dir(parent, |d| d.remove(name))?;
        self.touch_dir(parent)?;
        self.drop_link(a.id)
    }

    fn is_empty_dir(&mut self, id: u64) -> Result<bool> {
        Ok(self.with_dir(id, |d| d.entries())?.is_empty())
    }

    /// Removes the empty directory `parent/name`.
    pub fn rmdir(&mut self, parent: u64, name: &[u8]) -> Result<()> {
        self.writable()?;
        if name == b"." {
            return Err(Error::Invalid);
        }
        if name == b".." {
            return Err(Error::NotEmpty);
        }
        let a = self.lookup(parent, name)?;
        if a.mode & mode::S_IFMT != mode::S_IFDIR {
            return Err(Error::NotDir);
        }
        if !self.is_empty_dir(a.id)? {
            return Err(Error::NotEmpty);
        }
        self.with_dir(parent, |d| d.remove(name))?;
        self.touch_dir(parent)?;
        let p = self.recs.get_mut(parent)?;
        p.nlink = p.nlink.saturating_sub(1);
        self.drop_link(a.id)
    }

    /// Whether `anc` is `id` or one of its ancestors.
    fn is_ancestor(&self, anc: u64, mut id: u64) -> Result<bool> {
        for _ in 0..=self.recs.len() {
            if id == anc {
                return Ok(true);
            }
            if id == ROOT_ID {
                return Ok(false);
            }
            id = self.recs.get(id)?.parent;
        }
        Err(corrupt!("directory parent chain from {id} loops"))
    }

    /// Renames `parent/name` to `newparent/newname`, replacing a compatible
    /// target. `noreplace` fails with [`Error::Exists`] instead.
    pub fn rename(
        &mut self,
        parent: u64,
        name: &[u8],
        newparent: u64,
        newname: &[u8],
        noreplace: bool,
    ) -> Result<()> {
        self.writable()?;
        check_name(name)?;
        check_name(newname)?;
        let src = self.lookup(parent, name)?;
        if !self.recs.get(newparent)?.is_dir() {
            return Err(Error::NotDir);
        }
        let src_dir = src.mode & mode::S_IFMT == mode::S_IFDIR;
        if src_dir && self.is_ancestor(src.id, newparent)? {
            return Err(Error::Invalid);
        }
        let target = self.with_dir(newparent, |d| d.lookup(newname))?;
        if let Some(t) = &target {
            if t.id == src.id {
                return Ok(()); // same object: POSIX says do nothing
            }
            if noreplace {
                return Err(Error::Exists);
            }
            let t_dir = self.recs.get(t.id)?.is_dir();
            match (src_dir, t_dir) {
                (true, false) => return Err(Error::NotDir),
                (false, true) => return Err(Error::IsDir),
                (true, true) if !self.is_empty_dir(t.id)? => return Err(Error::NotEmpty),
                _ => {}
            }
        }
        self.with_dir(parent, |d| d.remove(name))?;
        if let Some(t) = target {
            self.with_dir(newparent, |d| d.remove(newname))?;
            if src_dir {
                let p = self.recs.get_mut(newparent)?;
                p.nlink = p.nlink.saturating_sub(1);
            }
            self.drop_link(t.id)?;
        }
        self.add_entry(newparent, newname, src.id, dtype(src.mode))?;
        self.touch_dir(parent)?;
        let now = self.now();
        let r = self.recs.get_mut(src.id)?;
        r.ctime = now;
        if src_dir && parent != newparent {
            r.parent = newparent;
            let p = self.recs.get_mut(parent)?;
            p.nlink = p.nlink.saturating_sub(1);
            let p = self.recs.get_mut(newparent)?;
            p.nlink = p.nlink.saturating_add(1);
        }
        Ok(())
    }

    /// Entries of directory `id` (without `.` and `..`).
    pub fn readdir(&mut self, id: u64) -> Result<Vec<DirEntry>> {
        self.with_dir(id, |d| d.entries())
    }

    /// Reads up to `len` bytes at `off` (short at end of file).
    pub fn read(&mut self, id: u64, off: u64, len: usize) -> Result<Vec<u8>> {
        let r = self.recs.get(id)?;
        if r.is_dir() {
            return Err(Error::IsDir);
        }
        let n = r.size.saturating_sub(off).min(len as u64) as usize;
        let mut buf = vec![0u8; n];
        if n > 0 {
            self.load(id)?;
            let o = self.objs.get_mut(&id).expect("loaded");
            o.read(off, &mut buf, &mut self.dev)?;
            self.pressure(id)?;
        }
        Ok(buf)
    }

    /// Writes `data` at `off`, extending the file as needed.
    pub fn write(&mut self, id: u64, off: u64, data: &[u8]) -> Result<usize> {
        self.writable()?;
        let r = self.recs.get(id)?;
        if r.is_dir() {
            return Err(Error::IsDir);
        }
        let end = off
            .checked_add(data.len() as u64)
            .filter(|&e| e <= MAX_FILE_SIZE)
            .ok_or(Error::TooBig)?;
        if data.is_empty() {
            return Ok(0);
        }
        // Every dirty cached block may need a fresh block at write-back
        // (copy-on-write), so count them against the space left; when that
        // is short, write the data back now and look again.
        let need = data.len().div_ceil(BLOCK_SIZE) as u64 + 1;
        if self.alloc.available() < need + self.dirty_blocks() {
            let ids: Vec<u64> = self
                .objs
                .iter()
                .filter(|(_, o)| o.dirty_count() > 0)
                .map(|(i, _)| *i)
                .collect();
            for i in ids {
                let o = self.objs.get_mut(&i).expect("listed");
                o.flush_data(&mut self.dev, &mut self.alloc)?;
            }
            if self.alloc.available() < need {
                return Err(Error::NoSpace);
            }
        }
        self.load(id)?;
        let o = self.objs.get_mut(&id).expect("loaded");
        o.write(off, data, &mut self.dev)?;
        let now = self.now();
        let r = self.recs.get_mut(id)?;
        r.size = r.size.max(end);
        r.mtime = now;
        r.ctime = now;
        self.pressure(id)?;
        Ok(data.len())
    }

    /// Changes attributes (chmod, chown, truncate, utimens).
    pub fn setattr(&mut self, id: u64, s: &SetAttr) -> Result<Attr> {
        self.writable()?;
        let r = self.recs.get(id)?;
        if let Some(size) = s.size {
            if r.is_dir() {
                return Err(Error::IsDir);
            }
            if size > MAX_FILE_SIZE {
                return Err(Error::TooBig);
            }
            if size < r.size {
                self.load(id)?;
                let o = self.objs.get_mut(&id).expect("loaded");
                o.truncate(size, &mut self.dev, &mut self.alloc)?;
            }
        }
        let now = self.now();
        let r = self.recs.get_mut(id)?;
        if let Some(m) = s.mode {
            r.mode = (r.mode & mode::S_IFMT) | (m & 0o7777);
        }
        if let Some(u) = s.uid {
            r.uid = u;
        }
        if let Some(g) = s.gid {
            r.gid = g;
        }
        if let Some(size) = s.size {
            if size != r.size {
                r.mtime = now;
            }
            r.size = size;
        }
        if let Some(t) = s.atime {
            r.atime = t;
        }
        if let Some(t) = s.mtime {
            r.mtime = t;
        }
        r.ctime = now;
        self.attr_of(id)
    }

    /// Opens `id`, returning a handle for [`read_fh`](Self::read_fh) and friends.
    pub fn open(&mut self, id: u64, append: bool) -> Result<u64> {
        self.recs.get(id)?;
        let fh = self.next_fh;
        self.next_fh += 1;
        self.opens.insert(
            fh,
            OpenFile {
                id,
                append,
                next: 0,
                sequential: false,
            },
        );
        *self.open_count.entry(id).or_insert(0) += 1;
        Ok(fh)
    }

    /// The open-file object behind `fh`.
    pub fn open_file(&self, fh: u64) -> Result<&OpenFile> {
        self.opens.get(&fh).ok_or(Error::Invalid)
    }

    /// Reads through an open file. A sequential reader's blocks are
    /// dropped from the cache behind it (its open-file policy).
    pub fn read_fh(&mut self, fh: u64, off: u64, len: usize) -> Result<Vec<u8>> {
        let of = self.opens.get_mut(&fh).ok_or(Error::Invalid)?;
        let id = of.id;
        of.sequential = off == of.next;
        of.next = off + len as u64;
        let seq = of.sequential;
        let out = self.read(id, off, len)?;
        if seq {
            if let Some(o) = self.objs.get_mut(&id) {
                if o.cached_count() > 256 && o.dirty_count() == 0 {
                    o.evict_clean();
                }
            }
        }
        Ok(out)
    }

    /// Writes through an open file (honouring append mode).
    pub fn write_fh(&mut self, fh: u64, off: u64, data: &[u8]) -> Result<usize> {
        let of = self.opens.get(&fh).ok_or(Error::Invalid)?;
        let id = of.id;
        let off = if of.append {
            self.recs.get(id)?.size
        } else {
            off
        };
        self.write(id, off, data)
    }

    /// Closes `fh`; an unlinked object goes away with its last handle.
    pub fn release(&mut self, fh: u64) -> Result<()> {
        let of = self.opens.remove(&fh).ok_or(Error::Invalid)?;
        let c = self.open_count.get_mut(&of.id).expect("counted");
        *c -= 1;
        if *c == 0 {
            self.open_count.remove(&of.id);
            if self.recs.get(of.id).is_ok_and(|r| r.nlink == 0) && !self.opts.read_only {
                self.destroy(of.id)?;
            }
        }
        Ok(())
    }

    /// Statistics.
    pub fn statfs(&self) -> StatFs {
        let used = self.recs.ids().count() as u64;
        let cap = (crate::layout::MAX_INDEX
            * crate::layout::PTRS_PER_BLOCK
            * crate::layout::RECS_PER_BLOCK) as u64;
        StatFs {
            bsize: BLOCK_SIZE as u32,
            blocks: self.geo.total,
            bfree: self.alloc.free_blocks(),
            bavail: self.alloc.available(),
            files: cap.min(self.geo.total),
            ffree: cap.min(self.geo.total).saturating_sub(used),
            namelen: crate::MAX_NAME as u32,
        }
    }

    /// The block map of `id` as runs of (logical block, physical block,
    /// length), and the metadata blocks its layout uses (for tools).
    pub fn block_map(&mut self, id: u64) -> Result<BlockMap> {
        self.load(id)?;
        let o = self.objs.get(&id).expect("loaded");
        let mut runs: Vec<(u64, u64, u64)> = Vec::new();
        for (&l, &p) in o.mapping() {
            match runs.last_mut() {
                Some((rl, rp, n)) if *rl + *n == l && *rp + *n == p => *n += 1,
                _ => runs.push((l, p, 1)),
            }
        }
        Ok((runs, o.meta_blocks()))
    }

    /// The implementation serving `id`.
    pub fn imp(&self, id: u64) -> Result<Imp> {
        Ok(self.recs.get(id)?.imp)
    }

    /// Hot swap: switches live element `id` to implementation `imp`,
    /// converting its representation in place. Files move between
    /// small-file and extent layouts without moving data; directories are
    /// rebuilt as linear or hashed. The change is recorded in the
    /// RecordMap, so the next mount instantiates the new implementation.
    pub fn set_imp(&mut self, id: u64, imp: Imp) -> Result<()> {
        self.writable()?;
        let r = self.recs.get(id)?;
        if r.imp == imp {
            return Ok(());
        }
        match (r.kind(), imp) {
            (mode::S_IFREG, Imp::SmallFile | Imp::ExtentFile) => {
                self.load(id)?;
                let o = self.objs.get_mut(&id).expect("loaded");
                o.set_encoding(imp, &mut self.alloc)?;
                self.recs.get_mut(id)?.imp = imp;
                Ok(())
            }
            (mode::S_IFDIR, Imp::LinearDir | Imp::HashDir) => self.with_dir(id, |d| {
                let all = d.entries()?;
                d.rebuild(imp, &all, 1)
            }),
            _ => Err(Error::Invalid),
        }
    }
}

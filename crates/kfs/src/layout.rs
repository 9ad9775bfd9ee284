//! On-disk layout: constants, the superblock and the RecordMap's records.
//!
//! ```text
//! block 0, 1        superblock slots (checkpoint n lives in slot n % 2)
//! 2 .. 2+B          allocation bitmap, region A (belongs to slot 0)
//! 2+B .. 2+2B       allocation bitmap, region B (belongs to slot 1)
//! 2+2B ..           data area: record blocks, RecordMap index blocks,
//!                   indirect blocks, extent blocks, directory and file data
//! ```
//!
//! All integers are little-endian. Every decoder checks what it reads and
//! returns [`Error::Corrupt`](crate::Error::Corrupt) naming the bad field.

use crate::error::{corrupt, Result};
use crate::BLOCK_SIZE;

/// Magic at the start of a superblock.
pub const MAGIC: [u8; 8] = *b"K42-KFS1";
/// On-disk format version.
pub const VERSION: u32 = 1;
/// Bytes per RecordMap record.
pub const RECORD_SIZE: usize = 256;
/// Records per record block.
pub const RECS_PER_BLOCK: usize = BLOCK_SIZE / RECORD_SIZE;
/// Block pointers per indirect or index block.
pub const PTRS_PER_BLOCK: usize = BLOCK_SIZE / 8;
/// Bits per bitmap block.
pub const BITS_PER_BLOCK: u64 = (BLOCK_SIZE * 8) as u64;
/// Offset of the RecordMap index array in the superblock.
const SB_INDEX_OFF: usize = 128;
/// Most RecordMap index blocks (bounds the number of objects to
/// `MAX_INDEX * PTRS_PER_BLOCK * RECS_PER_BLOCK`, about a million).
pub const MAX_INDEX: usize = 128;
/// Offset of the commit list in the superblock.
const SB_COMMIT_OFF: usize = SB_INDEX_OFF + 8 * MAX_INDEX;
/// Most (block, CRC) pairs in a superblock's commit list.
pub const MAX_COMMIT: usize = (BLOCK_SIZE - 4 - 4 - SB_COMMIT_OFF) / 12;
/// The root directory's object id.
pub const ROOT_ID: u64 = 1;
/// Longest file name.
pub const MAX_NAME: usize = 255;
/// Largest file size (covers the small-file triple-indirect tree).
pub const MAX_FILE_SIZE: u64 = 1 << 39;
/// Direct pointers in a small-file record.
pub const NDIRECT: usize = 12;
/// Extents stored inline in an extent-file record.
pub const INLINE_EXTENTS: usize = 9;
/// Extents per overflow extent block.
pub const EXTENTS_PER_BLOCK: usize = (BLOCK_SIZE - 16) / 16;

pub(crate) fn get_u16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
pub(crate) fn get_u32(b: &[u8], o: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[o..o + 4]);
    u32::from_le_bytes(a)
}
pub(crate) fn get_u64(b: &[u8], o: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}
pub(crate) fn put_u16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_u32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_u64(b: &mut [u8], o: usize, v: u64) {
    b[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = (c >> 1) ^ (0xEDB8_8320 & (c & 1).wrapping_neg());
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// CRC-32 (IEEE), table-driven (the table is built at compile time).
pub fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |crc, &b| {
        (crc >> 8) ^ CRC_TABLE[((crc ^ b as u32) & 0xff) as usize]
    })
}

/// Where things are, derived from the device size alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Blocks on the device that KFS uses.
    pub total: u64,
    /// Blocks in one bitmap region.
    pub bitmap_blocks: u64,
}

impl Geometry {
    /// Geometry for a device of `total` blocks.
    pub fn new(total: u64) -> Self {
        Geometry {
            total,
            bitmap_blocks: total.div_ceil(BITS_PER_BLOCK),
        }
    }
    /// First block of the bitmap region for superblock slot `slot`.
    pub fn bitmap_start(&self, slot: u64) -> u64 {
        2 + slot * self.bitmap_blocks
    }
    /// First block that may hold records, indices or data.
    pub fn first_data(&self) -> u64 {
        2 + 2 * self.bitmap_blocks
    }
    /// Whether `b` is a valid data-area block.
    pub fn in_data(&self, b: u64) -> bool {
        b >= self.first_data() && b < self.total
    }
}

/// A decoded superblock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superblock {
    /// Checkpoint sequence number; the valid slot with the highest wins.
    pub seq: u64,
    /// Device geometry at mkfs time.
    pub geo: Geometry,
    /// Number of record blocks in the RecordMap.
    pub record_blocks: u64,
    /// Addresses of the RecordMap index blocks.
    pub index: alloc::vec::Vec<u64>,
    /// Free blocks at checkpoint time (informational, checked by fsck).
    pub free_blocks: u64,
    /// Volume label (NUL padded).
    pub label: [u8; 32],
    /// Single-flush commit: every block written since the previous
    /// checkpoint with its CRC-32. Empty when the checkpoint was written with
    /// a flush before the superblock (then nothing needs verifying).
    pub commit: alloc::vec::Vec<(u64, u32)>,
}

impl Superblock {
    /// Encodes into one block, with the checksum.
    pub fn encode(&self, b: &mut [u8]) {
        b.fill(0);
        b[0..8].copy_from_slice(&MAGIC);
        put_u32(b, 8, VERSION);
        put_u32(b, 12, BLOCK_SIZE as u32);
        put_u64(b, 16, self.geo.total);
        put_u64(b, 24, self.seq);
        put_u64(b, 32, self.geo.bitmap_blocks);
        put_u64(b, 40, self.record_blocks);
        put_u32(b, 48, self.index.len() as u32);
        put_u64(b, 56, self.free_blocks);
        b[64..96].copy_from_slice(&self.label);
        for (i, a) in self.index.iter().enumerate() {
            put_u64(b, SB_INDEX_OFF + 8 * i, *a);
        }
        put_u32(b, SB_COMMIT_OFF, self.commit.len() as u32);
        for (i, (blk, crc)) in self.commit.iter().enumerate() {
            put_u64(b, SB_COMMIT_OFF + 4 + 12 * i, *blk);
            put_u32(b, SB_COMMIT_OFF + 12 + 12 * i, *crc);
        }
        let crc = crc32(&b[..BLOCK_SIZE - 4]);
        put_u32(b, BLOCK_SIZE - 4, crc);
    }

    /// Decodes and validates a superblock read from a device of
    /// `dev_blocks` blocks.
    pub fn decode(b: &[u8], dev_blocks: u64) -> Result<Self> {
        if b[0..8] != MAGIC {
            return Err(corrupt!("superblock: bad magic (not a KFS image)"));
        }
        let crc = get_u32(b, BLOCK_SIZE - 4);
        if crc != crc32(&b[..BLOCK_SIZE - 4]) {
            return Err(corrupt!("superblock: checksum mismatch"));
        }
        let version = get_u32(b, 8);
        if version != VERSION {
            return Err(corrupt!("superblock: unsupported version {version}"));
        }
        let bs = get_u32(b, 12);
        if bs as usize != BLOCK_SIZE {
            return Err(corrupt!(
                "superblock: block size {bs}, expected {BLOCK_SIZE}"
            ));
        }
        let total = get_u64(b, 16);
        if total > dev_blocks {
            return Err(corrupt!(
                "superblock: {total} blocks but the device has only {dev_blocks}"
            ));
        }
        let geo = Geometry::new(total);
        if get_u64(b, 32) != geo.bitmap_blocks {
            return Err(corrupt!(
                "superblock: bitmap size {} does not match {total} blocks",
                get_u64(b, 32)
            ));
        }
        if geo.first_data() + 4 > total {
            return Err(corrupt!(
                "superblock: device of {total} blocks is too small"
            ));
        }
        let record_blocks = get_u64(b, 40);
        let nidx = get_u32(b, 48) as usize;
        if nidx > MAX_INDEX
            || record_blocks.div_ceil(PTRS_PER_BLOCK as u64) != nidx as u64
            || record_blocks == 0
        {
            return Err(corrupt!(
                "superblock: {record_blocks} record blocks with {nidx} index blocks"
            ));
        }
        let mut index = alloc::vec::Vec::with_capacity(nidx);
        for i in 0..nidx {
            let a = get_u64(b, SB_INDEX_OFF + 8 * i);
            if !geo.in_data(a) {
                return Err(corrupt!(
                    "superblock: RecordMap index block {i} at {a} is outside the data area"
                ));
            }
            index.push(a);
        }
        let mut label = [0; 32];
        label.copy_from_slice(&b[64..96]);
        let ncommit = get_u32(b, SB_COMMIT_OFF) as usize;
        if ncommit > MAX_COMMIT {
            return Err(corrupt!("superblock: commit list of {ncommit} blocks"));
        }
        let mut commit = alloc::vec::Vec::with_capacity(ncommit);
        for i in 0..ncommit {
            let blk = get_u64(b, SB_COMMIT_OFF + 4 + 12 * i);
            if blk < 2 || blk >= total {
                return Err(corrupt!("superblock: commit list names block {blk}"));
            }
            commit.push((blk, get_u32(b, SB_COMMIT_OFF + 12 + 12 * i)));
        }
        Ok(Superblock {
            seq: get_u64(b, 24),
            geo,
            record_blocks,
            index,
            free_blocks: get_u64(b, 56),
            label,
            commit,
        })
    }
}

/// A timestamp: seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time {
    /// Seconds.
    pub sec: i64,
    /// Nanoseconds, `< 1_000_000_000`.
    pub nsec: u32,
}

/// Which implementation serves an element; recorded in its record so the
/// right object is instantiated when the element is loaded (paper §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Imp {
    /// Unused record.
    Free = 0,
    /// Direct + single/double/triple indirect block pointers in the record.
    /// Also serves symlinks and device nodes.
    SmallFile = 1,
    /// Extents (logical, physical, length): best for large contiguous files.
    ExtentFile = 2,
    /// Directory whose entries are packed in order and scanned.
    LinearDir = 3,
    /// Directory whose entries are hashed into bucket blocks.
    HashDir = 4,
}

impl Imp {
    fn from_u8(v: u8) -> Option<Imp> {
        Some(match v {
            0 => Imp::Free,
            1 => Imp::SmallFile,
            2 => Imp::ExtentFile,
            3 => Imp::LinearDir,
            4 => Imp::HashDir,
            _ => return None,
        })
    }
    /// Whether this is a directory implementation.
    pub fn is_dir(self) -> bool {
        matches!(self, Imp::LinearDir | Imp::HashDir)
    }
    /// Short name (used by tools and the `user.kfs.impl` xattr).
    pub fn name(self) -> &'static str {
        match self {
            Imp::Free => "free",
            Imp::SmallFile => "small",
            Imp::ExtentFile => "extent",
            Imp::LinearDir => "linear",
            Imp::HashDir => "hashed",
        }
    }
    /// Parses [`name`](Self::name).
    pub fn from_name(s: &str) -> Option<Imp> {
        [
            Imp::SmallFile,
            Imp::ExtentFile,
            Imp::LinearDir,
            Imp::HashDir,
        ]
        .into_iter()
        .find(|i| i.name() == s)
    }
}

/// File type bits of `mode` (as in Linux).
pub mod mode {
    /// Mask of the type bits.
    pub const S_IFMT: u32 = 0o170000;
    /// Socket.
    pub const S_IFSOCK: u32 = 0o140000;
    /// Symbolic link.
    pub const S_IFLNK: u32 = 0o120000;
    /// Regular file.
    pub const S_IFREG: u32 = 0o100000;
    /// Block device.
    pub const S_IFBLK: u32 = 0o060000;
    /// Directory.
    pub const S_IFDIR: u32 = 0o040000;
    /// Character device.
    pub const S_IFCHR: u32 = 0o020000;
    /// FIFO.
    pub const S_IFIFO: u32 = 0o010000;
}

/// One RecordMap record: an element's metadata and its implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Implementation serving the element.
    pub imp: Imp,
    /// Type and permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Hard links (directories: 2 + subdirectories).
    pub nlink: u32,
    /// Hashed directories: number of bucket blocks.
    pub buckets: u32,
    /// Size in bytes.
    pub size: u64,
    /// Access time.
    pub atime: Time,
    /// Modification time.
    pub mtime: Time,
    /// Status change time.
    pub ctime: Time,
    /// Directories: the parent's id. Device nodes: rdev.
    pub parent: u64,
    /// Blocks owned (data and metadata), for `st_blocks`.
    pub blocks: u64,
    /// Implementation-specific: block pointers or extents.
    pub payload: [u8; 160],
}

/// Payload offset in a record.
const PAYLOAD: usize = 96;

impl Record {
    /// An unused record.
    pub fn free() -> Self {
        Record {
            imp: Imp::Free,
            mode: 0,
            uid: 0,
            gid: 0,
            nlink: 0,
            buckets: 0,
            size: 0,
            atime: Time::default(),
            mtime: Time::default(),
            ctime: Time::default(),
            parent: 0,
            blocks: 0,
            payload: [0; 160],
        }
    }
    /// The file type bits.
    pub fn kind(&self) -> u32 {
        self.mode & mode::S_IFMT
    }
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind() == mode::S_IFDIR
    }
    /// Payload pointer `i` (small-file layout).
    pub fn ptr(&self, i: usize) -> u64 {
        get_u64(&self.payload, 8 * i)
    }
    /// Sets payload pointer `i`.
    pub fn set_ptr(&mut self, i: usize, v: u64) {
        put_u64(&mut self.payload, 8 * i, v)
    }

    /// Encodes into `b` (`RECORD_SIZE` bytes).
    pub fn encode(&self, b: &mut [u8]) {
        b.fill(0);
        b[0] = self.imp as u8;
        put_u32(b, 4, self.mode);
        put_u32(b, 8, self.uid);
        put_u32(b, 12, self.gid);
        put_u32(b, 16, self.nlink);
        put_u32(b, 20, self.buckets);
        put_u64(b, 24, self.size);
        put_u64(b, 32, self.atime.sec as u64);
        put_u32(b, 40, self.atime.nsec);
        put_u32(b, 44, self.mtime.nsec);
        put_u64(b, 48, self.mtime.sec as u64);
        put_u64(b, 56, self.ctime.sec as u64);
        put_u32(b, 64, self.ctime.nsec);
        put_u64(b, 72, self.parent);
        put_u64(b, 80, self.blocks);
        b[PAYLOAD..RECORD_SIZE].copy_from_slice(&self.payload);
    }

    /// Decodes and checks the fields that do not need other records.
    pub fn decode(b: &[u8], id: u64) -> Result<Self> {
        let imp = Imp::from_u8(b[0])
            .ok_or_else(|| corrupt!("record {id}: unknown implementation tag {}", b[0]))?;
        let mut payload = [0; 160];
        payload.copy_from_slice(&b[PAYLOAD..RECORD_SIZE]);
        let t = |s: usize, n: usize| Time {
            sec: get_u64(b, s) as i64,
            nsec: get_u32(b, n),
        };
        let r = Record {
            imp,
            mode: get_u32(b, 4),
            uid: get_u32(b, 8),
            gid: get_u32(b, 12),
            nlink: get_u32(b, 16),
            buckets: get_u32(b, 20),
            size: get_u64(b, 24),
            atime: t(32, 40),
            mtime: t(48, 44),
            ctime: t(56, 64),
            parent: get_u64(b, 72),
            blocks: get_u64(b, 80),
            payload,
        };
        if imp == Imp::Free {
            return Ok(r);
        }
        let ok_kind = match r.kind() {
            mode::S_IFDIR => imp.is_dir(),
            mode::S_IFREG => matches!(imp, Imp::SmallFile | Imp::ExtentFile),
            mode::S_IFLNK | mode::S_IFCHR | mode::S_IFBLK | mode::S_IFIFO | mode::S_IFSOCK => {
                imp == Imp::SmallFile
            }
            _ => false,
        };
        if !ok_kind {
            return Err(corrupt!(
                "record {id}: mode {:o} does not fit implementation {}",
                r.mode,
                imp.name()
            ));
        }
        if r.size > MAX_FILE_SIZE {
            return Err(corrupt!("record {id}: size {} exceeds the maximum", r.size));
        }
        for tm in [r.atime, r.mtime, r.ctime] {
            if tm.nsec >= 1_000_000_000 {
                return Err(corrupt!(
                    "record {id}: timestamp nanoseconds {} out of range",
                    tm.nsec
                ));
            }
        }
        if imp == Imp::HashDir
            && (r.buckets == 0
                || !r.buckets.is_power_of_two()
                || r.size != r.buckets as u64 * BLOCK_SIZE as u64)
        {
            return Err(corrupt!(
                "record {id}: hashed directory with {} buckets and size {}",
                r.buckets,
                r.size
            ));
        }
        if imp == Imp::LinearDir && !r.size.is_multiple_of(BLOCK_SIZE as u64) {
            return Err(corrupt!(
                "record {id}: directory size {} is not whole blocks",
                r.size
            ));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn superblock_round_trips_and_rejects_a_flipped_bit() {
        let sb = Superblock {
            seq: 7,
            geo: Geometry::new(1000),
            record_blocks: 3,
            index: alloc::vec![10],
            free_blocks: 900,
            label: [b'x'; 32],
            commit: alloc::vec![(5, 0xdead_beef), (999, 1)],
        };
        let mut b = [0u8; BLOCK_SIZE];
        sb.encode(&mut b);
        assert_eq!(Superblock::decode(&b, 1000).unwrap(), sb);
        assert!(Superblock::decode(&b, 999).is_err());
        b[30] ^= 1;
        assert!(
            matches!(Superblock::decode(&b, 1000), Err(crate::Error::Corrupt(m)) if m.contains("checksum"))
        );
    }
}

//! The block device KFS runs on, and three implementations: memory, a
//! crash-injecting wrapper (for tests), and (with `std`) a file or loop device.

use crate::error::{Error, Result};
use crate::BLOCK_SIZE;
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

/// A device of fixed-size blocks. This is the only thing the kernel must
/// provide to run KFS (its file server wraps virtio-blk in it).
///
/// Ordering contract: writes issued before a [`flush`](Self::flush) are
/// durable before any write issued after it. KFS never overwrites a block
/// the last checkpoint references, so it needs nothing more (no atomic
/// multi-block writes); single-block writes must be atomic.
pub trait BlockDevice {
    /// Number of [`BLOCK_SIZE`] blocks.
    fn block_count(&self) -> u64;
    /// Reads block `blk` into `buf` (`buf.len() == BLOCK_SIZE`).
    fn read_block(&mut self, blk: u64, buf: &mut [u8]) -> Result<()>;
    /// Writes `buf` (`buf.len() == BLOCK_SIZE`) to block `blk`.
    fn write_block(&mut self, blk: u64, buf: &[u8]) -> Result<()>;
    /// Makes every earlier write durable.
    fn flush(&mut self) -> Result<()>;
    /// Reads `buf.len() / BLOCK_SIZE` consecutive blocks from `start`.
    /// Override for devices where one large request beats many small ones.
    fn read_blocks(&mut self, start: u64, buf: &mut [u8]) -> Result<()> {
        for (i, chunk) in buf.chunks_mut(BLOCK_SIZE).enumerate() {
            self.read_block(start + i as u64, chunk)?;
        }
        Ok(())
    }
    /// Writes `buf.len() / BLOCK_SIZE` consecutive blocks from `start`.
    fn write_blocks(&mut self, start: u64, buf: &[u8]) -> Result<()> {
        for (i, chunk) in buf.chunks(BLOCK_SIZE).enumerate() {
            self.write_block(start + i as u64, chunk)?;
        }
        Ok(())
    }
}

impl<T: BlockDevice + ?Sized> BlockDevice for &mut T {
    fn block_count(&self) -> u64 {
        (**self).block_count()
    }
    fn read_block(&mut self, blk: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_block(blk, buf)
    }
    fn write_block(&mut self, blk: u64, buf: &[u8]) -> Result<()> {
        (**self).write_block(blk, buf)
    }
    fn flush(&mut self) -> Result<()> {
        (**self).flush()
    }
    fn read_blocks(&mut self, start: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_blocks(start, buf)
    }
    fn write_blocks(&mut self, start: u64, buf: &[u8]) -> Result<()> {
        (**self).write_blocks(start, buf)
    }
}

fn check(blk: u64, n: usize, count: u64) -> Result<()> {
    if !n.is_multiple_of(BLOCK_SIZE)
        || blk
            .checked_add((n / BLOCK_SIZE) as u64)
            .is_none_or(|e| e > count)
    {
        return Err(Error::Io(format!(
            "request for block {blk} (+{n} bytes) outside device of {count} blocks"
        )));
    }
    Ok(())
}

/// A device in memory.
#[derive(Clone)]
pub struct MemDevice {
    data: Vec<u8>,
    /// Number of block writes so far (for tests and benchmarks).
    pub writes: u64,
}

impl MemDevice {
    /// A zeroed device of `blocks` blocks.
    pub fn new(blocks: u64) -> Self {
        MemDevice {
            data: vec![0; blocks as usize * BLOCK_SIZE],
            writes: 0,
        }
    }
    /// A device over an existing image (its length is rounded down to blocks).
    pub fn from_image(mut data: Vec<u8>) -> Self {
        data.truncate(data.len() / BLOCK_SIZE * BLOCK_SIZE);
        MemDevice { data, writes: 0 }
    }
    /// The raw image.
    pub fn image(&self) -> &[u8] {
        &self.data
    }
    /// The raw image, mutably (tests corrupt it).
    pub fn image_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }
}

impl BlockDevice for MemDevice {
    fn block_count(&self) -> u64 {
        (self.data.len() / BLOCK_SIZE) as u64
    }
    fn read_block(&mut self, blk: u64, buf: &mut [u8]) -> Result<()> {
        self.read_blocks(blk, buf)
    }
    fn write_block(&mut self, blk: u64, buf: &[u8]) -> Result<()> {
        self.write_blocks(blk, buf)
    }
    fn read_blocks(&mut self, start: u64, buf: &mut [u8]) -> Result<()> {
        check(start, buf.len(), self.block_count())?;
        let o = start as usize * BLOCK_SIZE;
        buf.copy_from_slice(&self.data[o..o + buf.len()]);
        Ok(())
    }
    fn write_blocks(&mut self, start: u64, buf: &[u8]) -> Result<()> {
        check(start, buf.len(), self.block_count())?;
        let o = start as usize * BLOCK_SIZE;
        self.data[o..o + buf.len()].copy_from_slice(buf);
        self.writes += (buf.len() / BLOCK_SIZE) as u64;
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Simulates a power loss: block writes numbered `>= limit` (counting from
/// 0) are silently dropped, as if power failed just after write `limit - 1`.
///
/// In reordering mode ([`CrashDevice::reordering`]) writes also sit in a
/// volatile cache until the next flush, and the power loss
/// ([`CrashDevice::power_loss`]) keeps a pseudo-random subset of them, as a
/// disk with a write-back cache may.
pub struct CrashDevice {
    /// The device that survives the "crash".
    pub inner: MemDevice,
    /// Block writes issued so far, dropped or not.
    pub issued: u64,
    /// First write that is dropped.
    pub limit: u64,
    reorder: Option<u64>,
    pending: Vec<(u64, Vec<u8>)>,
}

impl CrashDevice {
    /// Wraps `inner`; `limit = u64::MAX` never crashes. Writes land in order.
    pub fn new(inner: MemDevice, limit: u64) -> Self {
        CrashDevice {
            inner,
            issued: 0,
            limit,
            reorder: None,
            pending: Vec::new(),
        }
    }

    /// Like [`new`](Self::new), but unflushed writes may be lost in any
    /// combination, chosen by `seed`.
    pub fn reordering(inner: MemDevice, limit: u64, seed: u64) -> Self {
        CrashDevice {
            inner,
            issued: 0,
            limit,
            reorder: Some(seed | 1),
            pending: Vec::new(),
        }
    }

    /// Power fails now: returns what is on the platters.
    pub fn power_loss(mut self) -> MemDevice {
        if let Some(mut x) = self.reorder {
            for (blk, data) in core::mem::take(&mut self.pending) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x & 1 == 0 {
                    let _ = self.inner.write_block(blk, &data);
                }
            }
        }
        self.inner
    }
}

impl BlockDevice for CrashDevice {
    fn block_count(&self) -> u64 {
        self.inner.block_count()
    }
    fn read_block(&mut self, blk: u64, buf: &mut [u8]) -> Result<()> {
        if let Some((_, d)) = self.pending.iter().rev().find(|(b, _)| *b == blk) {
            buf.copy_from_slice(d);
            return Ok(());
        }
        self.inner.read_block(blk, buf)
    }
    fn write_block(&mut self, blk: u64, buf: &[u8]) -> Result<()> {
        check(blk, buf.len(), self.block_count())?;
        if self.issued < self.limit {
            if self.reorder.is_some() {
                self.pending.push((blk, buf.to_vec()));
            } else {
                self.inner.write_block(blk, buf)?;
            }
        }
        self.issued += 1;
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        // Power fails just after write `limit - 1`: a flush issued after
        // that write never happens.
        if self.issued < self.limit {
            for (blk, data) in core::mem::take(&mut self.pending) {
                self.inner.write_block(blk, &data)?;
            }
        }
        Ok(())
    }
}

/// Wraps the device of a mounted file system and remembers the CRC of
/// every block written since the last checkpoint, for single-flush commits.
pub(crate) struct Tracked<D> {
    pub inner: D,
    pub crcs: alloc::collections::BTreeMap<u64, u32>,
    /// More blocks were written than a commit list can hold.
    pub overflow: bool,
}

impl<D> Tracked<D> {
    pub fn new(inner: D) -> Self {
        Tracked {
            inner,
            crcs: alloc::collections::BTreeMap::new(),
            overflow: false,
        }
    }
    fn note(&mut self, start: u64, buf: &[u8]) {
        if self.overflow {
            return;
        }
        for (i, c) in buf.chunks(BLOCK_SIZE).enumerate() {
            self.crcs.insert(start + i as u64, crate::layout::crc32(c));
        }
        if self.crcs.len() > crate::layout::MAX_COMMIT {
            self.overflow = true;
            self.crcs.clear();
        }
    }
}

impl<D: BlockDevice> BlockDevice for Tracked<D> {
    fn block_count(&self) -> u64 {
        self.inner.block_count()
    }
    fn read_block(&mut self, blk: u64, buf: &mut [u8]) -> Result<()> {
        self.inner.read_block(blk, buf)
    }
    fn write_block(&mut self, blk: u64, buf: &[u8]) -> Result<()> {
        self.note(blk, buf);
        self.inner.write_block(blk, buf)
    }
    fn flush(&mut self) -> Result<()> {
        self.inner.flush()
    }
    fn read_blocks(&mut self, start: u64, buf: &mut [u8]) -> Result<()> {
        self.inner.read_blocks(start, buf)
    }
    fn write_blocks(&mut self, start: u64, buf: &[u8]) -> Result<()> {
        self.note(start, buf);
        self.inner.write_blocks(start, buf)
    }
}

#[cfg(feature = "std")]
pub use file::FileDevice;

#[cfg(feature = "std")]
mod file {
    use super::*;
    use alloc::string::ToString;
    use std::fs::File;
    use std::os::unix::fs::FileExt;

    /// A regular file or block device used as a KFS device (hosted only).
    pub struct FileDevice {
        file: File,
        blocks: u64,
    }

    fn io(e: std::io::Error) -> Error {
        Error::Io(e.to_string())
    }

    impl FileDevice {
        /// Opens `path` read-write (or read-only) and sizes it in blocks.
        pub fn open(path: &std::path::Path, writable: bool) -> Result<Self> {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(writable)
                .open(path)
                .map_err(io)?;
            let len = {
                use std::io::{Seek, SeekFrom};
                let mut f = &file;
                f.seek(SeekFrom::End(0)).map_err(io)?
            };
            Ok(FileDevice {
                file,
                blocks: len / BLOCK_SIZE as u64,
            })
        }
    }

    impl BlockDevice for FileDevice {
        fn block_count(&self) -> u64 {
            self.blocks
        }
        fn read_block(&mut self, blk: u64, buf: &mut [u8]) -> Result<()> {
            self.read_blocks(blk, buf)
        }
        fn write_block(&mut self, blk: u64, buf: &[u8]) -> Result<()> {
            self.write_blocks(blk, buf)
        }
        fn read_blocks(&mut self, start: u64, buf: &mut [u8]) -> Result<()> {
            check(start, buf.len(), self.blocks)?;
            self.file
                .read_exact_at(buf, start * BLOCK_SIZE as u64)
                .map_err(io)
        }
        fn write_blocks(&mut self, start: u64, buf: &[u8]) -> Result<()> {
            check(start, buf.len(), self.blocks)?;
            self.file
                .write_all_at(buf, start * BLOCK_SIZE as u64)
                .map_err(io)
        }
        fn flush(&mut self) -> Result<()> {
            self.file.sync_data().map_err(io)
        }
    }
}

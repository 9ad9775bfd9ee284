//! Building an archive: [`Writer`].

use crate::{align4, Error, ErrorKind, HEADER_LEN, MAGIC_NEWC, S_IFDIR, S_IFLNK, S_IFREG, TRAILER};
use alloc::vec::Vec;

/// Builds a newc archive in memory.
///
/// Each entry gets a fresh inode number (from 1 upwards), so no two are
/// taken for hard links. Owner and group are 0 (root), as in an initramfs;
/// the modification time is [`Writer::mtime`], 0 unless set, so the same
/// inputs always give the same bytes.
#[derive(Debug, Clone)]
pub struct Writer {
    buf: Vec<u8>,
    next_ino: u32,
    /// Modification time given to the entries written from now on.
    pub mtime: u32,
}

/// Everything about an entry except its name and data, for
/// [`Writer::entry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Type and permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Link count.
    pub nlink: u32,
    /// Modification time.
    pub mtime: u32,
    /// Inode number; 0 = take the writer's next one.
    pub ino: u32,
    /// Device of a device node, (major, minor).
    pub rdev: (u32, u32),
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Writer {
    /// An empty archive.
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            next_ino: 1,
            mtime: 0,
        }
    }

    /// A regular file with permission bits `perm` (e.g. `0o755`).
    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> Result<(), Error> {
        self.entry(name, self.header(S_IFREG | (perm & 0o7777), 1), data)
    }

    /// A directory with permission bits `perm`. Its link count is 2 (its
    /// name and its `.`); Linux ignores the field for directories.
    pub fn dir(&mut self, name: &str, perm: u32) -> Result<(), Error> {
        self.entry(name, self.header(S_IFDIR | (perm & 0o7777), 2), &[])
    }

    /// A symbolic link `name` pointing at `target` (mode `0o777`, as
    /// symbolic links have on Linux).
    pub fn symlink(&mut self, name: &str, target: &str) -> Result<(), Error> {
        self.entry(name, self.header(S_IFLNK | 0o777, 1), target.as_bytes())
    }

    fn header(&self, mode: u32, nlink: u32) -> Header {
        Header {
            mode,
            nlink,
            mtime: self.mtime,
            ..Header::default()
        }
    }

    /// Any entry, with every header field given by the caller (device
    /// nodes, FIFOs, set owners, hard-link groups).
    pub fn entry(&mut self, name: &str, header: Header, data: &[u8]) -> Result<(), Error> {
        let offset = self.buf.len();
        if name.is_empty() || name.contains('\0') || name == TRAILER {
            return Err(Error {
                kind: ErrorKind::BadName,
                offset,
            });
        }
        let Ok(size) = u32::try_from(data.len()) else {
            return Err(Error {
                kind: ErrorKind::TooLarge,
                offset,
            });
        };
        let ino = if header.ino == 0 {
            let i = self.next_ino;
            self.next_ino = self.next_ino.wrapping_add(1).max(1);
            i
        } else {
            header.ino
        };
        self.raw(name, header, ino, data, size);
        Ok(())
    }

    fn raw(&mut self, name: &str, h: Header, ino: u32, data: &[u8], size: u32) {
        let namesize = u32::try_from(name.len() + 1).unwrap_or(u32::MAX);
        let fields = [
            ino, h.mode, h.uid, h.gid, h.nlink, h.mtime, size, 0, 0, h.rdev.0, h.rdev.1, namesize,
            0,
        ];
        self.buf.reserve(HEADER_LEN + name.len() + data.len() + 8);
        self.buf.extend_from_slice(MAGIC_NEWC);
        for f in fields {
            push_hex8(&mut self.buf, f);
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        let to = align4(self.buf.len()).expect("a Vec is shorter than usize::MAX");
        self.buf.resize(to, 0);
    }

    /// Bytes written so far (without the trailer).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Appends the `TRAILER!!!` entry and returns the archive.
    pub fn finish(mut self) -> Vec<u8> {
        let h = Header {
            nlink: 1,
            ..Header::default()
        };
        self.raw(TRAILER, h, 0, &[], 0);
        self.buf
    }
}

fn push_hex8(buf: &mut Vec<u8>, v: u32) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..8).rev() {
        buf.push(DIGITS[(v >> (shift * 4)) as usize & 0xf]);
    }
}

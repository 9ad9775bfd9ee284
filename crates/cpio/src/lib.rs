//! cpio "newc" archives: the format of a Linux initramfs.
//!
//! This crate owns the byte format of the archive the boot loader hands the
//! kernel (QEMU's `-initrd`), and nothing else: it does not create files. The
//! kernel walks the archive with [`Reader`] (or looks one path up with
//! [`find`]) to find `/init` and the programs it starts; `cargo xtask`
//! builds archives with [`Writer`] — for K42-rs's own initramfs and for the
//! Linux side of the differential tests (issue 9).
//!
//! K42 concept: K42 ran unmodified Linux programs (paper §10) and booted
//! them from a file system image the loader supplied. K42-rs keeps Linux's
//! own initramfs format so that one archive boots both kernels, which is
//! what makes side-by-side runs against Linux meaningful.
//!
//! # The format
//!
//! Archives are read uncompressed (a compressed one is an error that names
//! its format). Every entry is a 110-byte ASCII header — the magic `070701` (or `070702`,
//! "with checksum") and thirteen 8-digit hexadecimal fields: inode, mode,
//! uid, gid, nlink, mtime, file size, device major/minor, rdev major/minor,
//! name size (with its NUL) and checksum — then the NUL-terminated name,
//! padded so the data starts at a multiple of 4 bytes from the archive's
//! start, then the data, padded to 4 again. A symbolic link's data is its
//! target. The entry named `TRAILER!!!` ends the archive; Linux accepts
//! several archives one after another, zero-padded ([`Archives`]).
//!
//! # Hostile input
//!
//! The reader never panics and never reads past its slice: a bad magic, a
//! non-hexadecimal digit, a header, name or data cut short, a name without
//! its NUL, a size that points past the end, a wrong `070702` checksum, a
//! compressed archive — each
//! is an [`Error`] naming its [`ErrorKind`] and the byte offset where it was
//! found. Property tests throw random and corrupted archives at it.
//!
//! # Usage
//!
//! ```
//! use cpio::{Kind, Writer};
//!
//! // Build an archive (what xtask does).
//! let mut w = Writer::new();
//! w.dir("bin", 0o755).unwrap();
//! w.file("bin/hello", 0o755, b"#!/bin/sh\necho hi\n").unwrap();
//! w.symlink("init", "bin/hello").unwrap();
//! let archive = w.finish();
//!
//! // Walk it (what the kernel does).
//! let names: Vec<_> = cpio::Reader::new(&archive)
//!     .map(|e| e.map(|e| e.name))
//!     .collect::<Result<_, _>>()
//!     .unwrap();
//! assert_eq!(names, ["bin", "bin/hello", "init"]);
//!
//! // Look one path up; "/init", "./init" and "init" are the same path.
//! let init = cpio::find(&archive, "/init").unwrap().unwrap();
//! assert_eq!(init.kind(), Kind::Symlink);
//! assert_eq!(init.data, b"bin/hello");
//! ```
//!
//! # Crates considered
//!
//! - `cpio` (crates.io) reads and writes newc through `std::io`: not for the
//!   kernel.
//! - `cpio_reader` is `no_std` but read-only, and its iterator yields
//!   entries, not errors: a damaged archive just ends early, with no word
//!   on what or where.
//! - `hadris-cpio` (`no_std`, reads and writes newc) was found late and not
//!   evaluated in depth; its reader streams through a reader trait, while
//!   the kernel wants entries borrowed from the archive in memory.
//!
//! The format is small (about 300 lines for reader and writer), so owning
//! it, with the offset-naming errors the kernel wants, was the cheaper path;
//! a switch later would stay inside this crate.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod read;
mod write;

pub use read::{find, Archives, Reader};
pub use write::{Header, Writer};

use core::fmt;

/// Magic of a plain newc header.
pub const MAGIC_NEWC: &[u8; 6] = b"070701";
/// Magic of a newc header whose `check` field is the sum of the data bytes.
pub const MAGIC_CRC: &[u8; 6] = b"070702";
/// Size of a newc header.
pub const HEADER_LEN: usize = 110;
/// Name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";

/// File-type bits of `mode` (`S_IFMT`).
pub const S_IFMT: u32 = 0o170000;
/// Regular file.
pub const S_IFREG: u32 = 0o100000;
/// Directory.
pub const S_IFDIR: u32 = 0o040000;
/// Symbolic link.
pub const S_IFLNK: u32 = 0o120000;
/// Character device.
pub const S_IFCHR: u32 = 0o020000;
/// Block device.
pub const S_IFBLK: u32 = 0o060000;
/// Named pipe.
pub const S_IFIFO: u32 = 0o010000;
/// Socket.
pub const S_IFSOCK: u32 = 0o140000;

/// What an entry is, from its mode's type bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file; [`Entry::data`] is its contents.
    File,
    /// A directory.
    Dir,
    /// A symbolic link; [`Entry::data`] is its target.
    Symlink,
    /// A character device ([`Entry::rdev`]).
    CharDevice,
    /// A block device ([`Entry::rdev`]).
    BlockDevice,
    /// A named pipe.
    Fifo,
    /// A socket.
    Socket,
    /// Type bits no file has.
    Unknown,
}

impl Kind {
    /// The kind named by `mode`'s type bits.
    pub fn from_mode(mode: u32) -> Self {
        match mode & S_IFMT {
            S_IFREG => Kind::File,
            S_IFDIR => Kind::Dir,
            S_IFLNK => Kind::Symlink,
            S_IFCHR => Kind::CharDevice,
            S_IFBLK => Kind::BlockDevice,
            S_IFIFO => Kind::Fifo,
            S_IFSOCK => Kind::Socket,
            _ => Kind::Unknown,
        }
    }
}

/// One archive entry, borrowing its name and data from the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Path as stored (no leading `/` or `./` is added or removed).
    pub name: &'a str,
    /// File type and permission bits (`st_mode`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Link count.
    pub nlink: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: u32,
    /// Inode number; entries with the same `ino` and `dev` are hard links
    /// (newc stores the data with the last of them).
    pub ino: u32,
    /// Device of the file system the file came from, (major, minor).
    pub dev: (u32, u32),
    /// Device a device node stands for, (major, minor).
    pub rdev: (u32, u32),
    /// Contents of a file, target of a symbolic link, empty otherwise.
    pub data: &'a [u8],
    /// Offset of the entry's header in the archive.
    pub offset: usize,
}

impl Entry<'_> {
    /// The entry's type.
    pub fn kind(&self) -> Kind {
        Kind::from_mode(self.mode)
    }

    /// The permission bits (`mode & 0o7777`).
    pub fn permissions(&self) -> u32 {
        self.mode & 0o7777
    }
}

/// What is wrong with an archive (or with an entry given to the writer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The header does not start with `070701` or `070702`.
    BadMagic,
    /// A compressed archive: this crate reads uncompressed newc only.
    Compressed {
        /// The compression format its magic names (gzip, zstd, xz ...).
        format: &'static str,
    },
    /// A header field holds something other than 8 hexadecimal digits.
    BadHex {
        /// The field's name in the newc header.
        field: &'static str,
    },
    /// Fewer than 110 bytes remain for a header.
    TruncatedHeader,
    /// The name runs past the end of the archive.
    TruncatedName,
    /// The name's last byte is not NUL, or a NUL comes earlier.
    NameNotTerminated,
    /// The name size is 0 or 1 (no name at all).
    EmptyName,
    /// The name is not UTF-8.
    NameNotUtf8,
    /// The data (file size) runs past the end of the archive.
    TruncatedData {
        /// The header's file size.
        size: u32,
        /// Bytes left in the archive after the name.
        available: usize,
    },
    /// The archive ended without a `TRAILER!!!` entry.
    MissingTrailer,
    /// A `070702` entry whose checksum is not the sum of its data bytes.
    BadChecksum {
        /// The header's check field.
        stored: u32,
        /// The sum of the data bytes.
        computed: u32,
    },
    /// Writer: the name contains a NUL byte, or is empty, or is the trailer's.
    BadName,
    /// Writer: data larger than a newc size field (4 GiB - 1).
    TooLarge,
}

/// An error and the byte offset in the archive where it was found (for the
/// writer: the offset the entry would have had).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    /// What is wrong.
    pub kind: ErrorKind,
    /// Where: a byte offset from the archive's start.
    pub offset: usize,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::BadMagic => write!(f, "bad magic (want 070701 or 070702)"),
            ErrorKind::Compressed { format } => write!(
                f,
                "{format}-compressed archive (only uncompressed newc is read)"
            ),
            ErrorKind::BadHex { field } => {
                write!(f, "header field {field} is not 8 hexadecimal digits")
            }
            ErrorKind::TruncatedHeader => {
                write!(f, "header cut short (a newc header is 110 bytes)")
            }
            ErrorKind::TruncatedName => write!(f, "name runs past the end of the archive"),
            ErrorKind::NameNotTerminated => write!(f, "name is not terminated by its NUL"),
            ErrorKind::EmptyName => write!(f, "entry without a name"),
            ErrorKind::NameNotUtf8 => write!(f, "name is not UTF-8"),
            ErrorKind::TruncatedData { size, available } => write!(
                f,
                "data of {size} bytes runs past the end of the archive ({available} bytes left)"
            ),
            ErrorKind::MissingTrailer => write!(f, "archive ends without its TRAILER!!! entry"),
            ErrorKind::BadChecksum { stored, computed } => write!(
                f,
                "checksum {stored:#010x} does not match the data's {computed:#010x}"
            ),
            ErrorKind::BadName => write!(f, "name is empty, contains NUL or is TRAILER!!!"),
            ErrorKind::TooLarge => write!(f, "data larger than 4 GiB - 1 bytes"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpio: {} at offset {:#x}", self.kind, self.offset)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// Rounds `n` up to a multiple of 4 (newc's alignment), or `None` on
/// overflow.
fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}

//! KFS: K42's object-based file system, for K42-rs and for Linux (via FUSE).
//!
//! # What this crate owns
//!
//! The on-disk format, the in-memory objects that serve each element, crash
//! consistency, and the checker. It knows nothing of system calls, FUSE or
//! virtio: it runs over any [`BlockDevice`] and builds without `std`.
//!
//! # Which K42 concept
//!
//! KFS (paper §8, notes §9) is built from per-element objects rather than
//! global tables:
//!
//! * **The RecordMap** ([`RecordMap`]) maps an object id to a typed record:
//!   the element's metadata plus the [`Imp`] that serves it. Records are
//!   copied on write, so an element's metadata has no fixed home (as in
//!   LFS), and the tag tells mount which object to instantiate.
//! * **One object per element, each with its own block cache**: every file,
//!   directory and symlink in use has a data object holding its block map
//!   and cached blocks; each open file has an [`OpenFile`] object; the block
//!   allocation map is an object ([`AllocMap`]). There is no global buffer
//!   cache.
//! * **Several implementations per kind, chosen per element** and switchable
//!   on a live element ([`Fs::set_imp`], KFS's hot swap): files are
//!   small-file (direct + indirect pointers) or extent-based; directories are
//!   linear or hashed. Built-in policies swap automatically: a directory
//!   that outgrows [`Options::dir_hash_threshold`] blocks becomes hashed (and
//!   goes back to linear if its names collide too much to hash), a file that
//!   outgrows [`Options::extent_threshold`] blocks moves to extents.
//!
//! # Limits
//!
//! Block size 4 KiB; files up to 512 GiB; about a million objects; names up
//! to 255 bytes. The RecordMap and the allocation bitmap live in memory
//! (256 bytes per object, 2 bits per block). A write is refused with
//! `NoSpace` when the space left, less the reserve for metadata and the
//! blocks that dirty cached data will need at write-back, is too small, so
//! a checkpoint (`fsync`) always has room.
//!
//! # Crash consistency: copy-on-write checkpoints
//!
//! Nothing the last checkpoint references is ever overwritten: data,
//! indirect, extent, record and index blocks are written to blocks free in
//! both the current and the committed bitmap. A checkpoint writes every
//! dirty object, then the RecordMap, then the bitmap into the region that
//! belongs to the next superblock slot, flushes, writes the superblock
//! (sequence number + CRC-32) into slot `seq % 2`, and flushes again. A
//! crash before the superblock write leaves the previous checkpoint intact;
//! mount picks the valid slot with the highest sequence. `fsync` takes a
//! checkpoint, so fsync'd data is never lost. Objects unlinked while open
//! are reclaimed at the next mount.
//!
//! Small checkpoints (the common `fsync` of one file) save one of the two
//! flushes: the superblock carries a commit list of every block the
//! checkpoint references that was written since the previous one, each with
//! its CRC-32, and is written without a flush before it. Mount accepts such
//! a superblock only if every listed block matches; otherwise the commit was
//! interrupted and the other slot (whose blocks are untouched) is used. The
//! crash tests cover both orders: writes landing in order up to the power
//! loss, and any subset of unflushed writes landing.
//!
//! # Setup
//!
//! The platform provides a [`BlockDevice`] (four methods; the kernel's file
//! server wraps virtio-blk) and, optionally, a clock in [`Options::clock`].
//!
//! # Usage
//!
//! ```
//! use kfs::{mkfs, Fs, MemDevice, MkfsOptions, Options};
//!
//! let dev = mkfs(MemDevice::new(1024), &MkfsOptions::default()).unwrap();
//! let mut fs = Fs::mount(dev, Options::deterministic()).unwrap();
//! let root = fs.root();
//! let f = fs.create(root, b"hello.txt", 0o644, 0, 0, 0).unwrap();
//! fs.write(f.id, 0, b"hello, K42").unwrap();
//! fs.fsync().unwrap(); // durable from here on
//! assert_eq!(fs.read(f.id, 0, 100).unwrap(), b"hello, K42");
//! let dev = fs.unmount().unwrap();
//! assert!(kfs::fsck(&mut { dev }, false).unwrap().is_clean());
//! ```
//!
//! # Dependencies
//!
//! None. CRC-32 (once per checkpoint) and FNV-1a (directory hashing) are a
//! few lines each; `alloc`'s `BTreeMap` serves every index. Keeping the
//! crate dependency-free keeps the kernel build small and auditable.

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod alloc_map;
pub mod dev;
pub mod dir;
pub mod error;
mod file;
pub mod fs;
pub mod fsck;
pub mod layout;
pub mod recmap;

pub use alloc_map::AllocMap;
#[cfg(feature = "std")]
pub use dev::FileDevice;
pub use dev::{BlockDevice, CrashDevice, MemDevice};
pub use dir::DirEntry;
pub use error::{Error, Result};
pub use fs::{
    mkfs, read_superblock, Attr, BlockMap, Fs, MkfsOptions, OpenFile, Options, SetAttr, StatFs,
};
pub use fsck::{fsck, FsckReport};
pub use layout::{mode, Imp, Record, Time, MAX_FILE_SIZE, MAX_NAME, ROOT_ID};
pub use recmap::RecordMap;

/// Bytes per block.
pub const BLOCK_SIZE: usize = 4096;

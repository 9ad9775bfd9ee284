//! # k42-interfaces: the interfaces of the first K42-rs servers
//!
//! K42 reached every system service through generated PPC stubs (notes
//! §7): one annotated declaration per interface, used by the client and
//! the server. This crate holds those declarations for K42-rs, one
//! `#[ppc_idl::interface]` trait each:
//!
//! * [`NameService`] (`user/name-server`): object handles by name;
//! * [`Console`] (`user/console-server`): the console;
//! * [`FileSystem`] (`user/ramfs`): a file system, with per-client open
//!   files.
//!
//! Each generates `<Trait>Client` (the stub a client calls through
//! `k42_rt::transport::KernelTransport`) and `<Trait>Server<S>` (the
//! dispatch a server exports with `k42_rt::server`). Rights are bits the
//! server grants per process with the kernel's `grant`; the kernel tells
//! the server the caller's rights on every call and the generated
//! dispatch refuses a method whose bits the caller lacks (the client sees
//! `PpcError::NoRights`, i.e. `EACCES`). Methods fail with Linux error
//! numbers ([`Errno`]), which the Linux system library passes on 1:1.
//! Every message fits the PPC registers plus one PPC page.
//!
//! ## Usage
//!
//! ```
//! use k42_interfaces::{NameService, NameServiceClient, NameServiceServer, rights};
//! use k42_rt::Errno;
//! use ppc_idl::{LoopbackTransport, ObjectHandle, ProcessId, Rights};
//!
//! // A toy name service with one fixed name.
//! struct One;
//! impl NameService for One {
//!     fn register(&self, _: ProcessId, _: &str, _: ObjectHandle) -> Result<(), Errno> {
//!         Err(Errno::EPERM)
//!     }
//!     fn lookup(&self, name: &str) -> Result<ObjectHandle, Errno> {
//!         if name == "console" { Ok(ObjectHandle::new(ProcessId(2), 0, 1)) } else { Err(Errno::ENOENT) }
//!     }
//!     fn unregister(&self, _: ProcessId, _: &str) -> Result<(), Errno> { Err(Errno::EPERM) }
//!     fn list(&self, _: u32, _: &mut [u8]) -> Result<(u32, u32), Errno> { Ok((0, 0)) }
//! }
//! let server = NameServiceServer(One);
//! let h = ObjectHandle::new(ProcessId(1), 0, 1);
//! let grants = [(ProcessId(9), Rights(rights::LOOKUP))];
//! let t = LoopbackTransport::new(&server, h, &grants, ProcessId(9));
//! let names = NameServiceClient::new(&t, h);
//! assert_eq!(names.lookup("console"), Ok(Ok(ObjectHandle::new(ProcessId(2), 0, 1))));
//! assert_eq!(names.register("x", h), Err(ppc_idl::PpcError::NoRights));
//! ```

#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub use k42_rt::Errno;
use ppc_idl::{ObjectHandle, ProcessId};

/// Rights bits. The `rights = N` literals in the traits below are these
/// values (checked by this crate's tests).
pub mod rights {
    /// Name service: look names up, list them.
    pub const LOOKUP: u64 = 0b1;
    /// Name service: register and unregister (one's own) names.
    pub const REGISTER: u64 = 0b10;
    /// File system / console: read.
    pub const READ: u64 = 0b1;
    /// File system / console: write (create, write, mkdir, unlink, rename).
    pub const WRITE: u64 = 0b10;
    /// File system: administration (change modes).
    pub const ADMIN: u64 = 0b100;
}

/// Longest name the name service keeps.
pub const NAME_MAX: usize = 64;
/// Longest path the file system takes.
pub const PATH_MAX: usize = 1024;
/// Longest file name (one path component).
pub const FILE_NAME_MAX: usize = 255;

/// Object handles by name (K42's name space of servers).
#[ppc_idl::interface]
pub trait NameService {
    /// Binds `name` to `handle`, owned by the caller. `EEXIST` if another
    /// process owns the name (the owner may rebind it), `EINVAL` for an
    /// empty name or one with `/` or NUL, `ENAMETOOLONG` beyond
    /// [`NAME_MAX`], `ENOSPC` when the table is full.
    #[ppc(rights = 0b10)]
    fn register(
        &self,
        #[ppc(caller)] caller: ProcessId,
        name: &str,
        handle: ObjectHandle,
    ) -> Result<(), Errno>;

    /// The handle bound to `name` (`ENOENT` if none).
    #[ppc(rights = 0b1)]
    fn lookup(&self, name: &str) -> Result<ObjectHandle, Errno>;

    /// Removes the caller's binding of `name` (`ENOENT` if none, `EPERM`
    /// if another process owns it).
    #[ppc(rights = 0b10)]
    fn unregister(&self, #[ppc(caller)] caller: ProcessId, name: &str) -> Result<(), Errno>;

    /// Names from the `start`-th on, each followed by `\n`, into `buf`:
    /// (names written, bytes written).
    #[ppc(rights = 0b1)]
    fn list(&self, start: u32, #[ppc(out)] buf: &mut [u8]) -> Result<(u32, u32), Errno>;
}

/// The console.
#[ppc_idl::interface]
pub trait Console {
    /// Writes `bytes` (at most a PPC page less the length word): the bytes
    /// written.
    #[ppc(rights = 0b10)]
    fn write(&self, #[ppc(caller)] caller: ProcessId, bytes: &[u8]) -> Result<u32, Errno>;

    /// Reads input into `buf`. There is no console input yet: `EAGAIN`.
    #[ppc(rights = 0b1)]
    fn read(&self, #[ppc(out)] buf: &mut [u8]) -> Result<u32, Errno>;

    /// (writes, bytes) served so far.
    fn stats(&self) -> (u64, u64);

    /// Records `value` without waiting: an async message (registers only,
    /// queued in the server's dispatcher page, delivered with no rights,
    /// so this method needs none).
    #[ppc(async)]
    fn note(&self, #[ppc(caller)] caller: ProcessId, value: u64);

    /// (notes received, their sum).
    fn notes(&self) -> (u64, u64);
}

/// What a node is.
pub mod kind {
    /// A regular file.
    pub const FILE: u32 = 1;
    /// A directory.
    pub const DIR: u32 = 2;
}

/// Open flags: the Linux values, so the system library passes them on.
pub mod flags {
    /// Read only (the access mode is the low two bits).
    pub const O_RDONLY: u32 = 0;
    /// Write only.
    pub const O_WRONLY: u32 = 1;
    /// Read and write.
    pub const O_RDWR: u32 = 2;
    /// The access-mode bits.
    pub const O_ACCMODE: u32 = 3;
    /// Create the file if it does not exist.
    pub const O_CREAT: u32 = 0o100;
    /// With `O_CREAT`: fail if it exists.
    pub const O_EXCL: u32 = 0o200;
    /// Cut the file to length 0.
    pub const O_TRUNC: u32 = 0o1000;
    /// Every write goes to the end.
    pub const O_APPEND: u32 = 0o2000;
    /// Fail unless a directory.
    pub const O_DIRECTORY: u32 = 0o200_000;
}

/// A node's attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ppc_idl::Marshal)]
pub struct Stat {
    /// Inode number (unique while the node lives).
    pub ino: u64,
    /// Bytes (files) or entries (directories).
    pub size: u64,
    /// [`kind::FILE`] or [`kind::DIR`].
    pub kind: u32,
    /// Permission bits (`0o644` ...), kept, not enforced (there are no
    /// user ids yet; rights are per process).
    pub mode: u32,
}

/// A file system with per-client open files. A file handle (`fd`) is
/// private to the process that opened it: another process's `fd`, a
/// closed one or a made-up one is `EBADF`.
///
/// The Linux system library maps `open(O_RDONLY)` to [`FileSystem::open`]
/// and any `open` asking for write access or creation to
/// [`FileSystem::create`], which needs the write right.
#[ppc_idl::interface]
pub trait FileSystem {
    /// Opens `path` for reading (`O_RDONLY`, optionally `O_DIRECTORY`);
    /// any other flag is `EINVAL` here (see `create`).
    #[ppc(rights = 0b1)]
    fn open(&self, #[ppc(caller)] caller: ProcessId, path: &str, flags: u32) -> Result<u32, Errno>;

    /// Opens `path` with write access, creating it (with `mode`) if
    /// `O_CREAT`; `O_EXCL`, `O_TRUNC`, `O_APPEND` as in Linux.
    #[ppc(rights = 0b10)]
    fn create(
        &self,
        #[ppc(caller)] caller: ProcessId,
        path: &str,
        flags: u32,
        mode: u32,
    ) -> Result<u32, Errno>;

    /// Reads up to `buf.len()` bytes at `offset`: the bytes read (0 at
    /// the end).
    #[ppc(rights = 0b1)]
    fn read(
        &self,
        #[ppc(caller)] caller: ProcessId,
        fd: u32,
        offset: u64,
        #[ppc(out)] buf: &mut [u8],
    ) -> Result<u32, Errno>;

    /// Writes `data` at `offset` (at the end with `O_APPEND`): the bytes
    /// written. `EBADF` for an fd opened read-only.
    #[ppc(rights = 0b10)]
    fn write(
        &self,
        #[ppc(caller)] caller: ProcessId,
        fd: u32,
        offset: u64,
        data: &[u8],
    ) -> Result<u32, Errno>;

    /// Closes `fd`.
    #[ppc(rights = 0b1)]
    fn close(&self, #[ppc(caller)] caller: ProcessId, fd: u32) -> Result<(), Errno>;

    /// The attributes of `path`.
    #[ppc(rights = 0b1)]
    fn stat(&self, path: &str) -> Result<Stat, Errno>;

    /// The attributes of an open file.
    #[ppc(rights = 0b1)]
    fn fstat(&self, #[ppc(caller)] caller: ProcessId, fd: u32) -> Result<Stat, Errno>;

    /// Makes a directory.
    #[ppc(rights = 0b10)]
    fn mkdir(&self, path: &str, mode: u32) -> Result<(), Errno>;

    /// Entries of directory `path` from the `start`-th on, encoded into
    /// `buf` (see [`dirent`]): (entries written, bytes written). Fewer
    /// entries than remain means `buf` was full: call again from `start +
    /// entries`.
    #[ppc(rights = 0b1)]
    fn readdir(
        &self,
        path: &str,
        start: u32,
        #[ppc(out)] buf: &mut [u8],
    ) -> Result<(u32, u32), Errno>;

    /// Removes a file (`EISDIR` for a directory). An open file lives on
    /// until its last close.
    #[ppc(rights = 0b10)]
    fn unlink(&self, path: &str) -> Result<(), Errno>;

    /// Removes an empty directory (`ENOTEMPTY` otherwise).
    #[ppc(rights = 0b10)]
    fn rmdir(&self, path: &str) -> Result<(), Errno>;

    /// Moves `from` to `to` (replacing a file there; `EINVAL` for moving a
    /// directory into itself).
    #[ppc(rights = 0b10)]
    fn rename(&self, from: &str, to: &str) -> Result<(), Errno>;

    /// Sets the permission bits of `path`.
    #[ppc(rights = 0b100)]
    fn chmod(&self, path: &str, mode: u32) -> Result<(), Errno>;
}

/// The directory-entry encoding of [`FileSystem::readdir`]: per entry, the
/// kind (one byte), the name's length (one byte), the name.
pub mod dirent {
    /// Appends an entry to `buf` at `at`; the new end, or `None` if it
    /// does not fit (or the name is longer than 255 bytes).
    pub fn put(buf: &mut [u8], at: usize, kind: u32, name: &str) -> Option<usize> {
        let n = u8::try_from(name.len()).ok()?;
        let end = at.checked_add(2 + name.len())?;
        let dst = buf.get_mut(at..end)?;
        dst[0] = kind as u8;
        dst[1] = n;
        dst[2..].copy_from_slice(name.as_bytes());
        Some(end)
    }

    /// The entries in `buf`: (kind, name). Stops at the first malformed
    /// one.
    pub fn iter(buf: &[u8]) -> impl Iterator<Item = (u32, &str)> {
        let mut at = 0;
        core::iter::from_fn(move || {
            let kind = *buf.get(at)?;
            let n = usize::from(*buf.get(at + 1)?);
            let name = core::str::from_utf8(buf.get(at + 2..at + 2 + n)?).ok()?;
            at += 2 + n;
            Some((u32::from(kind), name))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ppc_idl::{LoopbackTransport, PpcError, Rights};

    struct Fs;
    impl FileSystem for Fs {
        fn open(&self, _: ProcessId, _: &str, _: u32) -> Result<u32, Errno> {
            Ok(3)
        }
        fn create(&self, _: ProcessId, _: &str, _: u32, _: u32) -> Result<u32, Errno> {
            Ok(4)
        }
        fn read(&self, _: ProcessId, _: u32, _: u64, buf: &mut [u8]) -> Result<u32, Errno> {
            buf.fill(b'r');
            Ok(buf.len() as u32)
        }
        fn write(&self, _: ProcessId, _: u32, _: u64, d: &[u8]) -> Result<u32, Errno> {
            Ok(d.len() as u32)
        }
        fn close(&self, _: ProcessId, _: u32) -> Result<(), Errno> {
            Ok(())
        }
        fn stat(&self, _: &str) -> Result<Stat, Errno> {
            Err(Errno::ENOENT)
        }
        fn fstat(&self, _: ProcessId, _: u32) -> Result<Stat, Errno> {
            Ok(Stat {
                ino: 1,
                size: 2,
                kind: kind::FILE,
                mode: 0o644,
            })
        }
        fn mkdir(&self, _: &str, _: u32) -> Result<(), Errno> {
            Ok(())
        }
        fn readdir(&self, _: &str, _: u32, _: &mut [u8]) -> Result<(u32, u32), Errno> {
            Ok((0, 0))
        }
        fn unlink(&self, _: &str) -> Result<(), Errno> {
            Ok(())
        }
        fn rmdir(&self, _: &str) -> Result<(), Errno> {
            Ok(())
        }
        fn rename(&self, _: &str, _: &str) -> Result<(), Errno> {
            Ok(())
        }
        fn chmod(&self, _: &str, _: u32) -> Result<(), Errno> {
            Ok(())
        }
    }

    /// The `rights = N` literals agree with [`rights`]: a reader can read
    /// but not write or chmod; a writer can write; only an admin chmods.
    #[test]
    fn rights_literals_match_the_constants() {
        let server = FileSystemServer(Fs);
        let h = ObjectHandle::new(ProcessId(1), 0, 1);
        let grants = [
            (ProcessId(10), Rights(rights::READ)),
            (ProcessId(11), Rights(rights::READ | rights::WRITE)),
            (ProcessId(12), Rights(rights::ADMIN)),
        ];
        let reader = LoopbackTransport::new(&server, h, &grants, ProcessId(10));
        let writer = reader.as_caller(ProcessId(11));
        let admin = reader.as_caller(ProcessId(12));
        let r = FileSystemClient::new(&reader, h);
        let w = FileSystemClient::new(&writer, h);
        let a = FileSystemClient::new(&admin, h);
        let mut buf = [0u8; 5];
        assert_eq!(r.read(3, 0, &mut buf), Ok(Ok(5)));
        assert_eq!(&buf, b"rrrrr");
        assert_eq!(r.write(3, 0, b"x"), Err(PpcError::NoRights));
        assert_eq!(
            r.create("/f", flags::O_CREAT, 0o644),
            Err(PpcError::NoRights)
        );
        assert_eq!(w.write(3, 0, b"xy"), Ok(Ok(2)));
        assert_eq!(w.chmod("/f", 0), Err(PpcError::NoRights));
        assert_eq!(a.chmod("/f", 0), Ok(Ok(())));
        assert_eq!(a.stat("/f"), Err(PpcError::NoRights));
        assert_eq!(r.stat("/f"), Ok(Err(Errno::ENOENT)));
        assert_eq!(r.fstat(3).unwrap().unwrap().mode, 0o644);
    }

    #[test]
    fn a_full_page_read_and_write_fit_the_message() {
        let server = FileSystemServer(Fs);
        let h = ObjectHandle::new(ProcessId(1), 0, 1);
        let grants = [(ProcessId(11), Rights(rights::READ | rights::WRITE))];
        let t = LoopbackTransport::new(&server, h, &grants, ProcessId(11));
        let c = FileSystemClient::new(&t, h);
        let mut buf = [0u8; 4096];
        assert_eq!(c.read(3, 0, &mut buf), Ok(Ok(4096)));
        assert_eq!(c.write(3, 0, &[1; 4096 - 8]), Ok(Ok(4088)));
        assert_eq!(c.write(3, 0, &[1; 4096]), Ok(Ok(4096)));
        assert_eq!(c.write(3, 0, &[1; 4097]), Err(PpcError::Overflow));
    }

    #[test]
    fn dirents_round_trip_and_refuse_what_does_not_fit() {
        let mut buf = [0u8; 16];
        let end = dirent::put(&mut buf, 0, kind::FILE, "a.txt").unwrap();
        let end = dirent::put(&mut buf, end, kind::DIR, "dir").unwrap();
        assert_eq!(dirent::put(&mut buf, end, kind::FILE, "toolong"), None);
        let got: std::vec::Vec<_> = dirent::iter(&buf[..end]).collect();
        assert_eq!(got, [(kind::FILE, "a.txt"), (kind::DIR, "dir")]);
        // A truncated buffer yields what is whole.
        assert_eq!(dirent::iter(&buf[..end - 1]).count(), 1);
        let long = "x".repeat(256);
        assert_eq!(dirent::put(&mut [0u8; 300], 0, kind::FILE, &long), None);
    }
}

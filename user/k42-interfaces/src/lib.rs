//! # k42-interfaces: the interfaces of the first K42-rs servers
//!
//! K42 reached every system service through generated PPC stubs (notes
//! §7): one annotated declaration per interface, used by the client and
//! the server. This crate holds those declarations for K42-rs, one
//! `#[ppc_idl::interface]` trait each:
//!
//! * [`NameService`] (`user/name-server`): object handles by name;
//! * [`Console`] (`user/console-server`): the console;
//! * [`FileSystem`] (`user/ramfs`): a file system whose open file
//!   descriptions are capabilities kept in the server (offset, flags,
//!   references), so `dup` and `fork` share them as in Linux.
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
    /// File system / console: write (create, write, truncate, mkdir,
    /// unlink, rename, links, times).
    pub const WRITE: u64 = 0b10;
    /// File system: administration (`chmod`, `fchmod`).
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
    /// A symbolic link.
    pub const SYMLINK: u32 = 3;
    /// A pipe: a FIFO (named, made by `mknod`) or an anonymous pipe (no
    /// name; made by `pipe`).
    pub const FIFO: u32 = 4;

    /// The kind of the node an open file description (what
    /// [`open`](super::FileSystem::open), [`create`](super::FileSystem::create)
    /// and [`pipe`](super::FileSystem::pipe) return) refers to: a server
    /// keeps it in the description's top four bits, so a client need not
    /// ask (`fstat`) to tell a directory or a FIFO it just opened. 0: the
    /// server did not say.
    pub const fn of_description(file: u64) -> u32 {
        (file >> SHIFT) as u32
    }

    /// Where the kind sits in a description.
    pub const SHIFT: u32 = 60;
}

/// Pipes: sizes and the readiness bits of [`FileSystem::poll`] (Linux's
/// `poll` values, so the system library passes them on).
pub mod pipe {
    /// Bytes a pipe holds (Linux's default pipe size).
    pub const CAPACITY: usize = 65536;
    /// A write of at most this many bytes is atomic: all or nothing
    /// (`EAGAIN` when it does not fit).
    pub const PIPE_BUF: usize = 4096;
    /// Data to read (or end of file: a pipe with no writer left).
    pub const POLLIN: u32 = 0x1;
    /// Room to write.
    pub const POLLOUT: u32 = 0x4;
    /// A write end whose readers are gone.
    pub const POLLERR: u32 = 0x8;
    /// A read end whose writers are gone.
    pub const POLLHUP: u32 = 0x10;
    /// Not a description of the server.
    pub const POLLNVAL: u32 = 0x20;
    /// K42-rs's own: the other side of a FIFO has opened since this
    /// description was (what a blocking `open` of a FIFO waits for).
    pub const PEER: u32 = 0x8000;
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
    /// With `O_CREAT`: fail if it exists (a symlink is not followed).
    pub const O_EXCL: u32 = 0o200;
    /// No controlling terminal (accepted, ignored).
    pub const O_NOCTTY: u32 = 0o400;
    /// Cut the file to length 0.
    pub const O_TRUNC: u32 = 0o1000;
    /// Every write goes to the end.
    pub const O_APPEND: u32 = 0o2000;
    /// Do not block (kept as a status flag; ramfs never blocks).
    pub const O_NONBLOCK: u32 = 0o4000;
    /// Synchronous data writes (accepted, kept; ramfs is always in sync).
    pub const O_DSYNC: u32 = 0o10000;
    /// Large offsets (accepted, kept: every offset is 64 bits).
    pub const O_LARGEFILE: u32 = 0o100_000;
    /// Fail unless a directory.
    pub const O_DIRECTORY: u32 = 0o200_000;
    /// Fail (`ELOOP`) if the last component is a symlink.
    pub const O_NOFOLLOW: u32 = 0o400_000;
    /// Close on exec: a per-descriptor flag the system library keeps
    /// (accepted and dropped here).
    pub const O_CLOEXEC: u32 = 0o2_000_000;
    /// Synchronous writes (accepted, kept; includes `O_DSYNC`).
    pub const O_SYNC: u32 = 0o4_010_000;
}

/// [`FileSystem::read`] and [`FileSystem::write`] at the open file
/// description's offset (which then advances), instead of at a given one.
pub const AT_CURRENT: u64 = u64::MAX;

/// `whence` of [`FileSystem::seek`]: from the start.
pub const SEEK_SET: u32 = 0;
/// `whence` of [`FileSystem::seek`]: from the current offset.
pub const SEEK_CUR: u32 = 1;
/// `whence` of [`FileSystem::seek`]: from the end (files only).
pub const SEEK_END: u32 = 2;

/// A time argument of [`FileSystem::utimens`]: the server's current time.
pub const UTIME_NOW: u64 = u64::MAX - 1;
/// A time argument of [`FileSystem::utimens`]: leave it as it is.
pub const UTIME_OMIT: u64 = u64::MAX;

/// A node's attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ppc_idl::Marshal)]
pub struct Stat {
    /// Inode number (unique among the nodes that live; never reused).
    pub ino: u64,
    /// Bytes (files), the target's length (symlinks) or entries
    /// (directories, `.` and `..` not counted).
    pub size: u64,
    /// [`kind::FILE`], [`kind::DIR`], [`kind::SYMLINK`] or [`kind::FIFO`]
    pub kind: u32,
    /// Permission bits (`0o644` ...; `0o777` for a symlink), kept, not
    /// enforced (there are no user ids yet; rights are per process).
    pub mode: u32,
    /// Hard links: the names of a file; 2 + subdirectories for a
    /// directory; 0 once removed (while still open).
    pub nlink: u32,
    /// Last access, in ns since the epoch of the server's clock. Set at
    /// creation and by `utimens` (reads do not update it, as `noatime`).
    pub atime_ns: u64,
    /// Last change of the contents (write, truncate, entries added or
    /// removed).
    pub mtime_ns: u64,
    /// Last change of the contents or the attributes (also chmod, links,
    /// rename, utimens).
    pub ctime_ns: u64,
}

/// A file system with open file descriptions in the server.
///
/// Paths are absolute (`EINVAL` otherwise; the client resolves the
/// working directory; an empty one is `ENOENT`), resolved as Linux does:
/// `.`, `..` (the root's is the root), repeated slashes, a trailing slash
/// (the node must be a directory, `ENOTDIR`), symlinks anywhere (`ELOOP`
/// after 40), [`PATH_MAX`] and [`FILE_NAME_MAX`] (`ENAMETOOLONG`).
///
/// An *open file description* (the `file` arguments, returned by `open`
/// and `create`) is a capability: a `u64` naming a slot in the server and
/// a random key, usable by any process that holds it, so a system library
/// passes it on with `dup` and `fork`. The server keeps its offset, status
/// flags and a reference count ([`FileSystem::hold`] adds one,
/// [`FileSystem::close`] drops one); a made-up, closed or stale one is
/// `EBADF`. A node lives while a name or a description refers to it.
///
/// Rights (the kernel's per-process grants, see [`rights`]): `READ`
/// (`0b1`) for everything that only reads or names, `WRITE` (`0b10`) to
/// change the tree or contents, `ADMIN` (`0b100`) for `chmod`.
///
/// The Linux system library maps `open(O_RDONLY)` to
/// [`FileSystem::open`] and any `open` asking for write access, creation
/// or truncation to [`FileSystem::create`], which needs the write right.
#[ppc_idl::interface]
pub trait FileSystem {
    /// Opens an existing node for reading: `O_RDONLY` with optionally
    /// `O_DIRECTORY` (`ENOTDIR` unless a directory), `O_NOFOLLOW`
    /// (`ELOOP` on a symlink), `O_NONBLOCK`, `O_APPEND`, `O_LARGEFILE`,
    /// `O_SYNC` (kept), `O_NOCTTY`, `O_CLOEXEC`, `O_EXCL` (ignored); any
    /// other flag is `EINVAL` (see `create`). `ENFILE` when the server's
    /// table of descriptions is full.
    #[ppc(rights = 0b1)]
    fn open(&self, path: &str, flags: u32) -> Result<u64, Errno>;

    /// Opens `path` with any access mode, creating a file (with `mode`) if
    /// `O_CREAT` (through a dangling symlink: its target), `O_EXCL`
    /// (`EEXIST` if it exists, a symlink not followed), `O_TRUNC`,
    /// `O_APPEND`, `O_DIRECTORY` and the flags of `open`, as in Linux:
    /// `EISDIR` for write access, `O_TRUNC` or `O_CREAT` on a directory,
    /// `ENOENT` without `O_CREAT` or under a removed directory, `EINVAL`
    /// for access mode 3 or `O_CREAT | O_DIRECTORY`.
    #[ppc(rights = 0b10)]
    fn create(&self, path: &str, flags: u32, mode: u32) -> Result<u64, Errno>;

    /// Reads up to `buf.len()` bytes at `offset` (or [`AT_CURRENT`]): the
    /// bytes read, 0 at the end. `EBADF` if not open for reading,
    /// `EISDIR` on a directory, `EINVAL` for an offset beyond `i64::MAX`.
    #[ppc(rights = 0b1)]
    fn read(&self, file: u64, offset: u64, #[ppc(out)] buf: &mut [u8]) -> Result<u32, Errno>;

    /// Writes `data` at `offset` ([`AT_CURRENT`]: the description's
    /// offset, which advances) or, with `O_APPEND`, at the end whatever
    /// the offset (as Linux's `pwrite`); past the end the gap reads as
    /// zeros. The bytes written. `EBADF` if not open for writing, `EFBIG`
    /// beyond the server's largest file, `ENOSPC` when the server's budget is
    /// spent. Updates mtime and ctime.
    #[ppc(rights = 0b10)]
    fn write(&self, file: u64, offset: u64, data: &[u8]) -> Result<u32, Errno>;

    /// `lseek`: `whence` [`SEEK_SET`], [`SEEK_CUR`] or [`SEEK_END`]; the
    /// new offset. `EINVAL` for a negative result or another `whence`,
    /// `EOVERFLOW` beyond `i64::MAX`. On a directory the offset is the
    /// index of the next entry for `getdents` (`SEEK_SET 0` rewinds;
    /// `SEEK_END` is `EINVAL`).
    #[ppc(rights = 0b1)]
    fn seek(&self, file: u64, offset: i64, whence: u32) -> Result<u64, Errno>;

    /// One more reference to the description (`dup`, or a `fork` that
    /// inherits it).
    #[ppc(rights = 0b1)]
    fn hold(&self, file: u64) -> Result<(), Errno>;

    /// Drops a reference; the last one frees the description (and a node
    /// no name refers to any more).
    #[ppc(rights = 0b1)]
    fn close(&self, file: u64) -> Result<(), Errno>;

    /// The description's status flags (the access mode, `O_APPEND`,
    /// `O_NONBLOCK` and the other open flags it keeps, as Linux's
    /// `F_GETFL`) before the call; when `mask != 0`, sets the bits of
    /// `mask` to those of `set`. Only `O_APPEND` and `O_NONBLOCK` change;
    /// other bits of `mask` are ignored (as `F_SETFL`).
    #[ppc(rights = 0b1)]
    fn flags(&self, file: u64, set: u32, mask: u32) -> Result<u32, Errno>;

    /// The attributes of the description's node.
    #[ppc(rights = 0b1)]
    fn fstat(&self, file: u64) -> Result<Stat, Errno>;

    /// The attributes of `path`, following a final symlink.
    #[ppc(rights = 0b1)]
    fn stat(&self, path: &str) -> Result<Stat, Errno>;

    /// The attributes of `path`, not following a final symlink (unless
    /// the path ends in `/`).
    #[ppc(rights = 0b1)]
    fn lstat(&self, path: &str) -> Result<Stat, Errno>;

    /// Directory entries from the description's offset (the entry index:
    /// `.` and `..` first, then the names in byte order), encoded with
    /// [`dirent::put`] into `buf`: (entries, bytes). Advances the offset
    /// by `entries`; 0 entries at the end. An entry that does not fit is
    /// left for the next call (`EINVAL` if not even one fits). Entries
    /// added or removed between calls do not make the others repeat or
    /// go missing (the description remembers the last name returned).
    /// `ENOTDIR` for a file.
    #[ppc(rights = 0b1)]
    fn getdents(&self, file: u64, #[ppc(out)] buf: &mut [u8]) -> Result<(u32, u32), Errno>;

    /// Sets the length of the file `path` (following symlinks): cut, or
    /// grown with zeros. `EISDIR` for a directory, `EFBIG` beyond
    /// the server's largest file, `EINVAL` beyond `i64::MAX`.
    #[ppc(rights = 0b10)]
    fn truncate(&self, path: &str, len: u64) -> Result<(), Errno>;

    /// Sets the length of the description's file; `EINVAL` unless it is a
    /// file open for writing (Linux's answer), otherwise as `truncate`.
    /// The offset does not move.
    #[ppc(rights = 0b10)]
    fn ftruncate(&self, file: u64, len: u64) -> Result<(), Errno>;

    /// Makes a directory (`EEXIST` if the name exists, even as a
    /// dangling symlink).
    #[ppc(rights = 0b10)]
    fn mkdir(&self, path: &str, mode: u32) -> Result<(), Errno>;

    /// Removes a name of a file or symlink (`EISDIR` for a directory). A
    /// node lives on while open.
    #[ppc(rights = 0b10)]
    fn unlink(&self, path: &str) -> Result<(), Errno>;

    /// Removes an empty directory (`ENOTEMPTY` otherwise, `EINVAL` for a
    /// last component `.`, `EBUSY` for `/`).
    #[ppc(rights = 0b10)]
    fn rmdir(&self, path: &str) -> Result<(), Errno>;

    /// Moves `from` to `to`, replacing a file there with a file or an
    /// empty directory with a directory (`EISDIR`, `ENOTDIR`, `ENOTEMPTY`
    /// otherwise); `EINVAL` for moving a directory below itself, `EBUSY`
    /// for `.`, `..` or `/`; nothing happens if both name the same node.
    #[ppc(rights = 0b10)]
    fn rename(&self, from: &str, to: &str) -> Result<(), Errno>;

    /// A hard link `to` of `from` (not following a final symlink):
    /// `EPERM` for a directory, `EEXIST` if `to` exists.
    #[ppc(rights = 0b10)]
    fn link(&self, from: &str, to: &str) -> Result<(), Errno>;

    /// A symlink at `path` holding `target` (`ENOENT` for an empty one,
    /// `EEXIST` if `path` exists).
    #[ppc(rights = 0b10)]
    fn symlink(&self, target: &str, path: &str) -> Result<(), Errno>;

    /// The target of the symlink `path` into `buf`: its length, truncated
    /// to `buf` as Linux does (no NUL). `EINVAL` if not a symlink.
    #[ppc(rights = 0b1)]
    fn readlink(&self, path: &str, #[ppc(out)] buf: &mut [u8]) -> Result<u32, Errno>;

    /// Sets the permission bits of `path` (following symlinks; `mode &
    /// 0o7777`). Updates ctime.
    #[ppc(rights = 0b100)]
    fn chmod(&self, path: &str, mode: u32) -> Result<(), Errno>;

    /// Sets the access and modification times of `path` (following
    /// symlinks), in ns since the epoch: [`UTIME_NOW`] for now,
    /// [`UTIME_OMIT`] to leave one. Updates ctime unless both are omitted.
    #[ppc(rights = 0b10)]
    fn utimens(&self, path: &str, atime_ns: u64, mtime_ns: u64) -> Result<(), Errno>;

    /// `chmod` of the description's node (`fchmod`).
    #[ppc(rights = 0b100)]
    fn fchmod(&self, file: u64, mode: u32) -> Result<(), Errno>;

    /// `utimens` of the description's node (`futimens`).
    #[ppc(rights = 0b10)]
    fn futimens(&self, file: u64, atime_ns: u64, mtime_ns: u64) -> Result<(), Errno>;

    /// `utimens` of `path` not following a final symlink
    /// (`AT_SYMLINK_NOFOLLOW`).
    #[ppc(rights = 0b10)]
    fn lutimens(&self, path: &str, atime_ns: u64, mtime_ns: u64) -> Result<(), Errno>;

    /// A pipe: (read end, write end), two descriptions of a node with no
    /// name ([`kind::FIFO`]) holding up to [`pipe::CAPACITY`] bytes.
    /// `flags`: `O_NONBLOCK` (kept as a status flag of both; the server
    /// never blocks) and `O_CLOEXEC` (the library's); others `EINVAL`.
    ///
    /// Pipe ends (and FIFOs) read and write at [`AT_CURRENT`] only
    /// (`ESPIPE` otherwise, and for `seek`): `read` takes what is there,
    /// 0 when no write end is left, `EAGAIN` when empty; `write` puts what
    /// fits (a write of at most [`pipe::PIPE_BUF`] bytes all or nothing),
    /// `EAGAIN` when full, `EPIPE` when no read end is left. A client
    /// that wants to wait watches the [`doorbell`](FileSystem::doorbell).
    #[ppc(rights = 0b1)]
    fn pipe(&self, flags: u32) -> Result<(u64, u64), Errno>;

    /// Makes a FIFO at `path`: `mode` is `S_IFIFO` (0o010000) with the
    /// permission bits; other node types are `EPERM` (no devices here),
    /// `EEXIST` if the name exists. Opening a FIFO gives a pipe end: for
    /// reading (`open`), writing or both (`create`, which also needs
    /// `O_NONBLOCK`'s rule: a write-only open with no reader is `ENXIO`).
    #[ppc(rights = 0b10)]
    fn mknod(&self, path: &str, mode: u32) -> Result<(), Errno>;

    /// Readiness of the descriptions in `files` (8 bytes each,
    /// little-endian) into `out` (8 bytes each: the [`pipe`] bits in the
    /// low word, the bytes ready to read in the high one): files and
    /// directories are always ready (`POLLIN | POLLOUT` as their access
    /// mode allows), a made-up description is `POLLNVAL`. Returns how many
    /// have a bit set. `EINVAL` unless `out` has room for each.
    #[ppc(rights = 0b1)]
    fn poll(&self, files: &[u8], #[ppc(out)] out: &mut [u8]) -> Result<u32, Errno>;

    /// The doorbell: a handle for the caller's `map_handle` of one page of
    /// the server, read only, whose first 32-bit word the server
    /// increments and `futex_wake`s at every change of a pipe (data in or
    /// out, an end opened or closed). A client reads the word, tries, and
    /// if it has to wait, `futex_wait`s on the word it read: no change is
    /// missed. `ENOSYS` when the server has no doorbell.
    #[ppc(rights = 0b1)]
    fn doorbell(&self, #[ppc(caller)] caller: ProcessId) -> Result<u64, Errno>;

    /// The boot image's entry (its index, for the kernel's `exec`) whose
    /// contents regular file `path` (links followed) still has: a file
    /// the server took from the initramfs and nobody changed since
    /// (`EINVAL` for any other file, `ENOENT` if there is none).
    #[ppc(rights = 0b1)]
    fn boot_file(&self, path: &str) -> Result<u32, Errno>;

    /// `mmap` of regular file `file`: a handle for the caller's
    /// `map_handle` of `len` bytes of the file from byte `offset` (both
    /// page aligned), good for one mapping, and the [`map`](mod@map)
    /// protection bits the mapping may ever have (what `mprotect` may
    /// give it: no [`map::WRITE`] for a shared mapping of a description
    /// not open for writing). The server keeps a mapped
    /// file's pages in its shared memory, so the mapping, `read`, `write`
    /// and every other mapping see the same bytes; an access past the
    /// page of the file's end faults (SIGBUS), also after a truncation.
    /// `how`: the [`map`](mod@map) bits (`PROT_*`, and
    /// [`map::PRIVATE`] for a copy-on-write view whose stores stay the
    /// caller's). `EACCES` if the description is not open for reading, or
    /// for a shared writable mapping not open for writing too; `ENODEV`
    /// for a directory, pipe or FIFO; `EINVAL` for an unaligned offset, an
    /// empty range or one past [`map::MAX_LEN`]; `ENOSYS` when the server
    /// cannot share memory.
    #[ppc(rights = 0b1)]
    fn map(
        &self,
        #[ppc(caller)] caller: ProcessId,
        file: u64,
        offset: u64,
        len: u64,
        how: u32,
    ) -> Result<(u64, u32), Errno>;
}

/// The `how` bits of [`FileSystem::map`].
pub mod map {
    /// The mapping may be read (`PROT_READ`).
    pub const READ: u32 = 1;
    /// It may be written (`PROT_WRITE`).
    pub const WRITE: u32 = 2;
    /// It may be executed (`PROT_EXEC`).
    pub const EXEC: u32 = 4;
    /// A private, copy-on-write view (`MAP_PRIVATE`).
    pub const PRIVATE: u32 = 8;
    /// A mapping reaches at most this far into a file (bytes).
    pub const MAX_LEN: u64 = 16 << 20;
}

/// The directory-entry encoding of [`FileSystem::getdents`]: Linux's
/// `struct linux_dirent64`, so a system library can pass the bytes on as
/// they are (and an entry fits the server's buffer exactly when it fits
/// the program's): the inode number (`d_ino`, 8 bytes), the offset of the
/// next entry (`d_off`, 8 bytes: its index), the record's length
/// (`d_reclen`, 2 bytes), the type (`d_type`: `DT_DIR` 4, `DT_REG` 8,
/// `DT_LNK` 10, `DT_FIFO` 1), the name and a NUL, padded with zeros to a multiple of 8
/// bytes. All little-endian.
pub mod dirent {
    use super::kind;

    /// Where the name starts in a record.
    const NAME: usize = 19;

    /// Bytes the record of an entry named `name` takes.
    pub const fn size(name: &str) -> usize {
        (NAME + name.len() + 1).next_multiple_of(8)
    }

    /// `d_type` of a [`kind`].
    pub const fn d_type(k: u32) -> u8 {
        match k {
            kind::DIR => 4,
            kind::FILE => 8,
            kind::SYMLINK => 10,
            kind::FIFO => 1,
            _ => 0,
        }
    }

    /// Appends the record of entry `name` (inode `ino`, [`kind`] `k`, the
    /// next entry at offset `next`) to `buf` at `at`: the new end, or
    /// `None` if it does not fit (or the name is longer than 255 bytes or
    /// holds a NUL).
    pub fn put(
        buf: &mut [u8],
        at: usize,
        ino: u64,
        next: u64,
        k: u32,
        name: &str,
    ) -> Option<usize> {
        if name.len() > 255 || name.contains('\0') {
            return None;
        }
        let len = size(name);
        let dst = buf.get_mut(at..at.checked_add(len)?)?;
        dst[..8].copy_from_slice(&ino.to_le_bytes());
        dst[8..16].copy_from_slice(&next.to_le_bytes());
        dst[16..18].copy_from_slice(&(len as u16).to_le_bytes());
        dst[18] = d_type(k);
        dst[NAME..NAME + name.len()].copy_from_slice(name.as_bytes());
        dst[NAME + name.len()..].fill(0);
        Some(at + len)
    }

    /// The records in `buf`: (inode number, [`kind`], name). Stops at the
    /// first malformed one.
    pub fn iter(buf: &[u8]) -> impl Iterator<Item = (u64, u32, &str)> {
        records(buf).map(|(ino, _, k, name)| (ino, k, name))
    }

    /// The records in `buf` with their `d_off`: (inode number, offset of
    /// the next entry, [`kind`], name). Stops at the first malformed one.
    pub fn records(buf: &[u8]) -> impl Iterator<Item = (u64, u64, u32, &str)> {
        let mut at = 0;
        core::iter::from_fn(move || {
            let word = |i: usize| -> Option<u64> {
                Some(u64::from_le_bytes(
                    buf.get(at + i..at + i + 8)?.try_into().ok()?,
                ))
            };
            let (ino, next) = (word(0)?, word(8)?);
            let len = usize::from(u16::from_le_bytes(
                buf.get(at + 16..at + 18)?.try_into().ok()?,
            ));
            let rec = buf.get(at..at + len).filter(|_| len > NAME)?;
            let n = rec[NAME..].iter().position(|&b| b == 0)?;
            let name = core::str::from_utf8(&rec[NAME..NAME + n]).ok()?;
            let k = match rec[18] {
                4 => kind::DIR,
                8 => kind::FILE,
                10 => kind::SYMLINK,
                1 => kind::FIFO,
                _ => 0,
            };
            at += len;
            Some((ino, next, k, name))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ppc_idl::{LoopbackTransport, PpcError, Rights};

    /// A stand-in file system: fixed answers, enough to see the stubs and
    /// the rights checks.
    struct Fs;
    impl FileSystem for Fs {
        fn open(&self, _: &str, _: u32) -> Result<u64, Errno> {
            Ok(3 | 77 << 32)
        }
        fn create(&self, _: &str, _: u32, _: u32) -> Result<u64, Errno> {
            Ok(4 | 78 << 32)
        }
        fn read(&self, _: u64, _: u64, buf: &mut [u8]) -> Result<u32, Errno> {
            buf.fill(b'r');
            Ok(buf.len() as u32)
        }
        fn write(&self, _: u64, _: u64, d: &[u8]) -> Result<u32, Errno> {
            Ok(d.len() as u32)
        }
        fn seek(&self, _: u64, off: i64, whence: u32) -> Result<u64, Errno> {
            match whence {
                SEEK_SET => u64::try_from(off).map_err(|_| Errno::EINVAL),
                _ => Err(Errno::EINVAL),
            }
        }
        fn hold(&self, _: u64) -> Result<(), Errno> {
            Ok(())
        }
        fn close(&self, _: u64) -> Result<(), Errno> {
            Ok(())
        }
        fn flags(&self, _: u64, _: u32, _: u32) -> Result<u32, Errno> {
            Ok(flags::O_RDWR)
        }
        fn fstat(&self, _: u64) -> Result<Stat, Errno> {
            Ok(Stat {
                ino: 1,
                size: 2,
                kind: kind::FILE,
                mode: 0o644,
                nlink: 1,
                atime_ns: 5,
                mtime_ns: 6,
                ctime_ns: 7,
            })
        }
        fn stat(&self, _: &str) -> Result<Stat, Errno> {
            Err(Errno::ENOENT)
        }
        fn lstat(&self, _: &str) -> Result<Stat, Errno> {
            Err(Errno::ENOENT)
        }
        fn getdents(&self, _: u64, _: &mut [u8]) -> Result<(u32, u32), Errno> {
            Ok((0, 0))
        }
        fn truncate(&self, _: &str, _: u64) -> Result<(), Errno> {
            Ok(())
        }
        fn ftruncate(&self, _: u64, _: u64) -> Result<(), Errno> {
            Ok(())
        }
        fn mkdir(&self, _: &str, _: u32) -> Result<(), Errno> {
            Ok(())
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
        fn link(&self, _: &str, _: &str) -> Result<(), Errno> {
            Ok(())
        }
        fn symlink(&self, _: &str, _: &str) -> Result<(), Errno> {
            Ok(())
        }
        fn readlink(&self, _: &str, buf: &mut [u8]) -> Result<u32, Errno> {
            let n = buf.len().min(3);
            buf[..n].copy_from_slice(&b"tgt"[..n]);
            Ok(n as u32)
        }
        fn chmod(&self, _: &str, _: u32) -> Result<(), Errno> {
            Ok(())
        }
        fn utimens(&self, _: &str, _: u64, _: u64) -> Result<(), Errno> {
            Ok(())
        }
        fn fchmod(&self, _: u64, _: u32) -> Result<(), Errno> {
            Ok(())
        }
        fn futimens(&self, _: u64, _: u64, _: u64) -> Result<(), Errno> {
            Ok(())
        }
        fn lutimens(&self, _: &str, _: u64, _: u64) -> Result<(), Errno> {
            Ok(())
        }
        fn boot_file(&self, _: &str) -> Result<u32, Errno> {
            Err(Errno::ENOENT)
        }
        fn pipe(&self, _: u32) -> Result<(u64, u64), Errno> {
            Ok((5, 6))
        }
        fn mknod(&self, _: &str, _: u32) -> Result<(), Errno> {
            Ok(())
        }
        fn poll(&self, files: &[u8], out: &mut [u8]) -> Result<u32, Errno> {
            out[..files.len()].copy_from_slice(files);
            Ok((files.len() / 8) as u32)
        }
        fn doorbell(&self, caller: ProcessId) -> Result<u64, Errno> {
            Ok(u64::from(caller.0))
        }
        fn map(
            &self,
            caller: ProcessId,
            file: u64,
            _: u64,
            _: u64,
            how: u32,
        ) -> Result<(u64, u32), Errno> {
            Ok((u64::from(caller.0) << 32 | file << 8 | u64::from(how), 7))
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
        assert_eq!(r.read(3, AT_CURRENT, &mut buf), Ok(Ok(5)));
        assert_eq!(&buf, b"rrrrr");
        assert_eq!(r.open("/f", 0), Ok(Ok(3 | 77 << 32)), "64-bit descriptions");
        assert_eq!(r.write(3, 0, b"x"), Err(PpcError::NoRights));
        assert_eq!(
            r.create("/f", flags::O_CREAT, 0o644),
            Err(PpcError::NoRights)
        );
        for denied in [
            r.truncate("/f", 0),
            r.ftruncate(3, 0),
            r.mkdir("/d", 0),
            r.unlink("/f"),
            r.rmdir("/d"),
            r.rename("/f", "/g"),
            r.link("/f", "/g"),
            r.symlink("/f", "/g"),
            r.utimens("/f", 0, 0),
            r.futimens(3, 0, 0),
            r.lutimens("/f", 0, 0),
            r.chmod("/f", 0),
            r.fchmod(3, 0),
            w.chmod("/f", 0),
            w.fchmod(3, 0),
        ] {
            assert_eq!(denied, Err(PpcError::NoRights));
        }
        assert_eq!(w.write(3, 0, b"xy"), Ok(Ok(2)));
        assert_eq!(a.chmod("/f", 0), Ok(Ok(())));
        assert_eq!(a.fchmod(3, 0), Ok(Ok(())));
        assert_eq!(a.stat("/f"), Err(PpcError::NoRights));
        assert_eq!(r.stat("/f"), Ok(Err(Errno::ENOENT)));
        assert_eq!(
            r.seek(3, -1, SEEK_SET),
            Ok(Err(Errno::EINVAL)),
            "i64 crosses"
        );
        assert_eq!(r.seek(3, 9, SEEK_SET), Ok(Ok(9)));
        let st = r.fstat(3).unwrap().unwrap();
        assert_eq!((st.mode, st.nlink, st.ctime_ns), (0o644, 1, 7));
        let mut two = [0u8; 2];
        assert_eq!(r.readlink("/l", &mut two), Ok(Ok(2)));
        assert_eq!(&two, b"tg");
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
    fn dirents_round_trip_as_linux_dirent64() {
        let mut buf = [0xffu8; 56];
        let end = dirent::put(&mut buf, 0, 7, 3, kind::FILE, "a.txt").unwrap();
        assert_eq!(end, 32, "19 + 5 + NUL, aligned to 8");
        assert_eq!(dirent::size("a.txt"), 32);
        assert_eq!(dirent::size("1234"), 24);
        assert_eq!(dirent::size("12345"), 32);
        // linux_dirent64: d_ino, d_off, d_reclen, d_type, d_name.
        assert_eq!(buf[..8], 7u64.to_le_bytes());
        assert_eq!(buf[8..16], 3u64.to_le_bytes());
        assert_eq!(buf[16..19], [32, 0, 8]);
        assert_eq!(&buf[19..25], b"a.txt\0");
        assert!(buf[25..32].iter().all(|&b| b == 0), "zero padding");
        let end = dirent::put(&mut buf, end, u64::MAX, 4, kind::DIR, "dir").unwrap();
        assert_eq!(end, 56);
        assert_eq!(dirent::put(&mut buf, end, 1, 5, kind::FILE, "x"), None);
        assert_eq!(
            dirent::put(&mut buf[..55], 32, 1, 5, kind::FILE, "dir"),
            None
        );
        let got: std::vec::Vec<_> = dirent::records(&buf[..end]).collect();
        assert_eq!(
            got,
            [(7, 3, kind::FILE, "a.txt"), (u64::MAX, 4, kind::DIR, "dir")]
        );
        let mut link = [0u8; 24];
        dirent::put(&mut link, 0, 9, 1, kind::SYMLINK, "l").unwrap();
        assert_eq!(link[18], 10);
        assert_eq!(
            dirent::iter(&link).collect::<std::vec::Vec<_>>(),
            [(9, kind::SYMLINK, "l")]
        );
        // A truncated buffer yields what is whole.
        assert_eq!(dirent::iter(&buf[..end - 1]).count(), 1);
        let long = "x".repeat(256);
        assert_eq!(
            dirent::put(&mut [0u8; 300], 0, 1, 1, kind::FILE, &long),
            None
        );
        assert_eq!(
            dirent::put(&mut [0u8; 300], 0, 1, 1, kind::FILE, "a\0b"),
            None
        );
    }
}

//! # ramfs: an in-memory file system server
//!
//! The first file server of K42-rs (K42 had several, all user-level
//! servers reached by PPC). This crate is the [`FileSystem`]
//! implementation, [`Ramfs`]: a tree of directories, files and symlinks in
//! the server's heap, with
//!
//! * *open file descriptions* kept in the server, as Linux keeps them in
//!   its kernel: the offset, the status flags and a reference count live
//!   here, and the `u64` a client holds is a capability (a slot index and
//!   a random 32-bit key) that any process may use. So the Linux system
//!   library gives `dup` and `fork` their meaning by passing the number on
//!   and calling [`FileSystem::hold`]: after a fork, parent and child
//!   write through one offset. A made-up, closed or stale number is
//!   `EBADF` (the key is a guard against mistakes and casual guessing,
//!   not a secret: the kernel's per-process rights are the protection);
//! * Linux semantics where a Linux program would notice: path resolution
//!   with `.`, `..`, trailing slashes and symlinks anywhere (`ELOOP` after
//!   [`MAX_SYMLINKS`]); `O_CREAT`, `O_EXCL`, `O_TRUNC`, `O_APPEND`,
//!   `O_NOFOLLOW`, `O_DIRECTORY`; hard links and link counts (a directory
//!   has 2 + its subdirectories); a node lives while a name or a
//!   description refers to it; `rename`'s rules; times from the clock the
//!   server is given; errors are Linux errno values;
//! * bounds instead of panics: a byte budget for file data and link
//!   targets (`ENOSPC`, checked with fallible allocation), [`MAX_FILE`]
//!   per file (`EFBIG`), [`MAX_NAMES`] directory entries (`ENOSPC`),
//!   [`MAX_OPEN`] open descriptions in all (`ENFILE`), [`PATH_MAX`] and
//!   [`FILE_NAME_MAX`] (`ENAMETOOLONG`);
//! * pipes and FIFOs ([`pipe`](mod@pipe)): bounded queues whose ends are
//!   descriptions; the server never waits, it rings a doorbell ([`Bell`])
//!   that clients wait on, and answers `poll` for any set of
//!   descriptions;
//! * mapped files ([`store`]): once a client maps a regular file
//!   ([`FileSystem::map`]), its bytes move from the heap into a window of
//!   the server's shared memory ([`Store`]) that the kernel maps into the
//!   client, so `read`, `write` and every mapping see the same pages; the
//!   server keeps the kernel's idea of the file's end current, so an
//!   access past it faults (SIGBUS) in every mapping.
//!
//! Descriptions are not tied to processes, so one held by a process that
//! dies without closing it stays until the server ends (there is no death
//! notice yet); [`MAX_OPEN`] bounds the leak.
//!
//! The program (`main.rs`) exports one `Ramfs` with `k42_rt::server`,
//! grants read to everyone and read + write (+ admin) to the processes
//! named on its command line (`*`: everyone), and registers itself with
//! the name server as `ramfs`.
//!
//! ## Cost
//!
//! `cargo bench -p ramfs --bench ops -- --measurement-time 2
//! --warm-up-time 1` (one run, shared 2-core host; read the ratios):
//! directly, a 4 KiB read takes 44 ns, a 4 KiB write 60 ns, a `stat` of a
//! two-level path 80 ns (the walk allocates only when it follows a
//! symlink); through the generated stubs over the loopback transport they
//! cost 6.6x, 4.9x and 3.2x that (the stubs zero and copy page-sized
//! messages). Before open file descriptions and symlinks (the per-process
//! descriptors of the first version), in QEMU through the kernel
//! (`server_round_trips`), a ramfs `stat` cost 1.1x a null PPC and a
//! 4 KiB read or write 1.5x.
//!
//! ## Usage
//!
//! ```
//! use k42_interfaces::{flags, FileSystem, AT_CURRENT, SEEK_SET};
//! use ramfs::Ramfs;
//!
//! let fs = Ramfs::new(1 << 20, || 0);
//! let f = fs.create("/hello", flags::O_CREAT | flags::O_RDWR, 0o644).unwrap();
//! assert_eq!(fs.write(f, AT_CURRENT, b"hi there"), Ok(8));
//! // A second reference (a dup, or a forked child's copy) shares the offset.
//! fs.hold(f).unwrap();
//! assert_eq!(fs.seek(f, 3, SEEK_SET), Ok(3));
//! let mut buf = [0u8; 16];
//! assert_eq!(fs.read(f, AT_CURRENT, &mut buf), Ok(5));
//! assert_eq!(&buf[..5], b"there");
//! fs.close(f).unwrap();
//! fs.close(f).unwrap();
//! assert_eq!(fs.read(f, 0, &mut buf), Err(k42_rt::Errno::EBADF));
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

use alloc::borrow::Cow;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Bound;

use k42_interfaces::flags::*;
pub use k42_interfaces::{
    dirent, kind, rights, FileSystem, Stat, AT_CURRENT, FILE_NAME_MAX, PATH_MAX, SEEK_CUR,
    SEEK_END, SEEK_SET, UTIME_NOW, UTIME_OMIT,
};
use k42_rt::Errno;

mod boot;
#[cfg(target_os = "none")]
pub use boot::KernelBoot;
pub use boot::{BootEntry, BootSource, Imported};
use ppc_idl::ProcessId;

mod pipe;
pub use pipe::Bell;
use pipe::Pipe;

pub mod store;
use store::Data;
pub use store::{MemStore, Store};

/// Largest file.
pub const MAX_FILE: u64 = 16 << 20;
/// Most open file descriptions, all clients together (`ENFILE`).
pub const MAX_OPEN: usize = 1024;
/// Most symlinks followed while resolving one path (`ELOOP`), Linux's 40.
pub const MAX_SYMLINKS: u32 = 40;
/// Most directory entries, all directories together (`ENOSPC`): names
/// live in the heap outside the byte budget, so they have their own bound.
pub const MAX_NAMES: usize = 8192;

/// Flags `open` accepts besides `O_RDONLY` (`O_EXCL` without `O_CREAT`
/// and `O_APPEND` on a read-only description do nothing, as in Linux).
const OPEN_FLAGS: u32 = O_DIRECTORY
    | O_NOFOLLOW
    | O_NONBLOCK
    | O_APPEND
    | O_EXCL
    | O_LARGEFILE
    | O_SYNC
    | O_DSYNC
    | O_NOCTTY
    | O_CLOEXEC;
/// Flags `create` accepts.
const CREATE_FLAGS: u32 = OPEN_FLAGS | O_ACCMODE | O_CREAT | O_TRUNC;
/// Flags that act at open time only (Linux's `F_GETFL` does not show them).
const OPEN_ONLY: u32 = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC;
/// Status flags `flags` may change.
const SETTABLE: u32 = O_APPEND | O_NONBLOCK;

enum Body {
    /// A file of the boot image, unchanged: entry `index`, `len` bytes,
    /// read through the kernel ([`boot`]).
    Boot {
        index: u32,
        len: u64,
    },
    File(Data),
    Dir(Dir),
    Symlink(String),
    /// A FIFO, or an anonymous pipe (no name).
    Pipe(Pipe),
}

struct Dir {
    entries: BTreeMap<String, usize>,
    /// The directory holding it (itself for the root).
    parent: usize,
}

struct Node {
    ino: u64,
    mode: u32,
    /// Names (files, symlinks), 2 + subdirectories (directories); 0 once
    /// no name refers to it.
    nlink: u32,
    /// Open descriptions on it.
    opens: u32,
    atime: u64,
    mtime: u64,
    ctime: u64,
    body: Body,
}

impl Node {
    fn stat(&self) -> Stat {
        let (size, kind) = match &self.body {
            Body::File(d) => (d.len(), kind::FILE),
            Body::Boot { len, .. } => (*len, kind::FILE),
            Body::Dir(d) => (d.entries.len() as u64, kind::DIR),
            Body::Symlink(t) => (t.len() as u64, kind::SYMLINK),
            Body::Pipe(_) => (0, kind::FIFO),
        };
        Stat {
            ino: self.ino,
            size,
            kind,
            mode: self.mode,
            nlink: self.nlink,
            atime_ns: self.atime,
            mtime_ns: self.mtime,
            ctime_ns: self.ctime,
        }
    }

    fn is_dir(&self) -> bool {
        matches!(self.body, Body::Dir(_))
    }

    /// Contents changed: mtime and ctime.
    fn modified(&mut self, now: u64) {
        self.mtime = now;
        self.ctime = now;
    }
}

/// An open file description.
struct Open {
    node: usize,
    /// Access mode and status flags.
    flags: u32,
    /// Bytes (files) or the index of the next entry (directories).
    offset: u64,
    refs: u32,
    /// Directories: the last name `getdents` returned and the offset after
    /// it, so the next call resumes after that name even if entries before
    /// it came or went.
    cursor: Option<(u64, String)>,
    /// Pipe ends: the other side's opens when this one opened
    /// ([`Pipe::open`]).
    seen: u32,
}

struct Slot {
    key: u32,
    open: Option<Open>,
}

/// How a path's last component is treated when it is a symlink.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Final {
    /// Followed (`stat`, `open`).
    Follow,
    /// Not followed unless the path ends in `/` (`lstat`, `O_NOFOLLOW`).
    NoFollow,
    /// Never followed: the operation is on the name in its directory
    /// (`mkdir`, `unlink`, `rmdir`, `rename`, `link`, `symlink`).
    Parent,
}

/// A path's last component.
enum Last<'p> {
    /// The path was `/` (or slashes).
    Root,
    Dot,
    DotDot,
    Name(Cow<'p, str>),
}

/// Where a path leads: the directory holding its last component, that
/// component, the node it names (if any) and whether the path ended in a
/// slash.
struct Walk<'p> {
    dir: usize,
    last: Last<'p>,
    node: Option<usize>,
    slash: bool,
}

impl Walk<'_> {
    /// The last component as a name an operation can add or remove
    /// (`bad` for `/`, `.` and `..`).
    fn name(&self, bad: Errno) -> Result<&str, Errno> {
        match &self.last {
            Last::Name(n) => Ok(n),
            _ => Err(bad),
        }
    }
}

struct Tree {
    nodes: Vec<Option<Node>>,
    free: Vec<usize>,
    next_ino: u64,
    files: Vec<Slot>,
    free_files: Vec<usize>,
    open: usize,
    /// Directory entries, all directories together.
    names: usize,
    bytes: usize,
    capacity: usize,
    /// State of the key generator (xorshift64*, stirred with the clock).
    rng: u64,
    /// Where boot files' contents come from ([`Ramfs::import`]).
    boot: Option<alloc::boxed::Box<dyn BootSource>>,
    /// Where mapped files' bytes live ([`Ramfs::with_store`]).
    store: Option<&'static dyn Store>,
}

const ROOT: usize = 0;

/// The file system: see the crate docs.
pub struct Ramfs {
    tree: spin::Mutex<Tree>,
    clock: fn() -> u64,
    bell: Option<&'static dyn Bell>,
}

/// A checked offset or length argument (Linux's `loff_t` is signed).
fn offset(v: u64) -> Result<u64, Errno> {
    if v > i64::MAX as u64 {
        Err(Errno::EINVAL)
    } else {
        Ok(v)
    }
}

/// A `String` copy of `s`, or `ENOSPC` if the heap has no room.
fn try_string(s: &str) -> Result<String, Errno> {
    let mut out = String::new();
    out.try_reserve_exact(s.len()).map_err(|_| Errno::ENOSPC)?;
    out.push_str(s);
    Ok(out)
}

/// The splitmix64 finaliser: spreads the bits of `x`.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Tree {
    fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().expect("a live node index")
    }

    fn node_mut(&mut self, i: usize) -> &mut Node {
        self.nodes[i].as_mut().expect("a live node index")
    }

    fn dir(&self, i: usize) -> Result<&Dir, Errno> {
        match &self.node(i).body {
            Body::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn dir_mut(&mut self, i: usize) -> Result<&mut Dir, Errno> {
        match &mut self.node_mut(i).body {
            Body::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Resolves `path` (absolute) as Linux does: `.`, `..`, repeated and
    /// trailing slashes, symlinks anywhere (the last one as `fin` says).
    /// A missing last component is not an error: `node` is `None`.
    fn walk<'p>(&self, path: &'p str, fin: Final) -> Result<Walk<'p>, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() > PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if !path.starts_with('/') || path.contains('\0') {
            return Err(Errno::EINVAL);
        }
        let mut rest: Cow<'p, str> = Cow::Borrowed(path);
        let mut at = 0;
        let mut dir = ROOT;
        let mut links = 0;
        loop {
            let s = &rest[at..];
            let body = s.trim_start_matches('/');
            let start = at + (s.len() - body.len());
            let end = start + body.find('/').unwrap_or(body.len());
            let comp = &rest[start..end];
            let tail = &rest[end..];
            let is_last = tail.bytes().all(|b| b == b'/');
            let slash = !tail.is_empty();
            if comp.is_empty() {
                // Only slashes: at the root (a relative symlink target is
                // never empty).
                return Ok(Walk {
                    dir: ROOT,
                    last: Last::Root,
                    node: Some(ROOT),
                    slash: true,
                });
            }
            if comp.len() > FILE_NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            let d = self.dir(dir)?;
            let child = match comp {
                "." => Some(dir),
                ".." => Some(d.parent),
                _ => d.entries.get(comp).copied(),
            };
            let last = || match comp {
                "." => Last::Dot,
                ".." => Last::DotDot,
                _ => Last::Name(match &rest {
                    Cow::Borrowed(p) => Cow::Borrowed(&p[start..end]),
                    Cow::Owned(p) => Cow::Owned(String::from(&p[start..end])),
                }),
            };
            let Some(child) = child else {
                if is_last {
                    return Ok(Walk {
                        dir,
                        last: last(),
                        node: None,
                        slash,
                    });
                }
                return Err(Errno::ENOENT);
            };
            let node = self.node(child);
            if let Body::Symlink(target) = &node.body {
                let follow = !is_last
                    || match fin {
                        Final::Follow => true,
                        Final::NoFollow => slash,
                        Final::Parent => false,
                    };
                if follow {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(Errno::ELOOP);
                    }
                    let mut next = String::new();
                    next.try_reserve_exact(target.len() + tail.len())
                        .map_err(|_| Errno::ENOMEM)?;
                    next.push_str(target);
                    next.push_str(tail);
                    if target.starts_with('/') {
                        dir = ROOT;
                    }
                    rest = Cow::Owned(next);
                    at = 0;
                    continue;
                }
            }
            if is_last {
                if slash && fin != Final::Parent && !node.is_dir() {
                    return Err(Errno::ENOTDIR);
                }
                return Ok(Walk {
                    dir,
                    last: last(),
                    node: Some(child),
                    slash,
                });
            }
            if !node.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            dir = child;
            at = end;
        }
    }

    /// The node `path` names, `ENOENT` if none.
    fn lookup(&self, path: &str, fin: Final) -> Result<usize, Errno> {
        self.walk(path, fin)?.node.ok_or(Errno::ENOENT)
    }

    /// A new node (its next inode number, in a free slot or a new one;
    /// room was reserved): its index.
    fn new_node(&mut self, mode: u32, nlink: u32, body: Body, now: u64) -> usize {
        let node = Node {
            ino: self.next_ino,
            mode,
            nlink,
            opens: 0,
            atime: now,
            mtime: now,
            ctime: now,
            body,
        };
        self.next_ino += 1;
        match self.free.pop() {
            Some(i) => {
                self.nodes[i] = Some(node);
                i
            }
            None => {
                self.nodes.push(Some(node));
                self.nodes.len() - 1
            }
        }
    }

    /// A new node named `name` in directory `dir`.
    fn add(
        &mut self,
        dir: usize,
        name: &str,
        mode: u32,
        body: Body,
        now: u64,
    ) -> Result<usize, Errno> {
        self.dir(dir)?;
        self.room_for_a_name()?;
        let name = try_string(name)?;
        self.nodes.try_reserve(1).map_err(|_| Errno::ENOSPC)?;
        let is_dir = matches!(body, Body::Dir(_));
        let i = self.new_node(mode, if is_dir { 2 } else { 1 }, body, now);
        self.dir_mut(dir)?.entries.insert(name, i);
        self.names += 1;
        let parent = self.node_mut(dir);
        parent.modified(now);
        if is_dir {
            parent.nlink += 1;
        }
        Ok(i)
    }

    /// Removes the entry `name` of `dir` naming `i` (a file, symlink or
    /// empty directory), freeing `i` if nothing else refers to it.
    fn remove(&mut self, dir: usize, name: &str, i: usize, now: u64) {
        if let Ok(d) = self.dir_mut(dir) {
            if d.entries.remove(name).is_some() {
                self.names -= 1;
            }
        }
        let is_dir = self.node(i).is_dir();
        let parent = self.node_mut(dir);
        parent.modified(now);
        if is_dir {
            parent.nlink -= 1;
        }
        let n = self.node_mut(i);
        n.nlink = if is_dir { 0 } else { n.nlink - 1 };
        n.ctime = now;
        self.release(i);
    }

    /// Frees node `i` if no name and no description refers to it.
    fn release(&mut self, i: usize) {
        let n = self.node(i);
        if n.nlink > 0 || n.opens > 0 {
            return;
        }
        if let Body::File(d) = &n.body {
            d.free(self.store);
        }
        self.bytes -= match &n.body {
            Body::File(d) => d.len() as usize,
            Body::Boot { .. } => 0,
            Body::Symlink(t) => t.len(),
            Body::Pipe(p) => p.buf.len(),
            Body::Dir(_) => 0,
        };
        self.nodes[i] = None;
        self.free.push(i);
    }

    /// `ENOSPC` unless one more directory entry fits.
    fn room_for_a_name(&self) -> Result<(), Errno> {
        if self.names >= MAX_NAMES {
            return Err(Errno::ENOSPC);
        }
        Ok(())
    }

    /// Bytes of the budget, or `ENOSPC`.
    fn charge(&mut self, n: usize) -> Result<(), Errno> {
        if self.bytes + n > self.capacity {
            return Err(Errno::ENOSPC);
        }
        self.bytes += n;
        Ok(())
    }

    /// Sets file `i`'s length to `len`, within the budget.
    fn resize(&mut self, i: usize, len: u64) -> Result<(), Errno> {
        if len > MAX_FILE {
            return Err(Errno::EFBIG);
        }
        boot::copy_up(self, i)?;
        let (budget, bytes, store) = (self.capacity, self.bytes, self.store);
        let Body::File(d) = &mut self.node_mut(i).body else {
            return Err(Errno::EISDIR);
        };
        let old = d.len() as usize;
        let new = len as usize;
        if new > old && bytes + (new - old) > budget {
            return Err(Errno::ENOSPC);
        }
        d.resize(store, len)?;
        // `bytes` counts the old length.
        self.bytes = bytes + new - old;
        Ok(())
    }

    /// `truncate` of node `i`.
    fn truncate(&mut self, i: usize, len: u64, now: u64) -> Result<(), Errno> {
        match self.node(i).body {
            Body::Dir(_) => return Err(Errno::EISDIR),
            Body::Pipe(_) => return Err(Errno::EINVAL),
            _ => {}
        }
        self.resize(i, offset(len)?)?;
        self.node_mut(i).modified(now);
        Ok(())
    }

    /// `utimens` of node `i`.
    fn set_times(&mut self, i: usize, atime: u64, mtime: u64, now: u64) {
        if atime == UTIME_OMIT && mtime == UTIME_OMIT {
            return;
        }
        let pick = |t: u64, old: u64| match t {
            UTIME_OMIT => old,
            UTIME_NOW => now,
            t => t,
        };
        let n = self.node_mut(i);
        n.atime = pick(atime, n.atime);
        n.mtime = pick(mtime, n.mtime);
        n.ctime = now;
    }

    fn file(&self, h: u64) -> Result<&Open, Errno> {
        let (index, key) = ((h & 0xffff_ffff) as usize, (h >> 32) as u32);
        match self.files.get(index) {
            Some(Slot {
                key: k,
                open: Some(o),
            }) if *k == key => Ok(o),
            _ => Err(Errno::EBADF),
        }
    }

    fn file_mut(&mut self, h: u64) -> Result<&mut Open, Errno> {
        let (index, key) = ((h & 0xffff_ffff) as usize, (h >> 32) as u32);
        match self.files.get_mut(index) {
            Some(Slot {
                key: k,
                open: Some(o),
            }) if *k == key => Ok(o),
            _ => Err(Errno::EBADF),
        }
    }

    /// `ENFILE` unless one more description fits.
    fn room_to_open(&mut self) -> Result<(), Errno> {
        if self.open >= MAX_OPEN {
            return Err(Errno::ENFILE);
        }
        if self.free_files.is_empty() {
            self.files.try_reserve(1).map_err(|_| Errno::ENFILE)?;
        }
        Ok(())
    }

    /// A new description of node `i` with `flags` (`ENFILE` if the table
    /// is full, `ELOOP` for a symlink, `ENOTDIR` for `O_DIRECTORY` on a
    /// non-directory).
    fn new_file(&mut self, i: usize, flags: u32, now: u64) -> Result<u64, Errno> {
        self.room_to_open()?;
        let n = self.node(i);
        if matches!(n.body, Body::Symlink(_)) {
            return Err(Errno::ELOOP); // O_NOFOLLOW found one
        }
        if flags & O_DIRECTORY != 0 && !n.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        // The node's kind in the key's top bits (`kind::of_description`).
        let kind = n.stat().kind;
        self.rng = mix(self.rng ^ now);
        let key = ((self.rng >> 32) as u32 & 0x0fff_ffff).max(1) | kind << (kind::SHIFT - 32);
        let seen = match &mut self.node_mut(i).body {
            Body::Pipe(p) => p.open(flags),
            _ => 0,
        };
        let open = Open {
            node: i,
            flags: flags & !OPEN_ONLY,
            offset: 0,
            refs: 1,
            cursor: None,
            seen,
        };
        let index = match self.free_files.pop() {
            Some(x) => x,
            None => {
                self.files.push(Slot { key: 0, open: None });
                self.files.len() - 1
            }
        };
        self.files[index] = Slot {
            key,
            open: Some(open),
        };
        self.open += 1;
        self.node_mut(i).opens += 1;
        Ok(index as u64 | u64::from(key) << 32)
    }

    /// Writes what fits of `data` into pipe `i` (see [`Pipe::room`]),
    /// within the byte budget.
    fn pipe_write(&mut self, i: usize, data: &[u8], now: u64) -> Result<usize, Errno> {
        let Body::Pipe(p) = &self.node(i).body else {
            return Err(Errno::EINVAL);
        };
        if data.is_empty() {
            return Ok(0);
        }
        let n = p.room(data.len())?;
        if self.bytes + n > self.capacity {
            return Err(Errno::ENOSPC);
        }
        let node = self.node_mut(i);
        let Body::Pipe(p) = &mut node.body else {
            return Err(Errno::EINVAL);
        };
        p.buf.try_reserve(n).map_err(|_| Errno::ENOSPC)?;
        p.buf.extend(&data[..n]);
        node.modified(now);
        self.bytes += n;
        Ok(n)
    }

    /// Is `i` directory `d` or below it?
    fn within(&self, mut i: usize, d: usize) -> bool {
        loop {
            if i == d {
                return true;
            }
            if i == ROOT {
                return false;
            }
            i = self.dir(i).map_or(ROOT, |x| x.parent);
        }
    }
}

impl Ramfs {
    /// An empty file system (just `/`) holding at most `capacity` bytes of
    /// file data and link targets, taking times (ns since an epoch) from
    /// `clock`.
    pub fn new(capacity: usize, clock: fn() -> u64) -> Ramfs {
        let now = clock();
        let root = Node {
            ino: 1,
            mode: 0o755,
            nlink: 2,
            opens: 0,
            atime: now,
            mtime: now,
            ctime: now,
            body: Body::Dir(Dir {
                entries: BTreeMap::new(),
                parent: ROOT,
            }),
        };
        Ramfs {
            tree: spin::Mutex::new(Tree {
                nodes: alloc::vec![Some(root)],
                free: Vec::new(),
                next_ino: 2,
                files: Vec::new(),
                free_files: Vec::new(),
                open: 0,
                names: 0,
                bytes: 0,
                capacity,
                rng: mix(now ^ 0x4b42_7266_7300_0001),
                boot: None,
                store: None,
            }),
            clock,
            bell: None,
        }
    }

    /// The same, ringing `bell` at every change of a pipe (see
    /// [`FileSystem::doorbell`]).
    pub fn with_bell(mut self, bell: &'static dyn Bell) -> Ramfs {
        self.bell = Some(bell);
        self
    }

    /// The same, keeping mapped files in `store` (without one,
    /// [`FileSystem::map`] is `ENOSYS`).
    pub fn with_store(self, store: &'static dyn Store) -> Ramfs {
        self.tree.lock().store = Some(store);
        self
    }

    /// Rings the doorbell (outside the tree's lock: it wakes waiters).
    fn ring(&self) {
        if let Some(b) = self.bell {
            b.ring();
        }
    }

    /// Bytes of file data and link targets held (unlinked but open files
    /// included).
    pub fn bytes(&self) -> usize {
        self.tree.lock().bytes
    }

    /// Open file descriptions, all clients together.
    pub fn open_files(&self) -> usize {
        self.tree.lock().open
    }

    /// Nodes alive (named or open), the root included.
    pub fn nodes(&self) -> usize {
        let t = self.tree.lock();
        t.nodes.len() - t.free.len()
    }

    fn now(&self) -> u64 {
        (self.clock)()
    }
}

impl FileSystem for Ramfs {
    fn open(&self, path: &str, flags: u32) -> Result<u64, Errno> {
        if flags & O_ACCMODE != O_RDONLY || flags & !(OPEN_FLAGS | O_ACCMODE) != 0 {
            return Err(Errno::EINVAL);
        }
        let now = self.now();
        let mut t = self.tree.lock();
        let fin = if flags & O_NOFOLLOW != 0 {
            Final::NoFollow
        } else {
            Final::Follow
        };
        let i = t.lookup(path, fin)?;
        let f = t.new_file(i, flags, now)?;
        let fifo = matches!(t.node(i).body, Body::Pipe(_));
        drop(t);
        if fifo {
            self.ring(); // a writer may wait for a reader
        }
        Ok(f)
    }

    fn boot_file(&self, path: &str) -> Result<u32, Errno> {
        boot::index(&self.tree.lock(), path)
    }

    fn map(
        &self,
        caller: ProcessId,
        file: u64,
        offset: u64,
        len: u64,
        how: u32,
    ) -> Result<(u64, u32), Errno> {
        use k42_interfaces::map;
        let mut t = self.tree.lock();
        let o = t.file(file)?;
        let (i, mode) = (o.node, o.flags & O_ACCMODE);
        if !matches!(t.node(i).body, Body::File(_) | Body::Boot { .. }) {
            return Err(Errno::ENODEV);
        }
        let shared_write = how & map::PRIVATE == 0 && how & map::WRITE != 0;
        if mode == O_WRONLY || shared_write && mode != O_RDWR {
            return Err(Errno::EACCES);
        }
        if how & !(map::READ | map::WRITE | map::EXEC | map::PRIVATE) != 0
            || len == 0
            || !offset.is_multiple_of(store::PAGE)
            || !len.is_multiple_of(store::PAGE)
            || offset.checked_add(len).is_none_or(|end| end > map::MAX_LEN)
        {
            return Err(Errno::EINVAL);
        }
        let store = t.store.ok_or(Errno::ENOSYS)?;
        // A boot file becomes the server's, then its bytes move to shared
        // memory (once: later maps share the same window).
        boot::copy_up(&mut t, i)?;
        let Body::File(d) = &mut t.node_mut(i).body else {
            return Err(Errno::ENODEV);
        };
        let window = d.share(store)?;
        let most = if how & map::PRIVATE != 0 || mode == O_RDWR {
            map::READ | map::WRITE | map::EXEC
        } else {
            map::READ | map::EXEC
        };
        // The grant is the most the mapping may have (the kernel keeps
        // `mprotect` within it); the client lowers it to what it asked.
        let grant = most | how & map::PRIVATE;
        Ok((store.share(window, offset, len, caller, grant)?, most))
    }

    fn create(&self, path: &str, flags: u32, mode: u32) -> Result<u64, Errno> {
        let creat = flags & O_CREAT != 0;
        if flags & O_ACCMODE == O_ACCMODE
            || flags & !CREATE_FLAGS != 0
            || creat && flags & O_DIRECTORY != 0
        {
            return Err(Errno::EINVAL);
        }
        let excl = creat && flags & O_EXCL != 0;
        let fin = if excl || flags & O_NOFOLLOW != 0 {
            Final::NoFollow
        } else {
            Final::Follow
        };
        let now = self.now();
        let mut t = self.tree.lock();
        t.room_to_open()?;
        let w = t.walk(path, fin)?;
        let i = match w.node {
            Some(_) if excl => return Err(Errno::EEXIST),
            Some(i) => {
                let n = t.node(i);
                let writes = flags & O_ACCMODE != O_RDONLY || flags & O_TRUNC != 0;
                match &n.body {
                    Body::Symlink(_) => return Err(Errno::ELOOP),
                    Body::Dir(_) if writes || creat => return Err(Errno::EISDIR),
                    Body::File(_) | Body::Boot { .. } if flags & O_DIRECTORY != 0 => {
                        return Err(Errno::ENOTDIR)
                    }
                    Body::File(_) | Body::Boot { .. } if flags & O_TRUNC != 0 => {
                        t.truncate(i, 0, now)?
                    }
                    Body::Pipe(p)
                        if flags & O_ACCMODE == O_WRONLY
                            && flags & O_NONBLOCK != 0
                            && p.readers == 0 =>
                    {
                        return Err(Errno::ENXIO);
                    }
                    _ => {}
                }
                i
            }
            None if !creat => return Err(Errno::ENOENT),
            None if w.slash => return Err(Errno::EISDIR),
            None => {
                let name = w.name(Errno::EISDIR)?;
                t.add(
                    w.dir,
                    name,
                    mode & 0o7777,
                    Body::File(Data::Heap(Vec::new())),
                    now,
                )?
            }
        };
        let f = t.new_file(i, flags, now)?;
        let fifo = matches!(t.node(i).body, Body::Pipe(_));
        drop(t);
        if fifo {
            self.ring(); // a reader may wait for a writer
        }
        Ok(f)
    }

    fn read(&self, file: u64, at: u64, buf: &mut [u8]) -> Result<u32, Errno> {
        let mut t = self.tree.lock();
        let o = t.file(file)?;
        if o.flags & O_ACCMODE == O_WRONLY {
            return Err(Errno::EBADF);
        }
        let (node, current) = (o.node, o.offset);
        if let Body::Pipe(p) = &mut t.node_mut(node).body {
            if at != AT_CURRENT {
                return Err(Errno::ESPIPE);
            }
            let n = p.read(buf)?;
            t.bytes -= n;
            drop(t);
            if n > 0 {
                self.ring(); // room for a waiting writer
            }
            return Ok(n as u32);
        }
        let start = if at == AT_CURRENT {
            current
        } else {
            offset(at)?
        };
        let node = t.file(file)?.node;
        if let Some(n) = boot::read(&t, node, start, buf)? {
            if at == AT_CURRENT {
                t.file_mut(file)?.offset += u64::from(n);
            }
            return Ok(n);
        }
        let Body::File(d) = &t.node(node).body else {
            return Err(Errno::EISDIR);
        };
        let n = d.read(t.store, start, buf);
        if at == AT_CURRENT {
            t.file_mut(file)?.offset += n as u64;
        }
        Ok(n as u32)
    }

    fn write(&self, file: u64, at: u64, data: &[u8]) -> Result<u32, Errno> {
        let now = self.now();
        let mut t = self.tree.lock();
        // A boot file becomes the server's before it changes.
        if let Some(i) = t
            .file(file)
            .ok()
            .filter(|o| o.flags & O_ACCMODE != O_RDONLY)
            .map(|o| o.node)
        {
            boot::copy_up(&mut t, i)?;
        }
        let o = t.file(file)?;
        if o.flags & O_ACCMODE == O_RDONLY {
            return Err(Errno::EBADF);
        }
        let (i, oflags, current) = (o.node, o.flags, o.offset);
        let len = match &t.node(i).body {
            Body::File(d) => d.len(),
            Body::Pipe(_) if at != AT_CURRENT => return Err(Errno::ESPIPE),
            Body::Pipe(_) => {
                let n = t.pipe_write(i, data, now)?;
                drop(t);
                if n > 0 {
                    self.ring(); // data for a waiting reader
                }
                return Ok(n as u32);
            }
            _ => return Err(Errno::EISDIR),
        };
        let start = if oflags & O_APPEND != 0 {
            len
        } else if at == AT_CURRENT {
            current
        } else {
            offset(at)?
        };
        if data.is_empty() {
            return Ok(0); // as in Linux: nothing changes, not even times
        }
        if start >= MAX_FILE {
            return Err(Errno::EFBIG);
        }
        // Up to the largest file: a short write, as Linux's at its limit.
        let n = data.len().min((MAX_FILE - start) as usize);
        let end = start + n as u64;
        if end > len {
            t.resize(i, end)?;
        }
        let store = t.store;
        let node = t.node_mut(i);
        if let Body::File(d) = &mut node.body {
            d.write(store, start, &data[..n]);
        }
        node.modified(now);
        if at == AT_CURRENT {
            t.file_mut(file)?.offset = end;
        }
        Ok(n as u32)
    }

    fn seek(&self, file: u64, off: i64, whence: u32) -> Result<u64, Errno> {
        let mut t = self.tree.lock();
        let o = t.file(file)?;
        let base = match (&t.node(o.node).body, whence) {
            (Body::Pipe(_), _) => return Err(Errno::ESPIPE),
            (_, SEEK_SET) => 0,
            (_, SEEK_CUR) => o.offset,
            (Body::File(d), SEEK_END) => d.len(),
            (Body::Boot { len, .. }, SEEK_END) => *len,
            _ => return Err(Errno::EINVAL),
        };
        let new = i128::from(base) + i128::from(off);
        if new < 0 {
            return Err(Errno::EINVAL);
        }
        let new = i64::try_from(new).map_err(|_| Errno::EOVERFLOW)? as u64;
        t.file_mut(file)?.offset = new;
        Ok(new)
    }

    fn hold(&self, file: u64) -> Result<(), Errno> {
        let mut t = self.tree.lock();
        let o = t.file_mut(file)?;
        o.refs = o.refs.checked_add(1).ok_or(Errno::ENFILE)?;
        Ok(())
    }

    fn close(&self, file: u64) -> Result<(), Errno> {
        let mut t = self.tree.lock();
        let o = t.file_mut(file)?;
        o.refs -= 1;
        if o.refs > 0 {
            return Ok(());
        }
        let index = (file & 0xffff_ffff) as usize;
        let Some(o) = t.files[index].open.take() else {
            return Err(Errno::EBADF);
        };
        t.free_files.push(index); // room reserved: it came from `files`
        t.open -= 1;
        let n = t.node_mut(o.node);
        n.opens -= 1;
        let pipe = if let Body::Pipe(p) = &mut n.body {
            p.close(o.flags);
            true
        } else {
            false
        };
        t.release(o.node);
        drop(t);
        if pipe {
            self.ring(); // the other side may see its end of file
        }
        Ok(())
    }

    fn flags(&self, file: u64, set: u32, mask: u32) -> Result<u32, Errno> {
        let mut t = self.tree.lock();
        let o = t.file_mut(file)?;
        let old = o.flags;
        let mask = mask & SETTABLE;
        o.flags = (old & !mask) | (set & mask);
        Ok(old)
    }

    fn fstat(&self, file: u64) -> Result<Stat, Errno> {
        let t = self.tree.lock();
        let o = t.file(file)?;
        Ok(t.node(o.node).stat())
    }

    fn stat(&self, path: &str) -> Result<Stat, Errno> {
        let t = self.tree.lock();
        let i = t.lookup(path, Final::Follow)?;
        Ok(t.node(i).stat())
    }

    fn lstat(&self, path: &str) -> Result<Stat, Errno> {
        let t = self.tree.lock();
        let i = t.lookup(path, Final::NoFollow)?;
        Ok(t.node(i).stat())
    }

    fn getdents(&self, file: u64, buf: &mut [u8]) -> Result<(u32, u32), Errno> {
        let mut t = self.tree.lock();
        let o = t.file(file)?;
        let dn = t.node(o.node);
        let Body::Dir(d) = &dn.body else {
            return Err(Errno::ENOTDIR);
        };
        if dn.nlink == 0 {
            return Err(Errno::ENOENT); // removed: as Linux's dead directory
        }
        let (mut pos, mut at, mut n) = (o.offset, 0, 0u32);
        let mut full = false;
        while pos < 2 && !full {
            let (ino, name) = if pos == 0 {
                (dn.ino, ".")
            } else {
                (t.node(d.parent).ino, "..")
            };
            match dirent::put(buf, at, ino, pos + 1, kind::DIR, name) {
                Some(end) => (at, pos, n) = (end, pos + 1, n + 1),
                None => full = true,
            }
        }
        let mut last = None;
        if !full {
            let from = match &o.cursor {
                Some((p, name)) if *p == pos => Some(Bound::Excluded(name.as_str())),
                _ => (d.entries.keys())
                    .nth(usize::try_from(pos - 2).unwrap_or(usize::MAX))
                    .map(|k| Bound::Included(k.as_str())),
            };
            let rest = from.map(|f| d.entries.range::<str, _>((f, Bound::Unbounded)));
            for (name, &i) in rest.into_iter().flatten() {
                let c = t.node(i);
                match dirent::put(buf, at, c.ino, pos + 1, c.stat().kind, name) {
                    Some(end) => (at, pos, n) = (end, pos + 1, n + 1),
                    None => {
                        full = true;
                        break;
                    }
                }
                last = Some(name.as_str());
            }
        }
        if n == 0 && full {
            return Err(Errno::EINVAL); // not even one entry fits
        }
        let cursor = match last {
            Some(name) => Some((pos, try_string(name).map_err(|_| Errno::ENOMEM)?)),
            None => None,
        };
        let o = t.file_mut(file)?;
        o.offset = pos;
        if cursor.is_some() {
            o.cursor = cursor;
        }
        Ok((n, at as u32))
    }

    fn truncate(&self, path: &str, len: u64) -> Result<(), Errno> {
        let now = self.now();
        let mut t = self.tree.lock();
        let i = t.lookup(path, Final::Follow)?;
        t.truncate(i, len, now)
    }

    fn ftruncate(&self, file: u64, len: u64) -> Result<(), Errno> {
        let now = self.now();
        let mut t = self.tree.lock();
        let o = t.file(file)?;
        let i = o.node;
        if o.flags & O_ACCMODE == O_RDONLY
            || !matches!(t.node(i).body, Body::File(_) | Body::Boot { .. })
        {
            return Err(Errno::EINVAL);
        }
        t.truncate(i, len, now)
    }

    fn mkdir(&self, path: &str, mode: u32) -> Result<(), Errno> {
        let now = self.now();
        let mut t = self.tree.lock();
        let w = t.walk(path, Final::Parent)?;
        if w.node.is_some() {
            return Err(Errno::EEXIST);
        }
        let dir = Body::Dir(Dir {
            entries: BTreeMap::new(),
            parent: w.dir,
        });
        t.add(w.dir, w.name(Errno::EEXIST)?, mode & 0o1777, dir, now)?;
        Ok(())
    }

    fn unlink(&self, path: &str) -> Result<(), Errno> {
        let now = self.now();
        let mut t = self.tree.lock();
        let w = t.walk(path, Final::Parent)?;
        let i = w.node.ok_or(Errno::ENOENT)?;
        if t.node(i).is_dir() {
            return Err(Errno::EISDIR);
        }
        if w.slash {
            return Err(Errno::ENOTDIR);
        }
        let name = w.name(Errno::EISDIR)?;
        t.remove(w.dir, name, i, now);
        Ok(())
    }

    fn rmdir(&self, path: &str) -> Result<(), Errno> {
        let now = self.now();
        let mut t = self.tree.lock();
        let w = t.walk(path, Final::Parent)?;
        let i = w.node.ok_or(Errno::ENOENT)?;
        match w.last {
            Last::Root => return Err(Errno::EBUSY),
            Last::Dot => return Err(Errno::EINVAL),
            Last::DotDot => return Err(Errno::ENOTEMPTY),
            Last::Name(_) => {}
        }
        if !t.dir(i)?.entries.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        let name = w.name(Errno::EBUSY)?;
        t.remove(w.dir, name, i, now);
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), Errno> {
        let now = self.now();
        let mut t = self.tree.lock();
        let a = t.walk(from, Final::Parent)?;
        let b = t.walk(to, Final::Parent)?;
        let src = a.node.ok_or(Errno::ENOENT)?;
        let (sname, dname) = (a.name(Errno::EBUSY)?, b.name(Errno::EBUSY)?);
        let src_dir = t.node(src).is_dir();
        if (a.slash || b.slash) && !src_dir {
            return Err(Errno::ENOTDIR);
        }
        if b.node == Some(src) {
            return Ok(()); // the same node: nothing to do
        }
        if src_dir && t.within(b.dir, src) {
            return Err(Errno::EINVAL);
        }
        if let Some(dst) = b.node {
            match (&t.node(dst).body, src_dir) {
                (Body::Dir(e), true) if !e.entries.is_empty() => return Err(Errno::ENOTEMPTY),
                (Body::Dir(_), false) => return Err(Errno::EISDIR),
                (Body::File(_) | Body::Boot { .. } | Body::Symlink(_) | Body::Pipe(_), true) => {
                    return Err(Errno::ENOTDIR)
                }
                _ => {}
            }
        }
        let key = try_string(dname)?;
        if let Some(dst) = b.node {
            t.remove(b.dir, dname, dst, now);
        }
        t.dir_mut(a.dir)?.entries.remove(sname);
        t.dir_mut(b.dir)?.entries.insert(key, src);
        if src_dir {
            t.dir_mut(src)?.parent = b.dir;
            t.node_mut(a.dir).nlink -= 1;
            t.node_mut(b.dir).nlink += 1;
        }
        t.node_mut(src).ctime = now;
        t.node_mut(a.dir).modified(now);
        t.node_mut(b.dir).modified(now);
        Ok(())
    }

    fn link(&self, from: &str, to: &str) -> Result<(), Errno> {
        let now = self.now();
        let mut t = self.tree.lock();
        let a = t.walk(from, Final::Parent)?;
        let src = a.node.ok_or(Errno::ENOENT)?;
        if t.node(src).is_dir() {
            return Err(Errno::EPERM);
        }
        if a.slash {
            return Err(Errno::ENOTDIR);
        }
        let b = t.walk(to, Final::Parent)?;
        if b.node.is_some() {
            return Err(Errno::EEXIST);
        }
        if b.slash {
            return Err(Errno::ENOENT);
        }
        t.room_for_a_name()?;
        let key = try_string(b.name(Errno::EEXIST)?)?;
        let n = t.node_mut(src);
        n.nlink = n.nlink.checked_add(1).ok_or(Errno::EMLINK)?;
        n.ctime = now;
        t.dir_mut(b.dir)?.entries.insert(key, src);
        t.names += 1;
        t.node_mut(b.dir).modified(now);
        Ok(())
    }

    fn symlink(&self, target: &str, path: &str) -> Result<(), Errno> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.len() > PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if target.contains('\0') {
            return Err(Errno::EINVAL);
        }
        let now = self.now();
        let mut t = self.tree.lock();
        let w = t.walk(path, Final::Parent)?;
        if w.node.is_some() {
            return Err(Errno::EEXIST);
        }
        if w.slash {
            return Err(Errno::ENOENT);
        }
        let name = w.name(Errno::EEXIST)?;
        let body = Body::Symlink(try_string(target)?);
        t.charge(target.len())?;
        if let Err(e) = t.add(w.dir, name, 0o777, body, now) {
            t.bytes -= target.len();
            return Err(e);
        }
        Ok(())
    }

    fn readlink(&self, path: &str, buf: &mut [u8]) -> Result<u32, Errno> {
        let t = self.tree.lock();
        let i = t.lookup(path, Final::NoFollow)?;
        let Body::Symlink(target) = &t.node(i).body else {
            return Err(Errno::EINVAL);
        };
        if buf.is_empty() {
            return Err(Errno::EINVAL);
        }
        let n = buf.len().min(target.len());
        buf[..n].copy_from_slice(&target.as_bytes()[..n]);
        Ok(n as u32)
    }

    fn chmod(&self, path: &str, mode: u32) -> Result<(), Errno> {
        let now = self.now();
        let mut t = self.tree.lock();
        let i = t.lookup(path, Final::Follow)?;
        let n = t.node_mut(i);
        n.mode = mode & 0o7777;
        n.ctime = now;
        Ok(())
    }

    fn utimens(&self, path: &str, atime: u64, mtime: u64) -> Result<(), Errno> {
        let now = self.now();
        let mut t = self.tree.lock();
        let i = t.lookup(path, Final::Follow)?;
        t.set_times(i, atime, mtime, now);
        Ok(())
    }

    fn fchmod(&self, file: u64, mode: u32) -> Result<(), Errno> {
        let now = self.now();
        let mut t = self.tree.lock();
        let i = t.file(file)?.node;
        let n = t.node_mut(i);
        n.mode = mode & 0o7777;
        n.ctime = now;
        Ok(())
    }

    fn futimens(&self, file: u64, atime: u64, mtime: u64) -> Result<(), Errno> {
        let now = self.now();
        let mut t = self.tree.lock();
        let i = t.file(file)?.node;
        t.set_times(i, atime, mtime, now);
        Ok(())
    }

    fn lutimens(&self, path: &str, atime: u64, mtime: u64) -> Result<(), Errno> {
        let now = self.now();
        let mut t = self.tree.lock();
        let i = t.lookup(path, Final::NoFollow)?;
        t.set_times(i, atime, mtime, now);
        Ok(())
    }

    fn pipe(&self, flags: u32) -> Result<(u64, u64), Errno> {
        if flags & !(O_NONBLOCK | O_CLOEXEC) != 0 {
            return Err(Errno::EINVAL);
        }
        let now = self.now();
        let mut t = self.tree.lock();
        if t.open + 2 > MAX_OPEN {
            return Err(Errno::ENFILE);
        }
        t.nodes.try_reserve(1).map_err(|_| Errno::ENFILE)?;
        // No name: a link count of 0, gone with its last description.
        let i = t.new_node(0o600, 0, Body::Pipe(Pipe::default()), now);
        let status = flags & O_NONBLOCK;
        let r = match t.new_file(i, O_RDONLY | status, now) {
            Ok(r) => r,
            Err(e) => {
                t.release(i);
                return Err(e);
            }
        };
        match t.new_file(i, O_WRONLY | status, now) {
            Ok(w) => Ok((r, w)),
            Err(e) => {
                drop(t);
                let _ = self.close(r);
                Err(e)
            }
        }
    }

    fn mknod(&self, path: &str, mode: u32) -> Result<(), Errno> {
        const S_IFMT: u32 = 0o170_000;
        let body = match mode & S_IFMT {
            0o010_000 => Body::Pipe(Pipe::default()),
            0 | 0o100_000 => Body::File(Data::Heap(Vec::new())),
            _ => return Err(Errno::EPERM),
        };
        let now = self.now();
        let mut t = self.tree.lock();
        let w = t.walk(path, Final::Parent)?;
        if w.node.is_some() {
            return Err(Errno::EEXIST);
        }
        if w.slash {
            return Err(Errno::ENOENT);
        }
        t.add(w.dir, w.name(Errno::EEXIST)?, mode & 0o7777, body, now)?;
        Ok(())
    }

    fn poll(&self, files: &[u8], out: &mut [u8]) -> Result<u32, Errno> {
        use k42_interfaces::pipe::{POLLIN, POLLNVAL, POLLOUT};
        if !files.len().is_multiple_of(8) || out.len() < files.len() {
            return Err(Errno::EINVAL);
        }
        let t = self.tree.lock();
        let mut ready = 0;
        for (f, o) in files.chunks_exact(8).zip(out.chunks_exact_mut(8)) {
            let h = u64::from_le_bytes(f.try_into().unwrap_or([0; 8]));
            let (bits, avail) = match t.file(h) {
                Err(_) => (POLLNVAL, 0),
                Ok(d) => match &t.node(d.node).body {
                    Body::Pipe(p) => (p.poll(d.flags, d.seen), p.buf.len() as u32),
                    _ => (POLLIN | POLLOUT, 0),
                },
            };
            if bits & !k42_interfaces::pipe::PEER != 0 {
                ready += 1;
            }
            o[..4].copy_from_slice(&bits.to_le_bytes());
            o[4..].copy_from_slice(&avail.to_le_bytes());
        }
        Ok(ready)
    }

    fn doorbell(&self, caller: ProcessId) -> Result<u64, Errno> {
        self.bell.ok_or(Errno::ENOSYS)?.share(caller)
    }
}

#[cfg(test)]
mod tests;

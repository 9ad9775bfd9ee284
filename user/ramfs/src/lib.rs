//! # ramfs: an in-memory file system server
//!
//! The first file server of K42-rs (K42 had several, all user-level
//! servers reached by PPC). This crate is the [`FileSystem`]
//! implementation, [`Ramfs`]: a tree of directories and files in the
//! server's heap, with
//!
//! * per-client open files: a file handle (`fd`) is a small number private
//!   to the process that opened it (the PPC caller id the kernel reports),
//!   so another process's fd, a closed one or a made-up one is `EBADF`;
//! * Linux semantics where a Linux program would notice: `O_CREAT`,
//!   `O_EXCL`, `O_TRUNC`, `O_APPEND`; an unlinked file lives until its last
//!   close; `rename` replaces a file and refuses to move a directory into
//!   itself; errors are Linux errno values;
//! * bounds instead of panics: a byte budget for file data (`ENOSPC`,
//!   checked with fallible allocation), [`MAX_FILE`] per file (`EFBIG`),
//!   [`MAX_OPEN`] open files per process (`EMFILE`), [`PATH_MAX`] and
//!   [`FILE_NAME_MAX`] (`ENAMETOOLONG`).
//!
//! The program (`main.rs`) exports one `Ramfs` with `k42_rt::server`,
//! grants read to everyone and read + write to the processes named on its
//! command line, and registers itself with the name server as `ramfs`.
//!
//! ## Cost
//!
//! `cargo bench -p ramfs --bench ops -- --measurement-time 2
//! --warm-up-time 1` (one run, shared 2-core host; read the ratios):
//! through the generated stubs over the loopback transport, a 4 KiB read
//! costs 5.7x the direct call, a 4 KiB write 2.3x, a `stat` 4.6x (the
//! stubs zero and copy page-sized messages). In QEMU, through the kernel
//! (`server_round_trips`), a ramfs `stat` costs 1.1x a null PPC and a
//! 4 KiB read or write 1.5x.
//!
//! ## Usage
//!
//! ```
//! use k42_interfaces::{flags, FileSystem};
//! use ppc_idl::ProcessId;
//! use ramfs::Ramfs;
//!
//! let fs = Ramfs::new(1 << 20);
//! let me = ProcessId(7);
//! let fd = fs.create(me, "/hello", flags::O_CREAT | flags::O_RDWR, 0o644).unwrap();
//! assert_eq!(fs.write(me, fd, 0, b"hi there"), Ok(8));
//! let mut buf = [0u8; 16];
//! assert_eq!(fs.read(me, fd, 3, &mut buf), Ok(5));
//! assert_eq!(&buf[..5], b"there");
//! assert_eq!(fs.read(ProcessId(8), fd, 0, &mut buf), Err(k42_rt::Errno::EBADF));
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use k42_interfaces::flags::{O_ACCMODE, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_TRUNC};
pub use k42_interfaces::{dirent, kind, rights, FileSystem, Stat, FILE_NAME_MAX, PATH_MAX};
use k42_rt::Errno;
use ppc_idl::ProcessId;

/// Largest file.
pub const MAX_FILE: u64 = 16 << 20;
/// Most open files per process.
pub const MAX_OPEN: usize = 64;

enum Body {
    File(Vec<u8>),
    Dir(BTreeMap<String, usize>),
}

struct Node {
    ino: u64,
    mode: u32,
    /// The directory holding it (itself for the root).
    parent: usize,
    /// Whether a directory entry names it.
    linked: bool,
    /// Open files on it.
    opens: u32,
    body: Body,
}

impl Node {
    fn stat(&self) -> Stat {
        let (size, kind) = match &self.body {
            Body::File(d) => (d.len() as u64, kind::FILE),
            Body::Dir(e) => (e.len() as u64, kind::DIR),
        };
        Stat {
            ino: self.ino,
            size,
            kind,
            mode: self.mode,
        }
    }
}

struct Open {
    node: usize,
    flags: u32,
}

struct Tree {
    nodes: Vec<Option<Node>>,
    free: Vec<usize>,
    next_ino: u64,
    open: BTreeMap<(u32, u32), Open>,
    bytes: usize,
    capacity: usize,
}

const ROOT: usize = 0;

/// The file system: see the crate docs.
pub struct Ramfs {
    tree: spin::Mutex<Tree>,
}

/// Splits `path` into its directory part and its last name.
fn split(path: &str) -> Result<(&str, &str), Errno> {
    let path = path.trim_end_matches('/');
    let (dir, name) = path.rsplit_once('/').ok_or(Errno::EINVAL)?;
    if name.is_empty() || name == "." || name == ".." {
        return Err(Errno::EINVAL);
    }
    if name.len() > FILE_NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok((dir, name))
}

fn check_path(path: &str) -> Result<(), Errno> {
    if path.len() > PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if !path.starts_with('/') || path.contains('\0') {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

impl Tree {
    fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().expect("a live node index")
    }

    fn node_mut(&mut self, i: usize) -> &mut Node {
        self.nodes[i].as_mut().expect("a live node index")
    }

    fn entries(&self, i: usize) -> Result<&BTreeMap<String, usize>, Errno> {
        match &self.node(i).body {
            Body::Dir(e) => Ok(e),
            Body::File(_) => Err(Errno::ENOTDIR),
        }
    }

    fn entries_mut(&mut self, i: usize) -> Result<&mut BTreeMap<String, usize>, Errno> {
        match &mut self.node_mut(i).body {
            Body::Dir(e) => Ok(e),
            Body::File(_) => Err(Errno::ENOTDIR),
        }
    }

    /// The node `path` names (absolute; `.` and `..` understood).
    fn resolve(&self, path: &str) -> Result<usize, Errno> {
        check_path(path)?;
        let mut at = ROOT;
        for c in path.split('/').filter(|c| !c.is_empty()) {
            let e = self.entries(at)?;
            at = match c {
                "." => at,
                ".." => self.node(at).parent,
                _ if c.len() > FILE_NAME_MAX => return Err(Errno::ENAMETOOLONG),
                _ => *e.get(c).ok_or(Errno::ENOENT)?,
            };
        }
        Ok(at)
    }

    /// The directory that would hold `path`, and its last name.
    fn parent<'p>(&self, path: &'p str) -> Result<(usize, &'p str), Errno> {
        check_path(path)?;
        let (dir, name) = split(path)?;
        let d = self.resolve(if dir.is_empty() { "/" } else { dir })?;
        self.entries(d)?;
        Ok((d, name))
    }

    fn add(&mut self, parent: usize, name: &str, mode: u32, body: Body) -> usize {
        let node = Node {
            ino: self.next_ino,
            mode: mode & 0o7777,
            parent,
            linked: true,
            opens: 0,
            body,
        };
        self.next_ino += 1;
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i] = Some(node);
                i
            }
            None => {
                self.nodes.push(Some(node));
                self.nodes.len() - 1
            }
        };
        if let Ok(e) = self.entries_mut(parent) {
            e.insert(String::from(name), i);
        }
        i
    }

    /// Frees node `i` if no entry names it and nothing has it open.
    fn release(&mut self, i: usize) {
        let n = self.node(i);
        if n.linked || n.opens > 0 {
            return;
        }
        if let Body::File(d) = &n.body {
            self.bytes -= d.len();
        }
        self.nodes[i] = None;
        self.free.push(i);
    }

    fn fd(&self, pid: ProcessId, fd: u32) -> Result<&Open, Errno> {
        self.open.get(&(pid.0, fd)).ok_or(Errno::EBADF)
    }

    fn new_fd(&mut self, pid: ProcessId, node: usize, flags: u32) -> Result<u32, Errno> {
        let mine = self.open.range((pid.0, 0)..=(pid.0, u32::MAX));
        let mut fd = 0;
        let mut n = 0;
        for (&(_, f), _) in mine {
            if f == fd {
                fd += 1;
            }
            n += 1;
        }
        if n >= MAX_OPEN {
            return Err(Errno::EMFILE);
        }
        self.open.insert((pid.0, fd), Open { node, flags });
        self.node_mut(node).opens += 1;
        Ok(fd)
    }

    /// Sets file `i`'s length to `len`, within the budget.
    fn resize(&mut self, i: usize, len: usize) -> Result<(), Errno> {
        if len as u64 > MAX_FILE {
            return Err(Errno::EFBIG);
        }
        let (budget, bytes) = (self.capacity, self.bytes);
        let Body::File(d) = &mut self.node_mut(i).body else {
            return Err(Errno::EISDIR);
        };
        let old = d.len();
        if len > old {
            if bytes + (len - old) > budget {
                return Err(Errno::ENOSPC);
            }
            d.try_reserve_exact(len - old).map_err(|_| Errno::ENOSPC)?;
            d.resize(len, 0);
            self.bytes += len - old;
        } else {
            d.truncate(len);
            d.shrink_to_fit();
            self.bytes -= old - len;
        }
        Ok(())
    }
}

impl Ramfs {
    /// An empty file system (just `/`) holding at most `capacity` bytes of
    /// file data.
    pub fn new(capacity: usize) -> Ramfs {
        let root = Node {
            ino: 1,
            mode: 0o755,
            parent: ROOT,
            linked: true,
            opens: 0,
            body: Body::Dir(BTreeMap::new()),
        };
        Ramfs {
            tree: spin::Mutex::new(Tree {
                nodes: alloc::vec![Some(root)],
                free: Vec::new(),
                next_ino: 2,
                open: BTreeMap::new(),
                bytes: 0,
                capacity,
            }),
        }
    }

    /// Bytes of file data held (unlinked but open files included).
    pub fn bytes(&self) -> usize {
        self.tree.lock().bytes
    }

    /// Files open by all processes.
    pub fn open_files(&self) -> usize {
        self.tree.lock().open.len()
    }
}

impl FileSystem for Ramfs {
    fn open(&self, caller: ProcessId, path: &str, flags: u32) -> Result<u32, Errno> {
        if flags & !O_DIRECTORY != O_RDONLY {
            return Err(Errno::EINVAL);
        }
        let mut t = self.tree.lock();
        let i = t.resolve(path)?;
        if flags & O_DIRECTORY != 0 {
            t.entries(i)?;
        }
        t.new_fd(caller, i, flags)
    }

    fn create(&self, caller: ProcessId, path: &str, flags: u32, mode: u32) -> Result<u32, Errno> {
        if flags & O_ACCMODE == O_ACCMODE || flags & O_DIRECTORY != 0 {
            return Err(Errno::EINVAL);
        }
        let mut t = self.tree.lock();
        let (dir, name) = t.parent(path)?;
        let existing = t.entries(dir)?.get(name).copied();
        let i = match existing {
            Some(_) if flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL => return Err(Errno::EEXIST),
            Some(i) => {
                if matches!(t.node(i).body, Body::Dir(_)) {
                    return Err(Errno::EISDIR);
                }
                if flags & O_TRUNC != 0 && flags & O_ACCMODE != O_RDONLY {
                    t.resize(i, 0)?;
                }
                i
            }
            None if flags & O_CREAT == 0 => return Err(Errno::ENOENT),
            None => t.add(dir, name, mode, Body::File(Vec::new())),
        };
        t.new_fd(caller, i, flags)
    }

    fn read(&self, caller: ProcessId, fd: u32, offset: u64, buf: &mut [u8]) -> Result<u32, Errno> {
        let t = self.tree.lock();
        let o = t.fd(caller, fd)?;
        let Body::File(d) = &t.node(o.node).body else {
            return Err(Errno::EISDIR);
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(d.len());
        let n = buf.len().min(d.len() - start);
        buf[..n].copy_from_slice(&d[start..start + n]);
        Ok(n as u32)
    }

    fn write(&self, caller: ProcessId, fd: u32, offset: u64, data: &[u8]) -> Result<u32, Errno> {
        let mut t = self.tree.lock();
        let o = t.fd(caller, fd)?;
        if o.flags & O_ACCMODE == O_RDONLY {
            return Err(Errno::EBADF);
        }
        let (i, append) = (o.node, o.flags & O_APPEND != 0);
        let len = match &t.node(i).body {
            Body::File(d) => d.len(),
            Body::Dir(_) => return Err(Errno::EISDIR),
        };
        if data.is_empty() {
            return Ok(0); // as in Linux: a file does not grow by nothing
        }
        let start = if append { len as u64 } else { offset };
        let end = start.checked_add(data.len() as u64).ok_or(Errno::EFBIG)?;
        if end > MAX_FILE {
            return Err(Errno::EFBIG);
        }
        let (start, end) = (start as usize, end as usize);
        if end > len {
            t.resize(i, end)?;
        }
        if let Body::File(d) = &mut t.node_mut(i).body {
            d[start..end].copy_from_slice(data);
        }
        Ok(data.len() as u32)
    }

    fn close(&self, caller: ProcessId, fd: u32) -> Result<(), Errno> {
        let mut t = self.tree.lock();
        let o = t.open.remove(&(caller.0, fd)).ok_or(Errno::EBADF)?;
        t.node_mut(o.node).opens -= 1;
        t.release(o.node);
        Ok(())
    }

    fn stat(&self, path: &str) -> Result<Stat, Errno> {
        let t = self.tree.lock();
        let i = t.resolve(path)?;
        Ok(t.node(i).stat())
    }

    fn fstat(&self, caller: ProcessId, fd: u32) -> Result<Stat, Errno> {
        let t = self.tree.lock();
        let o = t.fd(caller, fd)?;
        Ok(t.node(o.node).stat())
    }

    fn mkdir(&self, path: &str, mode: u32) -> Result<(), Errno> {
        let mut t = self.tree.lock();
        let (dir, name) = t.parent(path)?;
        if t.entries(dir)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        t.add(dir, name, mode, Body::Dir(BTreeMap::new()));
        Ok(())
    }

    fn readdir(&self, path: &str, start: u32, buf: &mut [u8]) -> Result<(u32, u32), Errno> {
        let t = self.tree.lock();
        let d = t.resolve(path)?;
        let (mut n, mut at) = (0u32, 0usize);
        for (name, &i) in t.entries(d)?.iter().skip(start as usize) {
            let kind = t.node(i).stat().kind;
            match dirent::put(buf, at, kind, name) {
                Some(end) => at = end,
                None => break,
            }
            n += 1;
        }
        Ok((n, at as u32))
    }

    fn unlink(&self, path: &str) -> Result<(), Errno> {
        let mut t = self.tree.lock();
        let (dir, name) = t.parent(path)?;
        let i = *t.entries(dir)?.get(name).ok_or(Errno::ENOENT)?;
        if matches!(t.node(i).body, Body::Dir(_)) {
            return Err(Errno::EISDIR);
        }
        t.entries_mut(dir)?.remove(name);
        t.node_mut(i).linked = false;
        t.release(i);
        Ok(())
    }

    fn rmdir(&self, path: &str) -> Result<(), Errno> {
        let mut t = self.tree.lock();
        if t.resolve(path)? == ROOT {
            return Err(Errno::EBUSY);
        }
        let (dir, name) = t.parent(path)?;
        let i = *t.entries(dir)?.get(name).ok_or(Errno::ENOENT)?;
        if !t.entries(i)?.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        t.entries_mut(dir)?.remove(name);
        t.node_mut(i).linked = false;
        t.release(i);
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), Errno> {
        let mut t = self.tree.lock();
        let (sdir, sname) = t.parent(from)?;
        let (ddir, dname) = t.parent(to)?;
        let src = *t.entries(sdir)?.get(sname).ok_or(Errno::ENOENT)?;
        let src_is_dir = matches!(t.node(src).body, Body::Dir(_));
        if src_is_dir {
            // Not into itself or below it.
            let mut at = ddir;
            loop {
                if at == src {
                    return Err(Errno::EINVAL);
                }
                if at == ROOT {
                    break;
                }
                at = t.node(at).parent;
            }
        }
        if let Some(&dst) = t.entries(ddir)?.get(dname) {
            if dst == src {
                return Ok(());
            }
            match (&t.node(dst).body, src_is_dir) {
                (Body::Dir(e), true) if !e.is_empty() => return Err(Errno::ENOTEMPTY),
                (Body::Dir(_), false) => return Err(Errno::EISDIR),
                (Body::File(_), true) => return Err(Errno::ENOTDIR),
                _ => {}
            }
            t.entries_mut(ddir)?.remove(dname);
            t.node_mut(dst).linked = false;
            t.release(dst);
        }
        t.entries_mut(sdir)?.remove(sname);
        t.entries_mut(ddir)?.insert(String::from(dname), src);
        t.node_mut(src).parent = ddir;
        Ok(())
    }

    fn chmod(&self, path: &str, mode: u32) -> Result<(), Errno> {
        let mut t = self.tree.lock();
        let i = t.resolve(path)?;
        t.node_mut(i).mode = mode & 0o7777;
        Ok(())
    }
}

#[cfg(test)]
mod tests;

//! Files: path names, the file server, and the library's own files.
//!
//! K42 served files from user-level file servers reached by PPC (paper
//! §3); its Linux emulation turned each file call into calls on those
//! servers' objects. Here the file server is the system's `ramfs`
//! (`k42_interfaces::FileSystem`), found once by name at the system's name
//! server, whose handle the kernel gives the library at start
//! ([`crate::Startup::names`]). Every call goes through the generated
//! stub over [`Via`], a `ppc_idl::Transport` on the library's
//! [`Native::ppc_call`](crate::Native::ppc_call).
//!
//! What stays in the library (user-level state, as in K42):
//!
//! - the working directory and the `umask`; paths reach the server
//!   absolute ([`absolute`]), relative ones joined to the working
//!   directory or to the directory of an `*at` call's descriptor;
//! - the console, `/dev/null`, `/dev/zero`, `/dev/urandom` and the
//!   `/proc` files ([`special`]), which need no server.
//!
//! Data moves through the PPC page, at most [`CHUNK`] bytes per call.

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use k42_interfaces::{kind, FileSystemClient, NameServiceClient, Stat};
use linux_raw_sys::general as g;
use ppc_idl::{Message, MethodId, ObjectHandle, PpcError, Transport};

use crate::fd::{Fd, Object, Special};
use crate::{Access, Ctx, Errno, Native, SysResult};

/// `PATH_MAX`, with its NUL.
pub const PATH_MAX: usize = 4096;

/// Bytes of file data per PPC (the rest of the page carries the other
/// arguments).
pub const CHUNK: usize = 3584;

/// `AT_FDCWD` as the calls pass it (an `int` in a 64-bit register).
pub const AT_FDCWD: i32 = g::AT_FDCWD;

/// The kernel's PPC path as the stubs' transport.
pub struct Via<'a>(RefCell<&'a mut dyn Native>);

impl<'a> Via<'a> {
    /// Through `native`.
    pub fn new(native: &'a mut dyn Native) -> Self {
        Via(RefCell::new(native))
    }
}

impl Transport for Via<'_> {
    fn call(
        &self,
        handle: ObjectHandle,
        method: MethodId,
        req: &Message,
        reply: &mut Message,
    ) -> Result<(), PpcError> {
        self.0.borrow_mut().ppc_call(handle, method, req, reply)
    }

    fn send(&self, _: ObjectHandle, _: MethodId, _: &Message) -> Result<(), PpcError> {
        // The library sends no async messages yet.
        Err(PpcError::Transport)
    }
}

fn errno(e: k42_rt::Errno) -> Errno {
    Errno(e.0)
}

fn ppc_errno(e: PpcError) -> Errno {
    errno(k42_rt::Errno::from(e))
}

/// The file server, looked up at the name server on first use.
fn server(ctx: &mut Ctx<'_>) -> Result<ObjectHandle, Errno> {
    if let Some(h) = ctx.st.fs_server {
        return Ok(h);
    }
    if ctx.st.names == 0 {
        crate::log_once(
            ctx,
            u32::MAX,
            "no system name server: files are unavailable",
        );
        return Err(Errno::ENOENT);
    }
    let names = k42_rt::from_raw(ctx.st.names);
    let found = {
        let via = Via::new(&mut *ctx.native);
        NameServiceClient::new(&via, names).lookup("ramfs")
    };
    match found {
        Ok(Ok(h)) => {
            ctx.st.fs_server = Some(h);
            Ok(h)
        }
        Ok(Err(e)) => {
            crate::log(
                ctx.native,
                format_args!("no file server at the name server: {e}"),
            );
            Err(Errno::ENOENT)
        }
        Err(e) => {
            crate::log(
                ctx.native,
                format_args!("the name server did not answer: {e}"),
            );
            Err(Errno::ENOENT)
        }
    }
}

/// Calls the file server: `f` gets its stub.
pub fn call<R>(
    ctx: &mut Ctx<'_>,
    f: impl FnOnce(&FileSystemClient<'_>) -> Result<Result<R, k42_rt::Errno>, PpcError>,
) -> Result<R, Errno> {
    let h = server(ctx)?;
    let via = Via::new(&mut *ctx.native);
    let client = FileSystemClient::new(&via, h);
    match f(&client) {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(errno(e)),
        Err(e) => Err(ppc_errno(e)),
    }
}

/// Reads the NUL-terminated path at `addr`: `EFAULT`, `ENAMETOOLONG`,
/// `ENOENT` for an empty one.
pub fn read_path(ctx: &Ctx<'_>, addr: u64) -> Result<String, Errno> {
    let s = read_cstr(ctx, addr, PATH_MAX)?;
    if s.is_empty() {
        return Err(Errno::ENOENT);
    }
    Ok(s)
}

/// Reads a NUL-terminated string of at most `max - 1` bytes (UTF-8 or
/// not: bytes map to chars one to one when they are not).
pub fn read_cstr(ctx: &Ctx<'_>, addr: u64, max: usize) -> Result<String, Errno> {
    let mut out = Vec::new();
    let mut at = addr;
    loop {
        // Up to the end of the page, so a string ending just before an
        // unmapped page is fine.
        let room = (0x1000 - (at & 0xfff)) as usize;
        let mut buf = [0u8; 0x1000];
        let chunk = &mut buf[..room];
        ctx.read_user(at, chunk)?;
        if let Some(n) = chunk.iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..n]);
            break;
        }
        out.extend_from_slice(chunk);
        if out.len() >= max {
            return Err(Errno::ENAMETOOLONG);
        }
        at += room as u64;
    }
    if out.len() >= max {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| e.into_bytes().iter().map(|&b| char::from(b)).collect()))
}

/// `path` made absolute: joined to the working directory (`dirfd` =
/// `AT_FDCWD`) or to directory descriptor `dirfd` (`EBADF`, `ENOTDIR`).
pub fn absolute(ctx: &Ctx<'_>, dirfd: i32, path: &str) -> Result<String, Errno> {
    if path.starts_with('/') {
        return Ok(String::from(path));
    }
    let base: &str = if dirfd == AT_FDCWD {
        &ctx.st.cwd
    } else {
        match &ctx.st.fds.get(dirfd as u32 as u64)?.obj {
            Object::Dir { path, .. } => path,
            _ => return Err(Errno::ENOTDIR),
        }
    };
    Ok(if base.ends_with('/') {
        format!("{base}{path}")
    } else {
        format!("{base}/{path}")
    })
}

/// `path` (absolute) without `.`, `..` and repeated slashes, lexically
/// (the working directory as `getcwd` reports it).
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut s = String::new();
    for p in &parts {
        s.push('/');
        s.push_str(p);
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

/// The library's own files: what `path` (absolute) names, if it is one.
pub enum Own {
    /// An object to open.
    Object(Object),
    /// A directory of them (`/dev`, `/proc`, `/proc/self`).
    Dir,
    /// A symbolic link of `/proc` and its target.
    Link(String),
}

/// Whether `path` is one of the library's own files.
pub fn special(ctx: &Ctx<'_>, path: &str) -> Option<Own> {
    let p = normalize(path);
    let text = |t: String| {
        Own::Object(Object::Special(Special::Proc {
            text: Rc::from(t.into_bytes()),
            offset: Rc::new(Cell::new(0)),
        }))
    };
    Some(match p.as_str() {
        "/dev" | "/proc" | "/proc/self" | "/proc/self/fd" => Own::Dir,
        "/dev/null" => Own::Object(Object::Special(Special::Null)),
        "/dev/zero" => Own::Object(Object::Special(Special::Zero)),
        "/dev/urandom" | "/dev/random" => Own::Object(Object::Special(Special::Random)),
        "/dev/tty" | "/dev/console" => Own::Object(Object::Console),
        "/proc/self/exe" => Own::Link(ctx.st.exe.clone()),
        "/proc/meminfo" => text(meminfo(ctx)),
        "/proc/cpuinfo" => text(cpuinfo(ctx)),
        "/proc/mounts" | "/proc/self/mounts" => text(String::from(
            "ramfs / ramfs rw 0 0\nproc /proc proc rw 0 0\ndevtmpfs /dev devtmpfs rw 0 0\n",
        )),
        "/proc/self/stat" => text(format!(
            "{} (prog) R {} {} {} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 0 0 0\n",
            ctx.st.pid, ctx.st.ppid, ctx.st.pid, ctx.st.pid
        )),
        p => {
            let fd = p.strip_prefix("/proc/self/fd/")?.parse::<u64>().ok()?;
            Own::Link(fd_path(ctx, fd)?)
        }
    })
}

/// What `/proc/self/fd/N` points to.
fn fd_path(ctx: &Ctx<'_>, fd: u64) -> Option<String> {
    Some(match &ctx.st.fds.get(fd).ok()?.obj {
        Object::Console => String::from("/dev/console"),
        Object::Dir { path, .. } => String::from(&**path),
        Object::Special(Special::Null) => String::from("/dev/null"),
        Object::Special(Special::Zero) => String::from("/dev/zero"),
        Object::Special(Special::Random) => String::from("/dev/urandom"),
        Object::Special(Special::Proc { .. }) => String::from("/proc"),
        Object::File { file } => format!("anon_inode:[ramfs:{file:x}]"),
    })
}

/// `/proc/meminfo`: the kernel's frames (`machine`), all and free; the
/// free ones are all available (the file server's pages are not counted
/// as a cache that could be dropped).
fn meminfo(ctx: &Ctx<'_>) -> String {
    let m = crate::machine::machine(ctx.native, ctx.st.cpu);
    let kb = |frames: u64| frames * m.page_size / 1024;
    let (total, free) = (kb(m.total_frames), kb(m.free_frames));
    format!("MemTotal:       {total:>8} kB\nMemFree:        {free:>8} kB\nMemAvailable:   {free:>8} kB\n")
}

/// `/proc/cpuinfo`: a block per processor online (`machine`).
fn cpuinfo(ctx: &Ctx<'_>) -> String {
    let m = crate::machine::machine(ctx.native, ctx.st.cpu);
    let mut s = String::new();
    for k in crate::machine::online(m) {
        s.push_str(&format!(
            "processor\t: {k}\nvendor_id\t: K42-rs\nmodel name\t: QEMU Virtual CPU\n\n"
        ));
    }
    s
}

/// Mode bits of a file server node.
pub fn mode_of(s: &Stat) -> u32 {
    let t = match s.kind {
        kind::DIR => g::S_IFDIR,
        kind::SYMLINK => g::S_IFLNK,
        kind::FIFO => g::S_IFIFO,
        _ => g::S_IFREG,
    };
    t | (s.mode & 0o7777)
}

/// Attributes of one of the library's own files, as the file server
/// gives its own (`ino` from a range of its own; character devices carry
/// their Linux device numbers in `rdev`).
pub fn own_stat(own: &Own) -> (Stat, u32, u64) {
    let st = |ino, kind, mode| Stat {
        ino,
        kind,
        mode,
        nlink: 1,
        ..Stat::default()
    };
    let chr = |ino, rdev| (st(ino, kind::FILE, 0o666), g::S_IFCHR | 0o666, rdev);
    match own {
        Own::Dir => (st(1 << 40, kind::DIR, 0o555), g::S_IFDIR | 0o555, 0),
        Own::Link(_) => (
            st((1 << 40) + 1, kind::SYMLINK, 0o777),
            g::S_IFLNK | 0o777,
            0,
        ),
        Own::Object(Object::Special(Special::Null)) => chr((1 << 40) + 2, 0x103),
        Own::Object(Object::Special(Special::Zero)) => chr((1 << 40) + 3, 0x105),
        Own::Object(Object::Special(Special::Random)) => chr((1 << 40) + 4, 0x109),
        Own::Object(Object::Console) => (
            st((1 << 40) + 5, kind::FILE, 0o620),
            g::S_IFCHR | 0o620,
            0x501,
        ),
        Own::Object(_) => {
            let mut s = st((1 << 40) + 6, kind::FILE, 0o444);
            s.size = 0;
            (s, g::S_IFREG | 0o444, 0)
        }
    }
}

/// Attributes for the stat calls: the node, its Linux mode, its `rdev`.
pub type Attrs = (Stat, u32, u64);

/// The attributes of `path` (absolute); `follow`: through a final
/// symlink.
pub fn stat_path(ctx: &mut Ctx<'_>, path: &str, follow: bool) -> Result<Attrs, Errno> {
    if let Some(own) = special(ctx, path) {
        return Ok(match (&own, follow) {
            (Own::Link(target), true) => match special(ctx, target) {
                Some(o) => own_stat(&o),
                None => return stat_path(ctx, &target.clone(), true),
            },
            _ => own_stat(&own),
        });
    }
    let s = if follow {
        call(ctx, |fs| fs.stat(path))?
    } else {
        call(ctx, |fs| fs.lstat(path))?
    };
    Ok((s, mode_of(&s), 0))
}

/// The attributes of descriptor `fd`.
pub fn stat_fd(ctx: &mut Ctx<'_>, fd: u64) -> Result<Attrs, Errno> {
    let obj = ctx.st.fds.get(fd)?.obj.clone();
    match obj.description() {
        Some(file) => {
            let s = call(ctx, |fs| fs.fstat(file))?;
            Ok((s, mode_of(&s), 0))
        }
        None => Ok(own_stat(&Own::Object(obj))),
    }
}

/// Opens `path` (absolute) with Linux `flags` and `mode` (before the
/// umask): the new descriptor's object.
pub fn open(ctx: &mut Ctx<'_>, path: &str, flags: u32, mode: u32) -> Result<Object, Errno> {
    // `/dev/tty` is the console if the caller's session has it as its
    // controlling terminal (`tty.rs`); without one it cannot be opened,
    // as in Linux.
    if normalize(path) == "/dev/tty"
        && ctx
            .native
            .terminal(crate::tty::op::FOREGROUND, 0, 0)
            .is_err()
    {
        return Err(Errno::ENXIO);
    }
    if let Some(own) = special(ctx, path) {
        return match own {
            Own::Object(o) if flags & g::O_DIRECTORY != 0 => {
                let _ = o;
                Err(Errno::ENOTDIR)
            }
            Own::Object(o) => Ok(o),
            Own::Dir => Err(Errno::EACCES),
            Own::Link(target) => open(ctx, &target, flags, mode),
        };
    }
    // O_PATH: only the node is wanted (the descriptor neither reads nor
    // writes): opened read-only.
    let flags = if flags & g::O_PATH != 0 {
        flags & (g::O_DIRECTORY | g::O_NOFOLLOW)
    } else {
        flags
    };
    let access = flags & g::O_ACCMODE;
    let mine = g::O_CREAT
        | g::O_EXCL
        | g::O_TRUNC
        | g::O_APPEND
        | g::O_DIRECTORY
        | g::O_NOFOLLOW
        | g::O_NONBLOCK;
    let passed = access | (flags & mine);
    let writes = access != g::O_RDONLY || flags & (g::O_CREAT | g::O_TRUNC) != 0;
    let mut bell = crate::pipe::bell_before(ctx);
    let file = if writes {
        let mode = mode & !ctx.st.umask & 0o7777;
        call(ctx, |fs| fs.create(path, passed, mode))?
    } else {
        call(ctx, |fs| fs.open(path, passed))?
    };
    // A FIFO's other side may wait for this one.
    crate::pipe::rang(ctx, &mut bell);
    // The node's kind: the server says it in the description (no
    // `fstat` call), or, if it does not, asked.
    let node = match kind::of_description(file) {
        0 => call(ctx, |fs| fs.fstat(file)).map(|s| s.kind),
        k => Ok(k),
    };
    let waits = flags & g::O_NONBLOCK == 0 && access != g::O_RDWR;
    // A FIFO's blocking open waits for the other side (`pipe`).
    let node = match node {
        Ok(kind::FIFO) if waits => {
            crate::pipe::wait_for(ctx, file, k42_interfaces::pipe::PEER).map(|()| kind::FIFO)
        }
        r => r,
    };
    let is_dir = match node {
        Ok(k) => k == kind::DIR,
        Err(e) => {
            let _ = call(ctx, |fs| fs.close(file));
            return Err(e);
        }
    };
    Ok(if is_dir {
        Object::Dir {
            file,
            path: Rc::from(normalize(path)),
        }
    } else {
        Object::File { file }
    })
}

/// One more reference to what `fd` refers to (a `dup`, or a `fork` that
/// inherits it).
pub fn hold(ctx: &mut Ctx<'_>, fd: &Fd) -> Result<(), Errno> {
    match fd.obj.description() {
        Some(file) => call(ctx, |fs| fs.hold(file)),
        None => Ok(()),
    }
}

/// Drops the reference `fd` held.
pub fn release(ctx: &mut Ctx<'_>, fd: Fd) {
    if let Some(file) = fd.obj.description() {
        let mut bell = crate::pipe::bell_before(ctx);
        let _ = call(ctx, |fs| fs.close(file));
        crate::pipe::rang(ctx, &mut bell); // a pipe's other end may wait
    }
}

/// `AT_CURRENT`: at the description's offset, which then advances.
pub const AT_CURRENT: u64 = k42_interfaces::AT_CURRENT;

/// Reads up to `len` bytes of descriptor `fd` into the program's `buf`, at
/// `offset` (or [`AT_CURRENT`]).
pub fn read(ctx: &mut Ctx<'_>, fd: u64, buf: u64, len: u64, offset: u64) -> SysResult {
    let f = ctx.st.fds.get(fd)?.clone();
    if f.flags & g::O_PATH != 0
        || (f.obj.description().is_none() && f.flags & g::O_ACCMODE == g::O_WRONLY)
    {
        return Err(Errno::EBADF);
    }
    if len == 0 {
        return Ok(0);
    }
    match f.obj {
        Object::Console => crate::tty::read(ctx, buf, len, f.flags & g::O_NONBLOCK != 0),
        // End of file: touches nothing.
        Object::Special(Special::Null) => {
            let end = buf.checked_add(len);
            if end.is_none_or(|e| e > crate::calls::arch_prctl::USER_END) {
                return Err(Errno::EFAULT);
            }
            Ok(0)
        }
        Object::Special(Special::Zero) | Object::Special(Special::Random) => {
            ctx.st.mem.check(buf, len, Access::Write)?;
            let random = matches!(f.obj, Object::Special(Special::Random));
            let mut done = 0;
            while done < len {
                let mut b = [0u8; 256];
                let n = (len - done).min(b.len() as u64) as usize;
                if random {
                    crate::calls::getrandom::fill(ctx, &mut b[..n]);
                }
                ctx.write_user(buf + done, &b[..n])?;
                done += n as u64;
            }
            Ok(len)
        }
        Object::Special(Special::Proc { text, offset: at }) => {
            let from = if offset == AT_CURRENT {
                at.get()
            } else {
                offset
            };
            let start = (from as usize).min(text.len());
            let n = (text.len() - start).min(len as usize);
            ctx.write_user(buf, &text[start..start + n])?;
            if offset == AT_CURRENT {
                at.set(from + n as u64);
            }
            Ok(n as u64)
        }
        Object::Dir { .. } => Err(Errno::EISDIR),
        Object::File { file } => {
            ctx.st.mem.check(buf, len, Access::Write)?;
            let mut done = 0u64;
            let mut chunk = [0u8; CHUNK];
            // An empty pipe: wait (`pipe`) unless non-blocking; a read
            // that made room wakes a waiting writer.
            let mut waiter = crate::pipe::Waiter::default();
            let mut bell = crate::pipe::bell_before(ctx);
            while done < len {
                let want = (len - done).min(CHUNK as u64) as usize;
                let at = if offset == AT_CURRENT {
                    AT_CURRENT
                } else {
                    offset + done
                };
                let got = match call(ctx, |fs| fs.read(file, at, &mut chunk[..want])) {
                    Ok(n) => {
                        crate::pipe::rang(ctx, &mut bell);
                        n as usize
                    }
                    Err(Errno::EAGAIN) if done == 0 => {
                        waiter.again(ctx, file)?;
                        continue;
                    }
                    Err(crate::pipe::EIO) => {
                        waiter.busy(ctx)?;
                        continue;
                    }
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                };
                ctx.write_user(buf + done, &chunk[..got])?;
                done += got as u64;
                if got < want {
                    break;
                }
            }
            Ok(done)
        }
    }
}

/// Writes `len` bytes of the program's `buf` to descriptor `fd`, at
/// `offset` (or [`AT_CURRENT`]).
pub fn write(ctx: &mut Ctx<'_>, fd: u64, buf: u64, len: u64, offset: u64) -> SysResult {
    let f = ctx.st.fds.get(fd)?.clone();
    if f.flags & g::O_PATH != 0
        || (f.obj.description().is_none() && f.flags & g::O_ACCMODE == g::O_RDONLY)
    {
        return Err(Errno::EBADF);
    }
    ctx.st.mem.check(buf, len, Access::Read)?;
    ctx.st.mem.probe_files(ctx.native, buf, len, Access::Read)?;
    match f.obj {
        Object::Console => {
            crate::calls::console_out(ctx, buf, len);
            Ok(len)
        }
        Object::Special(Special::Proc { .. }) => Err(Errno::EACCES),
        Object::Special(_) => Ok(len),
        Object::Dir { .. } => Err(Errno::EISDIR),
        Object::File { file } => {
            let mut done = 0u64;
            let mut chunk = [0u8; CHUNK];
            // A full pipe: wait (`pipe`) unless non-blocking; a write
            // wakes a waiting reader.
            let mut waiter = crate::pipe::Waiter::default();
            let mut bell = crate::pipe::bell_before(ctx);
            while done < len || len == 0 {
                let n = (len - done).min(CHUNK as u64) as usize;
                ctx.read_user(buf + done, &mut chunk[..n])?;
                let at = if offset == AT_CURRENT {
                    AT_CURRENT
                } else {
                    offset + done
                };
                let put = match call(ctx, |fs| fs.write(file, at, &chunk[..n])) {
                    Ok(n) => {
                        crate::pipe::rang(ctx, &mut bell);
                        n as u64
                    }
                    Err(Errno::EAGAIN) => match waiter.again(ctx, file) {
                        Ok(()) => continue,
                        Err(e) if done == 0 => return Err(e),
                        Err(_) => break,
                    },
                    Err(crate::pipe::EIO) => {
                        waiter.busy(ctx)?;
                        continue;
                    }
                    Err(crate::pipe::EPIPE) => {
                        crate::pipe::broken(ctx);
                        if done == 0 {
                            return Err(crate::pipe::EPIPE);
                        }
                        break;
                    }
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                };
                done += put;
                if put < n as u64 || len == 0 {
                    break;
                }
            }
            Ok(done)
        }
    }
}

/// The path argument `addr` of an `*at` call, made absolute against
/// `dirfd` (its register: an `int`).
pub fn at_path(ctx: &Ctx<'_>, dirfd: u64, addr: u64) -> Result<String, Errno> {
    let p = read_path(ctx, addr)?;
    absolute(ctx, dirfd as u32 as i32, &p)
}

/// Closes every descriptor (the process ends): the file server's
/// descriptions lose this process's references.
pub fn close_all(ctx: &mut Ctx<'_>) {
    let open: Vec<usize> = ctx.st.fds.iter().map(|(n, _)| n).collect();
    for n in open {
        if let Ok(f) = ctx.st.fds.take(n as u64) {
            release(ctx, f);
        }
    }
}

/// The device number the program sees for the file server's files.
const FS_DEV: u64 = 0x2a;
/// ... and for the library's own.
const OWN_DEV: u64 = 0x05;

fn dev_of(a: &Attrs) -> u64 {
    if a.0.ino >= 1 << 40 {
        OWN_DEV
    } else {
        FS_DEV
    }
}

const _: () = assert!(core::mem::size_of::<g::stat>() == 144);

/// Writes `struct stat` (144 bytes) for `a` at `addr`.
pub fn put_stat(ctx: &mut Ctx<'_>, addr: u64, a: &Attrs) -> Result<(), Errno> {
    let (s, mode, rdev) = a;
    let mut b = [0u8; 144];
    let mut put =
        |at: usize, v: u64, n: usize| b[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
    put(0, dev_of(a), 8);
    put(8, s.ino, 8);
    put(16, u64::from(s.nlink), 8);
    put(24, u64::from(*mode), 4);
    put(40, *rdev, 8);
    put(48, s.size, 8);
    put(56, 4096, 8);
    put(64, s.size.div_ceil(512), 8);
    for (i, t) in [s.atime_ns, s.mtime_ns, s.ctime_ns].iter().enumerate() {
        put(72 + 16 * i, t / 1_000_000_000, 8);
        put(80 + 16 * i, t % 1_000_000_000, 8);
    }
    ctx.write_user(addr, &b)
}

/// Writes `struct statx` (256 bytes) for `a` at `addr`: the basic
/// fields, `STATX_BASIC_STATS` in the mask.
pub fn put_statx(ctx: &mut Ctx<'_>, addr: u64, a: &Attrs) -> Result<(), Errno> {
    let (s, mode, rdev) = a;
    let mut b = [0u8; 256];
    let mut put =
        |at: usize, v: u64, n: usize| b[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
    put(0, u64::from(g::STATX_BASIC_STATS), 4);
    put(4, 4096, 4);
    put(16, u64::from(s.nlink), 4);
    put(28, u64::from(*mode), 2);
    put(32, s.ino, 8);
    put(40, s.size, 8);
    put(48, s.size.div_ceil(512), 8);
    for (at, t) in [(64, s.atime_ns), (96, s.ctime_ns), (112, s.mtime_ns)] {
        put(at, t / 1_000_000_000, 8);
        put(at + 8, t % 1_000_000_000, 4);
    }
    put(128, rdev >> 8, 4);
    put(132, rdev & 0xff, 4);
    put(136, dev_of(a) >> 8, 4);
    put(140, dev_of(a) & 0xff, 4);
    ctx.write_user(addr, &b)
}

/// How many descriptors the process may have (`RLIMIT_NOFILE`, at most
/// [`crate::fd::MAX_FDS`]).
pub fn nofile(ctx: &Ctx<'_>) -> usize {
    let cur = ctx.st.rlimits[g::RLIMIT_NOFILE as usize].cur;
    usize::try_from(cur).map_or(crate::fd::MAX_FDS, |n| n.min(crate::fd::MAX_FDS))
}

/// The lowest free descriptor number from `from` on, below [`nofile`]
/// (`EMFILE`).
pub fn lowest_free(ctx: &Ctx<'_>, from: usize) -> Result<usize, Errno> {
    ctx.st
        .fds
        .lowest_free(from)
        .ok()
        .filter(|&n| n < nofile(ctx))
        .ok_or(Errno::EMFILE)
}

/// Installs `obj` as a new descriptor (the lowest free number), closing
/// it again if there is none; `O_CLOEXEC` in `flags` sets close-on-exec.
pub fn install(ctx: &mut Ctx<'_>, obj: Object, flags: u32) -> SysResult {
    let mut fd = Fd::new(
        obj,
        flags & (g::O_ACCMODE | g::O_APPEND | g::O_NONBLOCK | g::O_PATH),
    );
    fd.cloexec = flags & g::O_CLOEXEC != 0;
    match lowest_free(ctx, 0) {
        Ok(n) => {
            ctx.st.fds.put(n, fd);
            Ok(n as u64)
        }
        Err(e) => {
            release(ctx, fd);
            Err(e)
        }
    }
}

/// Whether descriptor `fd` is a terminal (the console).
pub fn is_console(ctx: &Ctx<'_>, fd: u64) -> Result<bool, Errno> {
    Ok(matches!(ctx.st.fds.get(fd)?.obj, Object::Console))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_paths_lexically() {
        assert_eq!(normalize("/"), "/");
        assert_eq!(normalize("/a//b/./c/"), "/a/b/c");
        assert_eq!(normalize("/a/b/../../.."), "/");
        assert_eq!(normalize("/a/../b"), "/b");
    }
}

#[cfg(test)]
mod call_tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    fn open(
        l: &mut crate::Syslib<crate::mock::MockNative>,
        m: u64,
        path: &[u8],
        flags: u32,
    ) -> i64 {
        l.native.poke(m, path);
        l.native.poke(m + path.len() as u64, &[0]);
        call(l, g::__NR_open, &[m, u64::from(flags), 0o644])
    }

    #[test]
    fn dup_shares_the_offset_and_cloexec_is_per_descriptor() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 2);
        assert_eq!(
            open(&mut l, m, b"/f", g::O_RDWR | g::O_CREAT | g::O_CLOEXEC),
            3
        );
        l.native.poke(m + 100, b"abcdef");
        assert_eq!(call(&mut l, g::__NR_write, &[3, m + 100, 6]), 6);
        assert_eq!(call(&mut l, g::__NR_dup2, &[3, 9]), 9);
        assert_eq!(
            call(&mut l, g::__NR_lseek, &[9, 2, u64::from(g::SEEK_SET)]),
            2
        );
        assert_eq!(
            call(&mut l, g::__NR_lseek, &[3, 0, u64::from(g::SEEK_CUR)]),
            2
        );
        assert_eq!(call(&mut l, g::__NR_fcntl, &[3, u64::from(g::F_GETFD)]), 1);
        assert_eq!(call(&mut l, g::__NR_fcntl, &[9, u64::from(g::F_GETFD)]), 0);
        // The description lives while one descriptor refers to it.
        assert_eq!(call(&mut l, g::__NR_close, &[3]), 0);
        assert_eq!(call(&mut l, g::__NR_read, &[9, m + 200, 10]), 4);
        assert_eq!(l.native.peek(m + 200, 4), b"cdef");
        assert_eq!(call(&mut l, g::__NR_dup3, &[9, 9, 0]), err(Errno::EINVAL));
        assert_eq!(call(&mut l, g::__NR_dup2, &[9, 9]), 9);
        assert_eq!(call(&mut l, g::__NR_dup2, &[8, 9]), err(Errno::EBADF));
        assert_eq!(
            call(&mut l, g::__NR_fcntl, &[9, u64::from(g::F_DUPFD), 20]),
            20
        );
        assert_eq!(
            call(
                &mut l,
                g::__NR_fcntl,
                &[9, u64::from(g::F_SETFL), u64::from(g::O_APPEND)]
            ),
            0
        );
        assert_eq!(
            call(&mut l, g::__NR_fcntl, &[20, u64::from(g::F_GETFL)]) as u32 & g::O_APPEND,
            g::O_APPEND,
            "status flags belong to the description"
        );
    }

    #[test]
    fn getdents_lists_a_directory_in_small_buffers() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 2);
        for name in [&b"/a"[..], b"/bb", b"/ccc"] {
            let fd = open(&mut l, m, name, g::O_WRONLY | g::O_CREAT);
            assert_eq!(call(&mut l, g::__NR_close, &[fd as u64]), 0);
        }
        let dir = open(&mut l, m, b"/", g::O_RDONLY | g::O_DIRECTORY) as u64;
        let mut names = std::vec::Vec::new();
        loop {
            // Room for one or two records at a time.
            let n = call(&mut l, g::__NR_getdents64, &[dir, m + 1000, 48]);
            assert!(n >= 0, "{n}");
            if n == 0 {
                break;
            }
            let buf = l.native.peek(m + 1000, n as usize);
            let mut at = 0;
            while at < buf.len() {
                let reclen = u16::from_le_bytes([buf[at + 16], buf[at + 17]]) as usize;
                let name: std::vec::Vec<u8> = buf[at + 19..at + reclen]
                    .iter()
                    .copied()
                    .take_while(|&c| c != 0)
                    .collect();
                names.push(std::string::String::from_utf8(name).unwrap());
                at += reclen;
            }
        }
        assert_eq!(names, [".", "..", "a", "bb", "ccc"]);
        assert_eq!(
            call(&mut l, g::__NR_getdents64, &[dir, m + 1000, 8]),
            0,
            "at the end"
        );
        assert_eq!(call(&mut l, g::__NR_lseek, &[dir, 0, 0]), 0);
        assert_eq!(
            call(&mut l, g::__NR_getdents64, &[dir, m + 1000, 8]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_getdents64, &[1, m + 1000, 100]),
            err(Errno::ENOTDIR)
        );
    }

    #[test]
    fn stat_of_files_devices_and_proc() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 2);
        let fd = open(&mut l, m, b"/f", g::O_WRONLY | g::O_CREAT) as u64;
        l.native.poke(m + 100, &[7; 10]);
        assert_eq!(call(&mut l, g::__NR_write, &[fd, m + 100, 10]), 10);
        l.native.poke(m, b"/f\0");
        assert_eq!(call(&mut l, g::__NR_stat, &[m, m + 200]), 0);
        let st = l.native.peek(m + 200, 144);
        let word = |at: usize| u64::from_le_bytes(st[at..at + 8].try_into().unwrap());
        assert_eq!(word(48), 10, "size");
        assert_eq!(word(24) as u32, g::S_IFREG | 0o644, "mode after the umask");
        l.native.poke(m, b"/dev/zero\0");
        assert_eq!(call(&mut l, g::__NR_stat, &[m, m + 200]), 0);
        let st = l.native.peek(m + 200, 144);
        assert_eq!(
            u32::from_le_bytes(st[24..28].try_into().unwrap()) & g::S_IFMT,
            g::S_IFCHR
        );
        let z = call(&mut l, g::__NR_open, &[m, 0, 0]) as u64;
        l.native.poke(m + 300, &[1; 8]);
        assert_eq!(call(&mut l, g::__NR_read, &[z, m + 300, 8]), 8);
        assert_eq!(l.native.peek(m + 300, 8), [0; 8]);
        assert_eq!(
            call(&mut l, g::__NR_write, &[z, m + 300, 8]),
            err(Errno::EBADF),
            "read-only"
        );
        let cpu = open(&mut l, m, b"/proc/cpuinfo", g::O_RDONLY) as u64;
        let n = call(&mut l, g::__NR_read, &[cpu, m + 400, 400]);
        assert!(n > 10);
        assert!(l.native.peek(m + 400, n as usize).starts_with(b"processor"));
        assert_eq!(
            call(
                &mut l,
                g::__NR_ioctl,
                &[cpu, u64::from(linux_raw_sys::ioctl::TCGETS), m]
            ),
            err(Errno::ENOTTY)
        );
        assert_eq!(
            call(
                &mut l,
                g::__NR_ioctl,
                &[99, u64::from(linux_raw_sys::ioctl::TCGETS), m]
            ),
            err(Errno::EBADF)
        );
    }

    #[test]
    fn proc_cpuinfo_and_meminfo_describe_the_machine() {
        let mut l = lib();
        l.native.machine = Some(crate::machine::Machine {
            processors: 3,
            online_mask: 0b111,
            total_frames: 1000,
            free_frames: 250,
            page_size: 4096,
            cpu: 1,
        });
        let m = scratch(&mut l, 2);
        let read = |l: &mut crate::Syslib<crate::mock::MockNative>, path: &[u8]| {
            let fd = open(l, m, path, g::O_RDONLY) as u64;
            let n = call(l, g::__NR_read, &[fd, m + 512, 4096]);
            assert!(n > 0, "{n}");
            std::string::String::from_utf8(l.native.peek(m + 512, n as usize)).unwrap()
        };
        let cpus = read(&mut l, b"/proc/cpuinfo");
        assert_eq!(cpus.matches("processor\t: ").count(), 3, "{cpus}");
        assert!(cpus.starts_with("processor\t: 0\n"), "{cpus}");
        assert!(cpus.contains("\n\nprocessor\t: 2\n"), "{cpus}");
        let mem = read(&mut l, b"/proc/meminfo");
        assert_eq!(
            mem,
            "MemTotal:           4000 kB\nMemFree:            1000 kB\nMemAvailable:       1000 kB\n"
        );
    }

    #[test]
    fn without_services_files_are_missing_but_the_console_works() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        assert_eq!(open(&mut l, m, b"/f", g::O_RDONLY), err(Errno::ENOENT));
        assert_eq!(open(&mut l, m, b"/dev/null", g::O_RDWR), 3);
        l.native.poke(m, b"hi");
        assert_eq!(call(&mut l, g::__NR_write, &[1, m, 2]), 2);
        // (The mock's kernel log is its console: the note comes first.)
        assert!(l
            .native
            .console_text()
            .ends_with("files are unavailable\nhi"));
    }
}

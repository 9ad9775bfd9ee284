//! `execve(path, argv, envp)`: replaces the program (the kernel's `exec`
//! native call), and the **inherit blob**: the part of the library's
//! state that survives exec.
//!
//! The library reads and checks the path and makes a relative one
//! absolute (the working directory, or `execveat`'s directory: the kernel
//! has none). A file of the file server (`ramfs`), which the kernel cannot
//! read, the library reads whole after checking that it is a regular file
//! someone may execute (`EACCES`): it goes to the kernel as the image.
//! A file the server still holds as the boot image has it
//! (`FileSystem::boot_file`: ramfs imports the initramfs at start) goes
//! by its boot entry's index instead ([`run_boot`]), so a 2 MB busybox is
//! not copied through the server page by page. Any other path is the
//! initramfs's, which the kernel searches. The
//! library writes its inheritable state into a blob
//! ([`State::exec_blob`]) and calls `exec(path, argv, envp, blob, image)`:
//! the kernel copies `argv` and `envp` out of the program (its `EFAULT`
//! and `E2BIG`), loads the new program with a fresh library into a new
//! address space and, only if all went well, replaces this one; the new
//! library starts with the blob ([`State::inherit`], from `_start`).
//! An error comes back as the call's result and the program continues, as
//! on Linux (`ENOENT`, `EACCES`, `ENOEXEC`, `ENOTDIR`, `ELOOP`,
//! `ENAMETOOLONG`, `EFAULT`, `E2BIG`, `ENOMEM`). `#!` scripts are the
//! kernel's part.
//!
//! What survives, as on Linux: the process id, parent and children (the
//! kernel's), the blocked-signal mask, signals set to `SIG_IGN` (caught
//! ones are reset to `SIG_DFL`), the resource limits, the working
//! directory, the umask, and the descriptors without `FD_CLOEXEC` (their
//! server descriptions pass to the new program as they are; those of
//! close-on-exec descriptors travel too, for the new library to close:
//! only a successful exec may close them). `/proc` files are not kept.
//!
//! ## The blob (version 1)
//!
//! A header, `"K42X"`, the version (u16, 1), 0 (u16), the total length
//! (u32), then records, each a tag (u16), 0 (u16), a payload length (u32)
//! and the payload, all little-endian. Records with unknown tags are
//! skipped, so a record can be added without a new version; a blob of
//! another version is refused whole.

use crate::{Ctx, Errno, SigAction, State, SysResult};
use alloc::string::String;
use alloc::vec::Vec;
use linux_raw_sys::general as g;

/// The blob's first four bytes.
pub const MAGIC: [u8; 4] = *b"K42X";
/// Its version.
pub const VERSION: u16 = 1;
/// Most bytes of a blob (the kernel's limit, `INHERIT_MAX` in
/// `kernel/src/syscall/exec.rs`).
pub const INHERIT_MAX: usize = 8192;

/// Record tags.
pub mod tag {
    /// The blocked-signal mask: u64.
    pub const BLOCKED: u16 = 1;
    /// The signals set to `SIG_IGN`: u64 (bit = signal - 1).
    pub const IGNORED: u16 = 2;
    /// Resource limits by `RLIMIT_*`: (soft u64, hard u64) each.
    pub const RLIMITS: u16 = 3;
    /// The working directory: its path (UTF-8).
    pub const CWD: u16 = 4;
    /// The file-mode creation mask: u32.
    pub const UMASK: u16 = 5;
    /// The descriptors: each its number (u32), close-on-exec (u8), its
    /// kind ([`super::kind`], u8), 0 (u16), its flags (u32), the file
    /// server's description (u64, 0 for the library's own files) and a
    /// directory's path (length u32, then the bytes).
    pub const FDS: u16 = 6;
    /// Signals (`crate::signal`): the alarm (its deadline on the kernel
    /// clock and its period, u64 each), then each pending signal taken
    /// from the kernel already (number, `pid | code << 32`, value: u64
    /// each).
    pub const SIGNALS: u16 = 7;
    /// The CPU affinity mask (`sched_setaffinity`): u64.
    pub const AFFINITY: u16 = 8;
}

/// Descriptor kinds in [`tag::FDS`]. `/proc` files are not inherited
/// (their text was made for the old program).
pub mod kind {
    /// The console.
    pub const CONSOLE: u8 = 0;
    /// `/dev/null`.
    pub const NULL: u8 = 1;
    /// `/dev/zero`.
    pub const ZERO: u8 = 2;
    /// `/dev/urandom`.
    pub const RANDOM: u8 = 3;
    /// A file of the file server.
    pub const FILE: u8 = 4;
    /// A directory of the file server.
    pub const DIR: u8 = 5;
}

/// One descriptor as the blob carries it.
struct FdEntry<'a> {
    n: u32,
    cloexec: bool,
    kind: u8,
    flags: u32,
    file: u64,
    path: &'a [u8],
}

/// The descriptors of a [`tag::FDS`] payload; `None` if it is malformed.
fn fd_entries(p: &[u8]) -> Option<Vec<FdEntry<'_>>> {
    let mut v = Vec::new();
    let mut at = 0;
    while at < p.len() {
        let e = p.get(at..at + 24)?;
        let word = |i: usize| u32::from_le_bytes([e[i], e[i + 1], e[i + 2], e[i + 3]]);
        let n = word(0);
        let len = word(20) as usize;
        let path = p.get(at + 24..at + 24 + len)?;
        let kind = e[5];
        if n as usize >= crate::fd::MAX_FDS || kind > kind::DIR || e[4] > 1 {
            return None;
        }
        if kind == kind::DIR && core::str::from_utf8(path).is_err() {
            return None;
        }
        v.push(FdEntry {
            n,
            cloexec: e[4] == 1,
            kind,
            flags: word(8),
            file: u64::from_le_bytes(e[12..20].try_into().ok()?),
            path,
        });
        at += 24 + len;
    }
    Some(v)
}

const HEADER: usize = 12;
const RECORD: usize = 8;
const SIG_IGN: u64 = 1;

/// Writes into a buffer, counting what did not fit.
struct Writer<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.out.get_mut(self.len..self.len + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.len += bytes.len();
    }

    fn record(&mut self, tag: u16, payload: &[u8]) {
        self.put(&tag.to_le_bytes());
        self.put(&0u16.to_le_bytes());
        self.put(&(payload.len() as u32).to_le_bytes());
        self.put(payload);
    }
}

impl State {
    /// Writes the state a program keeps across exec into `out` (the
    /// format above); returns the blob's length, which may exceed
    /// `out.len()`: then `out` holds only its beginning.
    pub fn exec_blob(&self, out: &mut [u8]) -> usize {
        let mut w = Writer { out, len: 0 };
        w.put(&MAGIC);
        w.put(&VERSION.to_le_bytes());
        w.put(&0u16.to_le_bytes());
        w.put(&0u32.to_le_bytes()); // the length, below
        w.record(tag::BLOCKED, &self.blocked.to_le_bytes());
        let ignored = self
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.handler == SIG_IGN)
            .fold(0u64, |m, (i, _)| m | 1 << i);
        w.record(tag::IGNORED, &ignored.to_le_bytes());
        w.record(tag::SIGNALS, &crate::signal::exec_record(&self.sig));
        let mut limits = [0u8; 16 * linux_raw_sys::general::RLIM_NLIMITS as usize];
        for (l, b) in self.rlimits.iter().zip(limits.chunks_exact_mut(16)) {
            b[..8].copy_from_slice(&l.cur.to_le_bytes());
            b[8..].copy_from_slice(&l.max.to_le_bytes());
        }
        w.record(tag::RLIMITS, &limits);
        w.record(tag::CWD, self.cwd.as_bytes());
        w.record(tag::UMASK, &self.umask.to_le_bytes());
        w.record(tag::AFFINITY, &self.affinity.to_le_bytes());
        let mut fds = Vec::new();
        for (n, fd) in self.fds.iter() {
            use crate::fd::{Object, Special};
            let (k, file, path): (u8, u64, &[u8]) = match &fd.obj {
                Object::Console => (kind::CONSOLE, 0, b""),
                Object::Special(Special::Null) => (kind::NULL, 0, b""),
                Object::Special(Special::Zero) => (kind::ZERO, 0, b""),
                Object::Special(Special::Random) => (kind::RANDOM, 0, b""),
                Object::Special(Special::Proc { .. }) => continue,
                Object::File { file } => (kind::FILE, *file, b""),
                Object::Dir { file, path } => (kind::DIR, *file, path.as_bytes()),
            };
            fds.extend((n as u32).to_le_bytes());
            fds.extend([u8::from(fd.cloexec), k, 0, 0]);
            fds.extend(fd.flags.to_le_bytes());
            fds.extend(file.to_le_bytes());
            fds.extend((path.len() as u32).to_le_bytes());
            fds.extend(path);
        }
        w.record(tag::FDS, &fds);
        let len = w.len;
        if let Some(l) = w.out.get_mut(8..12) {
            l.copy_from_slice(&(len as u32).to_le_bytes());
        }
        len
    }

    /// Takes over the state a blob from [`State::exec_blob`] carries (at
    /// start-up, after exec); returns the file server's descriptions the
    /// close-on-exec descriptors held, which the caller closes (one
    /// reference each). A malformed blob or one of another version
    /// changes nothing and is `EINVAL`.
    pub fn inherit(&mut self, blob: &[u8]) -> Result<Vec<u64>, Errno> {
        let records = records(blob).ok_or(Errno::EINVAL)?;
        // Checked whole before anything is taken.
        for (t, p) in records.clone() {
            let ok = match t {
                tag::BLOCKED | tag::IGNORED | tag::AFFINITY => p.len() == 8,
                tag::RLIMITS => p.len() % 16 == 0,
                tag::CWD => p.first() == Some(&b'/') && core::str::from_utf8(p).is_ok(),
                tag::UMASK => p.len() == 4,
                tag::FDS => fd_entries(p).is_some(),
                tag::SIGNALS => p.len() >= 16 && (p.len() - 16) % 24 == 0,
                _ => true,
            };
            if !ok {
                return Err(Errno::EINVAL);
            }
        }
        let word = |p: &[u8]| u64::from_le_bytes(p[..8].try_into().unwrap_or([0; 8]));
        let mut close = Vec::new();
        for (t, p) in records {
            match t {
                tag::BLOCKED => self.blocked = word(p) & !super::UNBLOCKABLE,
                tag::SIGNALS => crate::signal::inherit_record(self, p),
                tag::IGNORED => {
                    let ignored = word(p) & !super::UNBLOCKABLE;
                    for (i, a) in self.actions.iter_mut().enumerate() {
                        *a = if ignored & 1 << i != 0 {
                            SigAction {
                                handler: SIG_IGN,
                                ..SigAction::default()
                            }
                        } else {
                            SigAction::default()
                        };
                    }
                }
                tag::RLIMITS => {
                    for (l, b) in self.rlimits.iter_mut().zip(p.chunks_exact(16)) {
                        l.cur = word(&b[..8]);
                        l.max = word(&b[8..]);
                    }
                }
                tag::CWD => self.cwd = String::from(core::str::from_utf8(p).unwrap_or("/")),
                tag::UMASK => self.umask = u32::from_le_bytes([p[0], p[1], p[2], p[3]]) & 0o777,
                tag::AFFINITY => self.affinity = word(p),
                tag::FDS => {
                    use crate::fd::{Fd, Object, Special, Table};
                    let mut table = Table::default();
                    for e in fd_entries(p).unwrap_or_default() {
                        if e.cloexec {
                            if e.file != 0 {
                                close.push(e.file);
                            }
                            continue;
                        }
                        let obj = match e.kind {
                            kind::CONSOLE => Object::Console,
                            kind::NULL => Object::Special(Special::Null),
                            kind::ZERO => Object::Special(Special::Zero),
                            kind::RANDOM => Object::Special(Special::Random),
                            kind::FILE => Object::File { file: e.file },
                            _ => Object::Dir {
                                file: e.file,
                                path: core::str::from_utf8(e.path).unwrap_or("/").into(),
                            },
                        };
                        if let Some(twice) = table.put(e.n as usize, Fd::new(obj, e.flags)) {
                            // Numbered twice: a broken blob; keep the last.
                            close.extend(twice.obj.description());
                        }
                    }
                    self.fds = table;
                }
                _ => {}
            }
        }
        Ok(close)
    }
}

/// At start-up after an exec: takes over the state in `blob`
/// ([`State::inherit`]) and closes what the old program's close-on-exec
/// descriptors held.
pub fn take_over(ctx: &mut Ctx<'_>, blob: &[u8]) -> Result<(), Errno> {
    let close = ctx.st.inherit(blob)?;
    if close.is_empty() {
        return Ok(());
    }
    // A pipe's other end may wait for these to close (a `posix_spawn`
    // parent waits for end of file on a close-on-exec pipe).
    let mut bell = crate::pipe::bell_before(ctx);
    for file in close {
        let _ = crate::fs::call(ctx, |fs| fs.close(file));
    }
    crate::pipe::rang(ctx, &mut bell);
    Ok(())
}

/// The records of a well-formed blob of this version.
fn records(blob: &[u8]) -> Option<impl Iterator<Item = (u16, &[u8])> + Clone> {
    let u16_at = |i: usize| Some(u16::from_le_bytes(blob.get(i..i + 2)?.try_into().ok()?));
    let u32_at = |i: usize| Some(u32::from_le_bytes(blob.get(i..i + 4)?.try_into().ok()?));
    if blob.get(..4)? != MAGIC || u16_at(4)? != VERSION {
        return None;
    }
    let len = u32_at(8)? as usize;
    let body = blob.get(HEADER..len)?;
    // Every record within the blob.
    let mut at = 0;
    while at < body.len() {
        let n = u32::from_le_bytes(body.get(at + 4..at + 8)?.try_into().ok()?) as usize;
        at = at.checked_add(RECORD)?.checked_add(n)?;
    }
    (at == body.len()).then_some(())?;
    let mut at = 0;
    Some(core::iter::from_fn(move || {
        let head = body.get(at..at + RECORD)?;
        let tag = u16::from_le_bytes([head[0], head[1]]);
        let n = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let payload = body.get(at + RECORD..at + RECORD + n)?;
        at += RECORD + n;
        Some((tag, payload))
    }))
}

/// `execve` and `execveat`: runs `path` (as the program gave it,
/// relative to `dirfd`'s directory or the working directory) with the
/// program's `argv` and `envp`. A file of the file server is read here and
/// handed to the kernel as the image ([`file_image`]); any other path is
/// the initramfs's, which the kernel looks up itself.
pub fn exec(ctx: &mut Ctx<'_>, dirfd: i32, path: &str, argv: u64, envp: u64) -> SysResult {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let abs = crate::fs::absolute(ctx, dirfd, path)?;
    if let Some((index, script)) = boot_image(ctx, &abs)? {
        let name = if script { path } else { &abs };
        match run_boot(ctx, name, index, argv, envp) {
            // A kernel without boot images: read the file as any other.
            Err(e) if e == Errno::ENOSYS => {}
            r => return r,
        }
    }
    let image = file_image(ctx, &abs)?;
    // The kernel looks an absolute path up, and names the program by it;
    // a script's path reaches its interpreter as the program gave it.
    let script = image.as_ref().is_some_and(|i| i.starts_with(b"#!"));
    run(
        ctx,
        if script { path } else { &abs },
        image.as_deref(),
        argv,
        envp,
    )
}

/// Asks the kernel to run `name` (or `image`, named `name`) with the
/// inherited state.
pub fn run(ctx: &mut Ctx<'_>, name: &str, image: Option<&[u8]>, argv: u64, envp: u64) -> SysResult {
    let mut blob = [0u8; INHERIT_MAX];
    let n = ctx.st.exec_blob(&mut blob);
    if n > blob.len() {
        ctx.log(format_args!("exec: the inherited state needs {n} bytes"));
        return Err(Errno::ENOMEM);
    }
    let mut name = String::from(name);
    name.push('\0');
    Err(ctx
        .native
        .exec(name.as_bytes(), argv, envp, &blob[..n], image))
}

/// [`run`] for a file of the boot image: the kernel takes it from there
/// by its entry's index, nothing is copied.
pub fn run_boot(ctx: &mut Ctx<'_>, name: &str, index: u32, argv: u64, envp: u64) -> SysResult {
    let mut blob = [0u8; INHERIT_MAX];
    let n = ctx.st.exec_blob(&mut blob);
    if n > blob.len() {
        return Err(Errno::ENOMEM);
    }
    let mut name = String::from(name);
    name.push('\0');
    Err(ctx
        .native
        .exec_boot(name.as_bytes(), argv, envp, &blob[..n], index))
}

/// If executable file `path` (absolute) of the file server is still the
/// boot image's (`FileSystem::boot_file`): its entry's index and whether
/// it is a `#!` script. `EACCES` as [`file_image`].
pub fn boot_image(ctx: &mut Ctx<'_>, path: &str) -> Result<Option<(u32, bool)>, Errno> {
    if ctx.st.names == 0 {
        return Ok(None); // no file server (as in `file_image`)
    }
    let Ok(index) = crate::fs::call(ctx, |fs| fs.boot_file(path)) else {
        return Ok(None);
    };
    let (_, mode, _) = crate::fs::stat_path(ctx, path, true)?;
    executable(mode)?;
    let file = crate::fs::call(ctx, |fs| fs.open(path, k42_interfaces::flags::O_RDONLY))?;
    let mut head = [0u8; 2];
    let got = crate::fs::call(ctx, |fs| fs.read(file, 0, &mut head));
    let _ = crate::fs::call(ctx, |fs| fs.close(file));
    Ok(Some((index, got? == 2 && head == *b"#!")))
}

/// The contents of executable file `path` (absolute) of the file server,
/// or `None` if the server has no such file. `EACCES` if it is not a
/// regular file or nobody may execute it.
pub fn file_image(ctx: &mut Ctx<'_>, path: &str) -> Result<Option<Vec<u8>>, Errno> {
    if ctx.st.names == 0 {
        // No system services, so no file server (the kernel's tests):
        // not even a note in the log, which would cost every exec.
        return Ok(None);
    }
    let mode = match crate::fs::stat_path(ctx, path, true) {
        Ok((_, mode, _)) => mode,
        Err(e) if e == Errno::ENOENT => return Ok(None),
        Err(e) => return Err(e),
    };
    executable(mode)?;
    let file = crate::fs::call(ctx, |fs| fs.open(path, k42_interfaces::flags::O_RDONLY))?;
    let image = read_all(ctx, file);
    let _ = crate::fs::call(ctx, |fs| fs.close(file));
    image.map(Some)
}

/// `EACCES` unless Linux mode `mode` is a regular file someone may
/// execute.
pub fn executable(mode: u32) -> Result<(), Errno> {
    if mode & g::S_IFMT != g::S_IFREG || mode & 0o111 == 0 {
        return Err(Errno(linux_raw_sys::errno::EACCES));
    }
    Ok(())
}

/// The whole contents of open description `file` (read from offset 0).
pub fn read_all(ctx: &mut Ctx<'_>, file: u64) -> Result<Vec<u8>, Errno> {
    let mut image = Vec::new();
    let mut chunk = [0u8; crate::fs::CHUNK];
    loop {
        let at = image.len() as u64;
        match crate::fs::call(ctx, |fs| fs.read(file, at, &mut chunk))? {
            0 => return Ok(image),
            got => image.extend_from_slice(&chunk[..got as usize]),
        }
    }
}

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (path, argv, envp) = (a[0], a[1], a[2]);
    let path = crate::fs::read_path(ctx, path)?;
    exec(ctx, crate::fs::AT_FDCWD, &path, argv, envp)
}

#[cfg(test)]
mod tests {
    use super::tag;
    use crate::mock::t::*;
    use crate::{Errno, SigAction, State};
    use linux_raw_sys::general as g;

    fn blob_of(st: &State) -> std::vec::Vec<u8> {
        let mut b = [0u8; super::INHERIT_MAX];
        let n = st.exec_blob(&mut b);
        b[..n].to_vec()
    }

    #[test]
    fn the_blob_carries_the_mask_ignored_signals_and_limits() {
        let mut a = lib();
        a.state.blocked = 1 << (g::SIGUSR2 - 1);
        a.state.actions[g::SIGPIPE as usize - 1].handler = 1;
        a.state.actions[g::SIGUSR1 as usize - 1] = SigAction {
            handler: 0x40_1234,
            flags: 4,
            restorer: 0x40_1300,
            mask: 3,
        };
        a.state.rlimits[g::RLIMIT_NOFILE as usize].cur = 77;
        a.state.affinity = 0b10;
        let blob = blob_of(&a.state);
        assert_eq!(&blob[..4], b"K42X");
        assert_eq!(
            u32::from_le_bytes(blob[8..12].try_into().unwrap()) as usize,
            blob.len()
        );
        let mut b = lib();
        b.state.actions[g::SIGINT as usize - 1].handler = 0x40_2000;
        b.state.inherit(&blob).unwrap();
        assert_eq!(b.state.blocked, 1 << (g::SIGUSR2 - 1));
        assert_eq!(b.state.actions[g::SIGPIPE as usize - 1].handler, 1);
        assert_eq!(
            b.state.actions[g::SIGUSR1 as usize - 1],
            SigAction::default(),
            "a caught signal is reset to SIG_DFL"
        );
        assert_eq!(
            b.state.actions[g::SIGINT as usize - 1],
            SigAction::default()
        );
        assert_eq!(b.state.rlimits, a.state.rlimits);
        assert_eq!(b.state.rlimits[g::RLIMIT_NOFILE as usize].cur, 77);
        assert_eq!(b.state.affinity, 0b10, "the affinity survives exec");
    }

    #[test]
    fn a_short_buffer_gets_the_length_needed() {
        let l = lib();
        let full = blob_of(&l.state);
        let mut small = [0u8; 16];
        assert_eq!(l.state.exec_blob(&mut small), full.len());
        assert_eq!(small[..], full[..16]);
    }

    #[test]
    fn bad_blobs_change_nothing() {
        let mut a = lib();
        a.state.blocked = 0b100;
        let good = blob_of(&a.state);
        let mut b = lib();
        let mut other_version = good.clone();
        other_version[4] = 2;
        let mut truncated_record = good.clone();
        truncated_record[16] = 200; // the first record's length
        let mut long = good.clone();
        long[8] = 0xff;
        let mut wrong_size = good[..12].to_vec();
        wrong_size.extend([tag::BLOCKED as u8, 0, 0, 0, 4, 0, 0, 0, 1, 2, 3, 4]);
        let n = wrong_size.len() as u32;
        wrong_size[8..12].copy_from_slice(&n.to_le_bytes());
        for bad in [
            &b""[..],
            b"K42",
            b"XXXX\x01\x00\x00\x00\x0c\x00\x00\x00",
            &other_version,
            &truncated_record,
            &long,
            &wrong_size,
        ] {
            assert_eq!(b.state.inherit(bad), Err(Errno::EINVAL), "{bad:?}");
            assert_eq!(b.state.blocked, 0);
        }
        // Unknown records are skipped.
        let mut extra = good.clone();
        extra.extend([99, 0, 0, 0, 3, 0, 0, 0, 7, 7, 7]);
        let n = extra.len() as u32;
        extra[8..12].copy_from_slice(&n.to_le_bytes());
        b.state.inherit(&extra).unwrap();
        assert_eq!(b.state.blocked, 0b100);
    }

    #[test]
    fn execve_hands_the_kernel_an_absolute_path_and_the_blob() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.poke(m, b"bin/prog\0");
        l.state.blocked = 0b1010;
        assert_eq!(
            call(&mut l, g::__NR_execve, &[m, 0x1000, 0x2000]),
            err(Errno::ENOENT),
            "the mock kernel's answer"
        );
        let (path, argv, envp, blob) = l.native.execs.last().unwrap().clone();
        assert_eq!(path, b"/bin/prog\0");
        assert_eq!(l.native.images, [None], "the initramfs has it");
        assert_eq!((argv, envp), (0x1000, 0x2000));
        let mut fresh = lib();
        fresh.state.inherit(&blob).unwrap();
        assert_eq!(fresh.state.blocked, 0b1010);
    }

    /// Writes `data` to a new file `path` with `mode`.
    fn put(
        l: &mut crate::Syslib<crate::mock::MockNative>,
        m: u64,
        path: &str,
        data: &[u8],
        mode: u64,
    ) {
        l.native.poke(m, path.as_bytes());
        l.native.poke(m + path.len() as u64, &[0]);
        let flags = u64::from(g::O_WRONLY | g::O_CREAT | g::O_TRUNC);
        let fd = call(l, g::__NR_open, &[m, flags, mode]);
        assert!(fd >= 0, "open {path}: {fd}");
        l.native.poke(m + 512, data);
        assert_eq!(
            call(l, g::__NR_write, &[fd as u64, m + 512, data.len() as u64]),
            data.len() as i64
        );
        assert_eq!(call(l, g::__NR_close, &[fd as u64]), 0);
    }

    #[test]
    fn files_of_the_file_server_go_to_the_kernel_as_images() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 2);
        let elf = b"\x7fELF and the rest";
        put(&mut l, m, "/prog", elf, 0o755);
        put(&mut l, m, "/script", b"#!/bin/sh -e\necho\n", 0o755);
        put(&mut l, m, "/plain", elf, 0o644);
        let exec = |l: &mut crate::Syslib<crate::mock::MockNative>, path: &str| {
            l.native.poke(m + 1024, path.as_bytes());
            l.native.poke(m + 1024 + path.len() as u64, &[0]);
            call(l, g::__NR_execve, &[m + 1024, 0x1000, 0x2000])
        };
        let eacces = err(Errno(linux_raw_sys::errno::EACCES));
        assert_eq!(exec(&mut l, "plain"), eacces, "not executable");
        assert_eq!(exec(&mut l, "/"), eacces, "a directory");
        assert!(l.native.execs.is_empty(), "the kernel was not asked");
        // An ELF by its absolute path; a script by the path as given; a
        // path the server does not have is the initramfs's.
        assert_eq!(
            exec(&mut l, "./prog"),
            err(Errno::ENOENT),
            "the mock kernel's answer"
        );
        assert_eq!(exec(&mut l, "script"), err(Errno::ENOENT));
        assert_eq!(exec(&mut l, "bin/sh"), err(Errno::ENOENT));
        let names: std::vec::Vec<_> = l.native.execs.iter().map(|x| x.0.clone()).collect();
        assert_eq!(names, [&b"/./prog\0"[..], b"script\0", b"/bin/sh\0"]);
        assert_eq!(
            l.native.images,
            [
                Some(elf.to_vec()),
                Some(b"#!/bin/sh -e\necho\n".to_vec()),
                None
            ]
        );
        // fexecve: execveat of an open descriptor.
        l.native.poke(m, b"/prog\0");
        let fd = call(&mut l, g::__NR_open, &[m, 0, 0]) as u64;
        let flags = u64::from(g::AT_EMPTY_PATH);
        assert_eq!(
            call(&mut l, g::__NR_execveat, &[fd, m + 5, 0, 0, flags]),
            err(Errno::ENOENT)
        );
        assert_eq!(
            l.native.execs.last().unwrap().0,
            std::format!("/dev/fd/{fd}\0").into_bytes()
        );
        assert_eq!(l.native.images.last().unwrap().as_deref(), Some(&elf[..]));
    }

    #[test]
    fn descriptors_the_directory_and_the_umask_survive() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 2);
        put(&mut l, m, "/f", b"data", 0o644);
        l.native.poke(m, b"/f\0/d\0");
        assert_eq!(call(&mut l, g::__NR_open, &[m, 0, 0]), 3);
        let cloexec = u64::from(g::O_CLOEXEC);
        assert_eq!(call(&mut l, g::__NR_dup3, &[3, 7, cloexec]), 7);
        assert_eq!(call(&mut l, g::__NR_mkdir, &[m + 3, 0o755]), 0);
        assert_eq!(call(&mut l, g::__NR_chdir, &[m + 3]), 0);
        assert_eq!(call(&mut l, g::__NR_open, &[m + 3, 0, 0]), 4);
        call(&mut l, g::__NR_umask, &[0o077]);
        let blob = blob_of(&l.state);
        let kept: std::vec::Vec<_> = [0, 1, 2, 3, 4]
            .iter()
            .map(|&n| l.state.fds.get(n).unwrap().clone())
            .collect();
        // The new library (here over the same file server).
        l.state.fds = crate::fd::Table::default();
        l.state.cwd = "/".into();
        l.state.umask = 0o022;
        let close = l.state.inherit(&blob).unwrap();
        assert_eq!(close, [kept[3].obj.description().unwrap()]);
        let mut ctx = crate::Ctx {
            st: &mut l.state,
            native: &mut l.native,
        };
        super::take_over(&mut ctx, &blob).unwrap();
        for (n, fd) in kept.iter().enumerate() {
            assert_eq!(l.state.fds.get(n as u64), Ok(fd), "descriptor {n}");
        }
        assert_eq!(l.state.fds.get(7), Err(Errno::EBADF), "close-on-exec");
        assert_eq!((l.state.cwd.as_str(), l.state.umask), ("/d", 0o077));
        // The kept descriptor still reads its file.
        assert_eq!(call(&mut l, g::__NR_read, &[3, m + 100, 10]), 4);
        assert_eq!(l.native.peek(m + 100, 4), b"data");
    }

    #[test]
    fn execve_refusals() {
        let mut l = lib();
        let m = scratch(&mut l, 2);
        // Unreadable path; an empty one.
        assert_eq!(
            call(&mut l, g::__NR_execve, &[0x10, 0, 0]),
            err(Errno::EFAULT)
        );
        l.native.poke(m, b"\0");
        assert_eq!(call(&mut l, g::__NR_execve, &[m, 0, 0]), err(Errno::ENOENT));
        // A path without its NUL before the end of the mapping, and one
        // longer than PATH_MAX.
        l.native.poke(m + 2 * 4096 - 3, b"abc");
        assert_eq!(
            call(&mut l, g::__NR_execve, &[m + 2 * 4096 - 3, 0, 0]),
            err(Errno::EFAULT)
        );
        l.native.poke(m, &[b'a'; 5000]);
        assert_eq!(
            call(&mut l, g::__NR_execve, &[m, 0, 0]),
            err(Errno(linux_raw_sys::errno::ENAMETOOLONG))
        );
        assert!(l.native.execs.is_empty(), "the kernel was not asked");
    }
}

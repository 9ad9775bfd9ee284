//! `exec(path, argv, envp, inherit, inherit_len, image)`: the calling
//! process replaces its program with a Linux program from the initramfs,
//! or one the caller read from its file system (Linux's `execve`, made by
//! the system library while it handles a reflected `execve`; K42's
//! `ProgExec`).
//!
//! `path` is a NUL-terminated string; `argv` and `envp` are NULL-
//! terminated arrays of pointers to NUL-terminated strings, as Linux's
//! `execve` takes them (a NULL array is an empty one; an empty `argv`
//! becomes `[""]`, as on Linux since 5.18). `inherit` points at
//! `inherit_len` bytes (at most [`INHERIT_MAX`]) of the system library's
//! state that must survive (signal mask, ignored signals, resource limits,
//! descriptors): opaque here, handed to the new library. `image` is 0,
//! or points at two words, the address and length of the file's contents
//! in the caller (at most [`IMAGE_MAX`] bytes): the system library passes
//! a file that lives in a file server, which the kernel cannot read, and
//! checks its permissions itself; `path` then only names it (`AT_EXECFN`,
//! a script's argument). A file the server still holds as the boot image
//! has it comes as ([`IMAGE_BOOT`], its boot entry's index: `bootfs.rs`)
//! instead, and is not copied at all (its `/proc/self/exe` is the entry's
//! name in the archive). The interpreter of a `#!` image comes from the
//! initramfs.
//!
//! Everything is copied out of the caller first; then the file is looked
//! up and loaded with a fresh system library into a **new** address space
//! (`process::load_linux_with`). Only when that succeeded does the process
//! switch to it (`dispatch::exec`): same id, parent and children, its
//! other dispatchers ended, its entry points cleared; the calling
//! dispatcher continues in the new library's `_start`, with the inherited
//! state on the new stack (`r9` = its address, `r10` = its length) and
//! the executable's absolute path (a script's interpreter, symbolic links
//! followed) in aux entry `process::AT_K42_EXE`, for `/proc/self/exe`.
//! Nothing of the old program survives but what `inherit` carries. On
//! success the call does not return; every error leaves the caller as it
//! was:
//!
//! - `ENOENT`: no such file (or interpreter); `ENOTDIR`: a trailing `/`
//!   after a file; `ENAMETOOLONG`: a path over [`PATH_MAX`]; `ELOOP`: too
//!   many symbolic links or nested interpreters;
//! - `EACCES`: not a regular file, or no execute permission;
//! - `ENOEXEC`: neither an ELF executable this kernel runs (the loader's
//!   checks: static or static-PIE x86-64) nor a `#!` script;
//! - `EFAULT`: a bad pointer; `E2BIG`: arguments and environment over
//!   [`ARG_MAX`] bytes (strings and pointers, as Linux counts), one string
//!   over [`MAX_ARG_STRLEN`], or more than fits the new stack;
//!   `EINVAL`: `inherit_len` over [`INHERIT_MAX`]; `ENOMEM`; `ESRCH`: the
//!   process is being killed.
//!
//! **Scripts**: a file starting with `#!` names its interpreter and at
//! most one argument (the rest of the line, as Linux); the interpreter
//! runs with `argv` = interpreter, [argument], the script's path, then the
//! caller's `argv` without its first element. Interpreters may be scripts
//! themselves, [`MAX_INTERPRETERS`] deep.
//!
//! **Paths**: the kernel has no current directory (the system library
//! owns it and passes absolute paths); a relative path is taken from the
//! root. `.` and `..` are resolved, symbolic links in the last component
//! are followed ([`MAX_SYMLINKS`]), as busybox's applet links need.

use super::{Context, Errno, SyscallResult};
use crate::arch::uaccess::{copy_from_user, read_u64};
use crate::dispatch;
use crate::process::{self, Args, SpawnError};
use alloc::string::String;
use alloc::vec::Vec;

/// Longest path, with its NUL (Linux's `PATH_MAX`).
pub const PATH_MAX: usize = 4096;
/// Most bytes of arguments and environment: each string with its NUL and
/// its pointer (Linux allows a quarter of the stack limit; the stack
/// region here is 1 MiB).
pub const ARG_MAX: usize = 256 * 1024;
/// Longest single argument or environment string (Linux's
/// `MAX_ARG_STRLEN`, 32 pages).
pub const MAX_ARG_STRLEN: usize = 32 * 4096;
/// Most inherited library state, in bytes.
pub const INHERIT_MAX: usize = 8192;
/// Largest image passed in memory (`ENOMEM` beyond).
pub const IMAGE_MAX: u64 = 64 << 20;
/// `image`'s first word for a file of the boot image: the second is the
/// entry's index (`bootfs.rs`), a file the file server still holds as the
/// boot image has it (not copied through the server).
pub const IMAGE_BOOT: u64 = u64::MAX;
/// Symbolic links followed in one lookup.
pub const MAX_SYMLINKS: usize = 8;
/// Nested `#!` interpreters (Linux's `BINPRM_MAX_RECURSION`).
pub const MAX_INTERPRETERS: usize = 4;
/// How much of a script's first line is read (Linux's `BINPRM_BUF_SIZE`).
const SHEBANG_MAX: usize = 256;

/// The handler.
pub fn sys_exec(cx: &mut Context<'_>) -> SyscallResult {
    let [path, argv, envp, inherit, inherit_len, image] = cx.args;
    let d = dispatch::current().ok_or(Errno::Einval)?;
    let inherit_len = usize::try_from(inherit_len)
        .ok()
        .filter(|&n| n <= INHERIT_MAX)
        .ok_or(Errno::Einval)?;
    let path = read_str(path, PATH_MAX, Errno::Enametoolong)?;
    let mut budget = ARG_MAX;
    let mut argv = read_strings(argv, &mut budget)?;
    if argv.is_empty() {
        // As Linux since 5.18: a program always gets an argv[0].
        argv.push(Vec::new());
    }
    let envp = read_strings(envp, &mut budget)?;
    let mut blob = alloc::vec![0u8; inherit_len];
    copy_from_user(&mut blob, inherit)?;
    let mut bytes = Vec::new();
    let mut boot_name = None;
    let given: Option<&[u8]> = if image == 0 {
        None
    } else {
        let (at, len) = (read_u64(image)?, read_u64(image.wrapping_add(8))?);
        if at == IMAGE_BOOT {
            let (data, name) = super::bootfs::file(len).ok_or(Errno::Enoent)?;
            // A script's program is its interpreter.
            boot_name = Some(name).filter(|_| !data.starts_with(b"#!"));
            Some(data)
        } else {
            if len > IMAGE_MAX {
                return Err(Errno::Enomem);
            }
            bytes
                .try_reserve_exact(len as usize)
                .map_err(|_| Errno::Enomem)?;
            bytes.resize(len as usize, 0);
            copy_from_user(&mut bytes, at)?;
            Some(&bytes)
        }
    };
    let (image, mut exe) = resolve(&path, given, &mut argv)?;
    if let Some(name) = boot_name {
        // The file itself, not a link to it (`path` may be one).
        exe = canonical(name.as_bytes(), "/")?;
    }
    let argv: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    let envp: Vec<&[u8]> = envp.iter().map(Vec::as_slice).collect();
    let args = Args {
        argv: &argv,
        envp: &envp,
        execfn: Some(&path),
        exe: Some(exe.as_bytes()),
        inherit: &blob,
    };
    let cpu = crate::arch::percpu::current_id();
    let (space, ctx) = process::load_linux_with(image, &args, cpu).map_err(|e| match e {
        SpawnError::NotFound(_) => Errno::Enoent,
        SpawnError::Archive(_) => Errno::Eio,
        SpawnError::Elf(elf_loader::Error::Memory(_)) | SpawnError::Memory(_) => Errno::Enomem,
        SpawnError::Elf(_) => Errno::Enoexec,
        SpawnError::Stack(_) => Errno::E2big,
    })?;
    match dispatch::exec(&d, space, ctx) {
        // The caller never sees this: it continues in the new program.
        Ok(()) => Ok(0),
        Err(space) => {
            if let Err(e) = space.destroy() {
                log::warn!("exec: the unused space could not be torn down: {e}");
            }
            Err(Errno::Esrch)
        }
    }
}

/// A NUL-terminated user string of at most `max` bytes with the NUL
/// (`too_long` otherwise), read a page piece at a time.
fn read_str(mut addr: u64, max: usize, too_long: Errno) -> Result<Vec<u8>, Errno> {
    let mut s = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        // Not across a page boundary: the next page may not exist.
        let n = (4096 - (addr % 4096) as usize).min(buf.len());
        let piece = &mut buf[..n];
        copy_from_user(piece, addr)?;
        if let Some(end) = piece.iter().position(|&b| b == 0) {
            s.extend_from_slice(&piece[..end]);
            return if s.len() < max { Ok(s) } else { Err(too_long) };
        }
        s.extend_from_slice(piece);
        if s.len() >= max {
            return Err(too_long);
        }
        addr = addr.checked_add(n as u64).ok_or(Errno::Efault)?;
    }
}

/// The strings of a NULL-terminated user array of string pointers (none
/// if `array` is NULL), charged to `budget`.
fn read_strings(array: u64, budget: &mut usize) -> Result<Vec<Vec<u8>>, Errno> {
    let mut v = Vec::new();
    if array == 0 {
        return Ok(v);
    }
    for i in 0u64.. {
        let at = i
            .checked_mul(8)
            .and_then(|o| array.checked_add(o))
            .ok_or(Errno::Efault)?;
        let p = read_u64(at)?;
        if p == 0 {
            break;
        }
        let s = read_str(p, MAX_ARG_STRLEN, Errno::E2big)?;
        *budget = budget.checked_sub(s.len() + 1 + 8).ok_or(Errno::E2big)?;
        v.push(s);
    }
    Ok(v)
}

/// The ELF image `path` (whose contents are `given`, or in the
/// initramfs) runs, and its absolute path: scripts become their
/// interpreter, with `argv` rewritten as Linux does.
fn resolve<'a>(
    path: &[u8],
    mut given: Option<&'a [u8]>,
    argv: &mut Vec<Vec<u8>>,
) -> Result<(&'a [u8], String), Errno> {
    let mut path = path.to_vec();
    for _ in 0..=MAX_INTERPRETERS {
        let (data, exe) = match given.take() {
            Some(data) => (data, canonical(&path, "/")?),
            None => lookup(&path)?,
        };
        let Some(script) = data.strip_prefix(b"#!") else {
            return Ok((data, exe));
        };
        let (interpreter, arg) = shebang(script)?;
        // interpreter [arg] path argv[1..]
        let mut new = alloc::vec![interpreter.to_vec()];
        new.extend(arg.map(<[u8]>::to_vec));
        new.push(path.clone());
        new.extend(argv.drain(..).skip(1));
        *argv = new;
        path = interpreter.to_vec();
    }
    Err(Errno::Eloop)
}

/// The interpreter and its optional argument from the rest of a `#!`
/// line.
fn shebang(line: &[u8]) -> Result<(&[u8], Option<&[u8]>), Errno> {
    let line = &line[..line.len().min(SHEBANG_MAX - 2)];
    let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let line = line.trim_ascii();
    let end = line.iter().position(blank).unwrap_or(line.len());
    let (interpreter, rest) = line.split_at(end);
    if interpreter.is_empty() {
        return Err(Errno::Enoexec);
    }
    let rest = rest.trim_ascii();
    Ok((interpreter, (!rest.is_empty()).then_some(rest)))
}

/// The contents of executable regular file `path` in the initramfs, and
/// its absolute path (symbolic links followed).
fn lookup(path: &[u8]) -> Result<(&'static [u8], String), Errno> {
    let archive = process::initramfs().ok_or(Errno::Enoent)?;
    let mut path = canonical(path, "/")?;
    for _ in 0..=MAX_SYMLINKS {
        let name = path.trim_end_matches('/');
        let entry = cpio::find(archive, if name.is_empty() { "/" } else { name })
            .map_err(|_| Errno::Eio)?
            .ok_or(Errno::Enoent)?;
        match entry.kind() {
            cpio::Kind::Symlink => {
                let target = core::str::from_utf8(entry.data).map_err(|_| Errno::Enoent)?;
                let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                let trailing = if path.ends_with('/') { "/" } else { "" };
                path = canonical(alloc::format!("{target}{trailing}").as_bytes(), dir)?;
            }
            cpio::Kind::File if path.ends_with('/') => return Err(Errno::Enotdir),
            cpio::Kind::File if entry.mode & 0o111 != 0 => return Ok((entry.data, path)),
            _ => return Err(Errno::Eacces),
        }
    }
    Err(Errno::Eloop)
}

/// `path` made absolute (relative to `dir`) with `.`, `..` and repeated
/// slashes resolved; a trailing slash is kept. `ENOENT` for an empty or
/// non-UTF-8 path (the initramfs has only UTF-8 names).
fn canonical(path: &[u8], dir: &str) -> Result<String, Errno> {
    let path = core::str::from_utf8(path).map_err(|_| Errno::Enoent)?;
    if path.is_empty() {
        return Err(Errno::Enoent);
    }
    let mut parts: Vec<&str> = Vec::new();
    let start = if path.starts_with('/') { "" } else { dir };
    for part in start.split('/').chain(path.split('/')) {
        match part {
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
    if path.ends_with('/') || s.is_empty() {
        s.push('/');
    }
    Ok(s)
}

ktest::ktest! {
    /// Paths: absolute, relative to a directory, `.`, `..`, slashes.
    fn exec_paths_are_canonical() {
        let c = |p: &str, d: &str| canonical(p.as_bytes(), d).unwrap();
        assert_eq!(c("/bin/sh", "/"), "/bin/sh");
        assert_eq!(c("busybox", "/bin"), "/bin/busybox");
        assert_eq!(c("//bin/./x/../sh", "/"), "/bin/sh");
        assert_eq!(c("/../..", "/"), "/");
        assert_eq!(c("/bin/", "/"), "/bin/");
        assert_eq!(canonical(b"", "/"), Err(Errno::Enoent));
    }

    /// `#!` lines: the interpreter, one optional argument (the rest of the
    /// line), blanks around them; none is ENOEXEC.
    fn exec_shebang_lines() {
        assert_eq!(shebang(b"/bin/sh\necho hi\n"), Ok((&b"/bin/sh"[..], None)));
        assert_eq!(shebang(b" /bin/sh  -e -x \n"), Ok((&b"/bin/sh"[..], Some(&b"-e -x"[..]))));
        assert_eq!(shebang(b"/bin/sh"), Ok((&b"/bin/sh"[..], None)));
        assert_eq!(shebang(b"  \n/bin/sh"), Err(Errno::Enoexec));
    }

    /// An image in memory: an ELF as it is, a script's interpreter from
    /// the initramfs (a missing one is ENOENT), neither is ENOEXEC.
    fn exec_images_in_memory() {
        let (lib, _) = lookup(b"/lib/k42-syslib").unwrap();
        let mut argv = alloc::vec![b"x".to_vec()];
        let (image, exe) = resolve(b"/tmp/./prog", Some(lib), &mut argv).unwrap();
        assert_eq!((image.len(), exe.as_str()), (lib.len(), "/tmp/prog"));
        assert_eq!(argv, [b"x".to_vec()]);
        let mut argv = alloc::vec![b"./s".to_vec(), b"1".to_vec()];
        let (image, exe) = resolve(b"./s", Some(b"#!/lib/k42-syslib -v\n"), &mut argv).unwrap();
        assert!(image.starts_with(b"\x7fELF"));
        assert_eq!(exe, "/lib/k42-syslib", "the interpreter");
        let want: [&[u8]; 4] = [b"/lib/k42-syslib", b"-v", b"./s", b"1"];
        assert_eq!(argv, want);
        let mut argv = alloc::vec![];
        assert_eq!(resolve(b"/tmp/s", Some(b"#!/no/such\n"), &mut argv), Err(Errno::Enoent));
        // No initramfs lookup of `path` itself: the data is what runs.
        let data: &[u8] = b"neither ELF nor script";
        assert_eq!(resolve(b"/lib/k42-syslib", Some(data), &mut argv).map(|r| r.0), Ok(data));
    }

    /// Lookups in the initramfs: a program, a missing file, a directory,
    /// a file with a trailing slash.
    fn exec_lookups() {
        assert!(lookup(b"/lib/k42-syslib").unwrap().0.starts_with(b"\x7fELF"));
        assert_eq!(lookup(b"lib/../lib/k42-syslib").unwrap().1, "/lib/k42-syslib");
        assert_eq!(lookup(b"/no/such/file"), Err(Errno::Enoent));
        assert_eq!(lookup(b"/bin"), Err(Errno::Eacces));
        assert_eq!(lookup(b"/lib/k42-syslib/"), Err(Errno::Enotdir));
    }
}

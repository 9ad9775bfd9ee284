//! The boot image's files in the file server, without copying them.
//!
//! At start the ramfs program walks the initramfs through the kernel's
//! `boot_entry` call ([`KernelBoot`]; `kernel/src/syscall/bootfs.rs`) and
//! [`Ramfs::import`]s every entry into its tree, in archive order (a later
//! entry of the same path replaces an earlier file, as when Linux unpacks
//! an initramfs): directories (made on the way too, `0o755`, when the
//! archive names a file before its directory), symbolic links (their
//! targets copied: they are short) and regular files with their modes. A
//! file's contents stay in the boot image: its body is a
//! `Body::Boot { index, len }`, read through the kernel's `boot_read` on
//! each `read`, and copied into an ordinary file body (charged to the
//! byte budget) on the first write or truncation: copy-up. Device nodes,
//! FIFOs and sockets of the archive are left out (counted in
//! [`Imported::skipped`]). An unchanged boot file keeps its index, which
//! [`FileSystem::boot_file`] tells a client: the system library hands it
//! to the kernel's `exec`, so a 2 MB busybox is never copied through the
//! server page by page.
//!
//! Hosted tests give the tree a [`BootSource`] over an archive in memory.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use k42_rt::Errno;

use crate::{try_string, Body, Dir, Final, Ramfs, Tree};
use alloc::collections::BTreeMap;

/// File-type bits of a mode.
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

/// One entry of a boot image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootEntry {
    /// Its path as stored (`bin/sh`, `./bin/sh` or `/bin/sh`).
    pub name: String,
    /// `st_mode`: type and permission bits.
    pub mode: u32,
    /// A file's bytes or a symbolic link's target length.
    pub size: u64,
}

/// Where the boot image's entries and bytes come from: the kernel
/// ([`KernelBoot`]), or a test.
pub trait BootSource: Send + Sync {
    /// Entry `i`; `None` past the last.
    fn entry(&self, i: u32) -> Result<Option<BootEntry>, Errno>;
    /// Entry `i`'s data from `offset` into `buf`: the bytes copied, 0 at
    /// the end.
    fn read(&self, i: u32, offset: u64, buf: &mut [u8]) -> Result<usize, Errno>;
}

/// The kernel's boot image (`boot_entry` and `boot_read`).
#[cfg(target_os = "none")]
pub struct KernelBoot;

#[cfg(target_os = "none")]
impl BootSource for KernelBoot {
    fn entry(&self, i: u32) -> Result<Option<BootEntry>, Errno> {
        let mut buf = alloc::vec![0u8; k42_rt::sys::BOOT_RECORD + crate::PATH_MAX];
        match k42_rt::sys::boot_entry(i, &mut buf) {
            Ok((e, name)) => Ok(Some(BootEntry {
                name: String::from_utf8_lossy(name).into_owned(),
                mode: e.mode,
                size: e.size,
            })),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn read(&self, i: u32, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        k42_rt::sys::boot_read(i, offset, buf)
    }
}

/// What [`Ramfs::import`] made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// Regular files (their contents left in the boot image).
    pub files: u32,
    /// Directories, the ones made on the way included.
    pub dirs: u32,
    /// Symbolic links.
    pub links: u32,
    /// Entries left out: device nodes, FIFOs, sockets, names that could
    /// not be placed (under a file, over a directory, too long).
    pub skipped: u32,
}

impl Ramfs {
    /// Adds the entries of `source` to the tree (see the module docs) and
    /// keeps `source` to read the files' contents from. Fails only if an
    /// entry cannot be read or the server runs out of room (`ENOSPC`);
    /// what was imported until then stays.
    pub fn import(&self, source: impl BootSource + 'static) -> Result<Imported, Errno> {
        let source: Box<dyn BootSource> = Box::new(source);
        let now = self.now();
        let mut t = self.tree.lock();
        let mut done = Imported::default();
        let mut i = 0u32;
        while let Some(e) = source.entry(i)? {
            match add(&mut t, &*source, i, &e, now, &mut done.dirs)? {
                Some(Made::File) => done.files += 1,
                Some(Made::Dir) => done.dirs += 1,
                Some(Made::Link) => done.links += 1,
                Some(Made::Nothing) => {}
                None => done.skipped += 1,
            }
            i += 1;
        }
        t.boot = Some(source);
        Ok(done)
    }
}

enum Made {
    File,
    Dir,
    Link,
    /// A directory that was there already.
    Nothing,
}

/// Adds entry `i` (`e`) to the tree, counting the directories it makes
/// on the way in `dirs`; `None` if it is left out.
fn add(
    t: &mut Tree,
    source: &dyn BootSource,
    i: u32,
    e: &BootEntry,
    now: u64,
    dirs_made: &mut u32,
) -> Result<Option<Made>, Errno> {
    let name = e.name.trim_start_matches("./").trim_matches('/');
    if name.is_empty() || name == "." || name.len() + 1 > crate::PATH_MAX {
        return Ok(None);
    }
    let (dirs, leaf) = match name.rsplit_once('/') {
        Some((d, l)) => (Some(d), l),
        None => (None, name),
    };
    // The directories on the way.
    let mut path = String::new();
    for part in dirs.into_iter().flat_map(|d| d.split('/')) {
        if part.is_empty() || part == "." {
            continue;
        }
        path.push('/');
        path.push_str(part);
        let w = match t.walk(&path, Final::Follow) {
            Ok(w) => w,
            Err(_) => return Ok(None), // under a file, or `..`
        };
        match w.node {
            Some(n) if t.node(n).is_dir() => {}
            Some(_) => return Ok(None),
            None => {
                let dir = new_dir(w.dir);
                t.add(w.dir, w.name(Errno::EINVAL)?, 0o755, dir, now)?;
                *dirs_made += 1;
            }
        }
    }
    path.push('/');
    path.push_str(leaf);
    let Ok(w) = t.walk(&path, Final::Parent) else {
        return Ok(None);
    };
    let Ok(leaf) = w.name(Errno::EINVAL) else {
        return Ok(None);
    };
    let leaf = try_string(leaf)?;
    let perm = e.mode & 0o7777;
    // What is there already: a directory stays (its mode from the later
    // entry), anything else is replaced.
    if let Some(old) = w.node {
        if t.node(old).is_dir() {
            if e.mode & S_IFMT != S_IFDIR {
                return Ok(None);
            }
            t.node_mut(old).mode = perm;
            return Ok(Some(Made::Nothing));
        }
        if matches!(e.mode & S_IFMT, S_IFREG | S_IFDIR | S_IFLNK) {
            t.remove(w.dir, &leaf, old, now);
        }
    }
    let (body, what) = match e.mode & S_IFMT {
        S_IFREG => (
            Body::Boot {
                index: i,
                len: e.size,
            },
            Made::File,
        ),
        S_IFDIR => (new_dir(w.dir), Made::Dir),
        S_IFLNK => {
            let target = read_all(source, i, e.size)?;
            let target = String::from_utf8(target).map_err(|_| Errno::EINVAL)?;
            if target.is_empty() || target.contains('\0') {
                return Ok(None);
            }
            t.charge(target.len())?;
            (Body::Symlink(target), Made::Link)
        }
        _ => return Ok(None),
    };
    let link_len = match &body {
        Body::Symlink(s) => s.len(),
        _ => 0,
    };
    let perm = if matches!(what, Made::Link) {
        0o777
    } else {
        perm
    };
    if let Err(err) = t.add(w.dir, &leaf, perm, body, now) {
        t.bytes -= link_len;
        return Err(err);
    }
    Ok(Some(what))
}

fn new_dir(parent: usize) -> Body {
    Body::Dir(Dir {
        entries: BTreeMap::new(),
        parent,
    })
}

/// All `len` bytes of entry `i`, in a vector (`ENOSPC` if the heap has no
/// room).
fn read_all(source: &dyn BootSource, i: u32, len: u64) -> Result<Vec<u8>, Errno> {
    let len = usize::try_from(len).map_err(|_| Errno::EFBIG)?;
    let mut data = Vec::new();
    data.try_reserve_exact(len).map_err(|_| Errno::ENOSPC)?;
    data.resize(len, 0);
    let mut at = 0;
    while at < len {
        match source.read(i, at as u64, &mut data[at..])? {
            0 => return Err(Errno::EIO), // shorter than its entry said
            n => at += n,
        }
    }
    Ok(data)
}

/// A boot file's bytes from `start` into `buf` for `read`: `None` if node
/// `node` is not a boot file.
pub(crate) fn read(
    t: &Tree,
    node: usize,
    start: u64,
    buf: &mut [u8],
) -> Result<Option<u32>, Errno> {
    let Body::Boot { index, len } = t.node(node).body else {
        return Ok(None);
    };
    let Some(source) = &t.boot else {
        return Err(Errno::EIO);
    };
    let n = buf.len().min(len.saturating_sub(start) as usize);
    let mut got = 0;
    while got < n {
        match source.read(index, start + got as u64, &mut buf[got..n])? {
            0 => break,
            k => got += k,
        }
    }
    Ok(Some(got as u32))
}

/// Copy-up: makes boot file `i` an ordinary file holding its contents
/// (charged to the byte budget) before it changes. Nothing for other
/// nodes.
pub(crate) fn copy_up(t: &mut Tree, i: usize) -> Result<(), Errno> {
    let Body::Boot { index, len } = t.node(i).body else {
        return Ok(());
    };
    if len > crate::MAX_FILE {
        return Err(Errno::EFBIG);
    }
    let source = t.boot.as_deref().ok_or(Errno::EIO)?;
    let data = read_all(source, index, len)?;
    t.charge(data.len())?;
    t.node_mut(i).body = Body::File(crate::store::Data::Heap(data));
    Ok(())
}

/// The boot entry whose contents file `path` (links followed) still has.
pub(crate) fn index(t: &Tree, path: &str) -> Result<u32, Errno> {
    let i = t.lookup(path, Final::Follow)?;
    match t.node(i).body {
        Body::Boot { index, .. } => Ok(index),
        _ => Err(Errno::EINVAL),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FileSystem, AT_CURRENT};
    use k42_interfaces::flags::{O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A boot image in memory: (name, mode, data) per entry; counts reads.
    struct Image {
        entries: Vec<(&'static str, u32, Vec<u8>)>,
        reads: Arc<AtomicUsize>,
    }

    impl BootSource for Image {
        fn entry(&self, i: u32) -> Result<Option<BootEntry>, Errno> {
            Ok(self.entries.get(i as usize).map(|(n, m, d)| BootEntry {
                name: (*n).into(),
                mode: *m,
                size: d.len() as u64,
            }))
        }

        fn read(&self, i: u32, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            let d = &self.entries.get(i as usize).ok_or(Errno::ENOENT)?.2;
            let start = (offset as usize).min(d.len());
            // At most 3 bytes a call, as a kernel may return less.
            let n = buf.len().min(d.len() - start).min(3);
            buf[..n].copy_from_slice(&d[start..start + n]);
            Ok(n)
        }
    }

    const BUSYBOX: &[u8] = b"\x7fELF busybox, pretend";

    fn image() -> (Image, Arc<AtomicUsize>) {
        let reads = Arc::new(AtomicUsize::new(0));
        let entries = std::vec![
            ("bin", S_IFDIR | 0o755, std::vec![]),
            ("bin/busybox", S_IFREG | 0o755, BUSYBOX.to_vec()),
            ("bin/sh", S_IFLNK | 0o777, b"busybox".to_vec()),
            ("./etc/motd", S_IFREG | 0o644, b"hello\n".to_vec()),
            ("dev/console", 0o020_000 | 0o600, std::vec![]),
            ("tmp", S_IFDIR | 0o1777, std::vec![]),
            ("etc/motd", S_IFREG | 0o600, b"later wins\n".to_vec()),
            ("etc/motd/x", S_IFREG | 0o600, b"under a file".to_vec()),
            ("tmp", S_IFDIR | 0o1777, std::vec![]),
        ];
        (
            Image {
                entries,
                reads: reads.clone(),
            },
            reads,
        )
    }

    fn fs() -> (Ramfs, Imported, Arc<AtomicUsize>) {
        let fs = Ramfs::new(1 << 20, || 7);
        let (img, reads) = image();
        let done = fs.import(img).unwrap();
        (fs, done, reads)
    }

    fn read_whole(fs: &Ramfs, path: &str) -> Vec<u8> {
        let f = fs.open(path, O_RDONLY).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 5];
        loop {
            match fs.read(f, AT_CURRENT, &mut buf).unwrap() {
                0 => break,
                n => out.extend_from_slice(&buf[..n as usize]),
            }
        }
        fs.close(f).unwrap();
        out
    }

    #[test]
    fn the_archive_becomes_the_tree() {
        let (fs, done, _) = fs();
        assert_eq!(
            done,
            Imported {
                files: 3,
                dirs: 4, // bin, etc (on the way), dev (on the way), tmp
                links: 1,
                skipped: 2, // the console, the file under a file
            }
        );
        let st = fs.stat("/bin/busybox").unwrap();
        assert_eq!((st.mode, st.size), (0o755, BUSYBOX.len() as u64));
        assert_eq!(fs.stat("/bin/sh").unwrap().ino, st.ino, "links followed");
        let mut buf = [0u8; 16];
        assert_eq!(fs.readlink("/bin/sh", &mut buf), Ok(7));
        assert_eq!(&buf[..7], b"busybox");
        assert_eq!(fs.stat("/tmp").unwrap().mode, 0o1777);
        assert_eq!(fs.stat("/dev").unwrap().size, 0, "no console node");
        assert_eq!(read_whole(&fs, "/bin/sh"), BUSYBOX);
        assert_eq!(read_whole(&fs, "/etc/motd"), b"later wins\n");
        assert_eq!(fs.stat("/etc/motd").unwrap().mode, 0o600);
        assert_eq!(fs.bytes(), "busybox".len(), "only the link target is held");
    }

    #[test]
    fn reads_at_offsets_and_past_the_end() {
        let (fs, _, _) = fs();
        let f = fs.open("/bin/busybox", O_RDONLY).unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(fs.read(f, 5, &mut buf), Ok(BUSYBOX.len() as u32 - 5));
        assert_eq!(&buf[..3], b"bus");
        assert_eq!(fs.read(f, 1000, &mut buf), Ok(0));
        assert_eq!(
            fs.seek(f, -3, crate::SEEK_END),
            Ok(BUSYBOX.len() as u64 - 3)
        );
        assert_eq!(fs.read(f, AT_CURRENT, &mut buf), Ok(3));
        assert_eq!(&buf[..3], b"end");
    }

    #[test]
    fn a_write_copies_the_file_up_and_only_that_file() {
        let (fs, _, reads) = fs();
        assert_eq!(fs.boot_file("/bin/sh"), Ok(1), "the busybox entry");
        let f = fs.create("/bin/busybox", O_RDWR, 0).unwrap();
        let before = reads.load(Ordering::Relaxed);
        assert_eq!(fs.write(f, 1, b"ELF"), Ok(3));
        assert!(
            reads.load(Ordering::Relaxed) > before,
            "read from the image once"
        );
        assert_eq!(read_whole(&fs, "/bin/busybox"), b"\x7fELF busybox, pretend");
        assert_eq!(fs.boot_file("/bin/busybox"), Err(Errno::EINVAL), "changed");
        assert_eq!(fs.bytes(), 7 + BUSYBOX.len());
        let before = reads.load(Ordering::Relaxed);
        read_whole(&fs, "/bin/busybox");
        assert_eq!(reads.load(Ordering::Relaxed), before, "its own copy now");
        // Truncation copies up too; removal frees the boot file's nothing.
        let g = fs.create("/etc/motd", O_WRONLY | O_TRUNC, 0).unwrap();
        assert_eq!(read_whole(&fs, "/etc/motd"), b"");
        assert_eq!(fs.boot_file("/etc/motd"), Err(Errno::EINVAL));
        fs.close(g).unwrap();
        fs.close(f).unwrap();
        assert_eq!(fs.boot_file("/nope"), Err(Errno::ENOENT));
        assert_eq!(fs.boot_file("/bin"), Err(Errno::EINVAL));
    }

    #[test]
    fn copy_up_is_charged_to_the_budget() {
        let fs = Ramfs::new(10, || 0);
        let (img, _) = image();
        fs.import(img).unwrap();
        let f = fs.create("/bin/busybox", O_WRONLY, 0).unwrap();
        assert_eq!(fs.write(f, 0, b"x"), Err(Errno::ENOSPC));
        assert_eq!(fs.boot_file("/bin/busybox"), Ok(1), "unchanged");
        assert_eq!(fs.ftruncate(f, 2), Err(Errno::ENOSPC));
        assert_eq!(read_whole(&fs, "/bin/busybox"), BUSYBOX);
    }

    #[test]
    fn renamed_and_linked_boot_files_keep_their_contents() {
        let (fs, _, _) = fs();
        fs.rename("/bin/busybox", "/tmp/bb").unwrap();
        fs.link("/tmp/bb", "/tmp/bb2").unwrap();
        assert_eq!(read_whole(&fs, "/tmp/bb2"), BUSYBOX);
        assert_eq!(fs.boot_file("/tmp/bb"), Ok(1));
        assert_eq!(
            fs.stat("/bin/sh"),
            Err(Errno::ENOENT),
            "a dangling link now"
        );
        fs.unlink("/tmp/bb").unwrap();
        fs.unlink("/tmp/bb2").unwrap();
        assert_eq!(fs.bytes(), 7);
    }
}

//! Host tests of the tree, directly and through the generated PPC stubs.

use super::*;
use k42_interfaces::{FileSystemClient, FileSystemServer};
use ppc_idl::{LoopbackTransport, ObjectHandle, PpcError, ProcessId, Rights};
use std::string::{String, ToString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::vec::Vec;

/// A fake clock: 1000 ns later at every reading (shared by the tests,
/// so only "later" is meaningful).
fn tick() -> u64 {
    static NOW: AtomicU64 = AtomicU64::new(1_000_000);
    NOW.fetch_add(1000, Ordering::Relaxed)
}

fn fs() -> Ramfs {
    Ramfs::new(1 << 20, tick)
}

fn put(fs: &Ramfs, path: &str, data: &[u8]) {
    let f = fs
        .create(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        .unwrap();
    assert_eq!(fs.write(f, AT_CURRENT, data), Ok(data.len() as u32));
    fs.close(f).unwrap();
}

fn get(fs: &Ramfs, path: &str) -> Vec<u8> {
    let f = fs.open(path, O_RDONLY).unwrap();
    let mut buf = [0u8; 4096];
    let n = fs.read(f, 0, &mut buf).unwrap() as usize;
    fs.close(f).unwrap();
    buf[..n].to_vec()
}

/// Every entry of `dir` through `getdents` with a `size`-byte buffer:
/// (name, kind), in the order returned.
fn list(fs: &Ramfs, dir: &str, size: usize) -> Vec<(String, u32)> {
    let d = fs.open(dir, O_RDONLY | O_DIRECTORY).unwrap();
    let mut all = Vec::new();
    loop {
        let mut buf = [0u8; 4096];
        let (n, len) = fs.getdents(d, &mut buf[..size]).unwrap();
        if n == 0 {
            break;
        }
        let got: Vec<_> = dirent::iter(&buf[..len as usize])
            .map(|(_, k, name)| (name.to_string(), k))
            .collect();
        assert_eq!(got.len(), n as usize);
        all.extend(got);
    }
    fs.close(d).unwrap();
    all
}

fn names(fs: &Ramfs, dir: &str) -> Vec<String> {
    list(fs, dir, 4096)
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n != "." && n != "..")
        .collect()
}

#[test]
fn create_write_read_back_sparse_and_append() {
    let fs = fs();
    let f = fs.create("/a", O_CREAT | O_RDWR, 0o600).unwrap();
    assert_eq!(fs.write(f, 4, b"xyz"), Ok(3));
    let mut buf = [9u8; 10];
    assert_eq!(fs.read(f, 0, &mut buf), Ok(7));
    assert_eq!(&buf[..7], b"\0\0\0\0xyz", "a hole reads as zeros");
    assert_eq!(fs.read(f, 100, &mut buf), Ok(0));
    assert_eq!(fs.write(f, 100, b""), Ok(0));
    assert_eq!(
        fs.fstat(f).unwrap().size,
        7,
        "an empty write does not grow it"
    );
    assert_eq!(
        fs.seek(f, 0, SEEK_CUR),
        Ok(0),
        "positional calls leave the offset"
    );
    let ap = fs.create("/a", O_WRONLY | O_APPEND, 0).unwrap();
    assert_eq!(fs.write(ap, 0, b"!"), Ok(1), "pwrite with O_APPEND appends");
    assert_eq!(fs.seek(ap, 0, SEEK_CUR), Ok(0));
    assert_eq!(fs.write(ap, AT_CURRENT, b"?"), Ok(1));
    assert_eq!(
        fs.seek(ap, 0, SEEK_CUR),
        Ok(9),
        "at the end after appending"
    );
    let st = fs.stat("/a").unwrap();
    assert_eq!(
        (st.size, st.kind, st.mode, st.nlink),
        (9, kind::FILE, 0o600, 1)
    );
    assert_eq!(fs.fstat(f).unwrap().size, 9);
    assert_eq!(
        fs.create("/a", O_CREAT | O_EXCL | O_RDWR, 0),
        Err(Errno::EEXIST)
    );
    let tr = fs.create("/a", O_TRUNC | O_WRONLY, 0).unwrap();
    assert_eq!(fs.fstat(tr).unwrap().size, 0);
    assert_eq!(fs.bytes(), 0);
    // A new file through O_RDONLY | O_CREAT can be read but not written.
    let ro = fs.create("/b", O_CREAT | O_RDONLY, 0o644).unwrap();
    assert_eq!(fs.write(ro, 0, b"x"), Err(Errno::EBADF));
    assert_eq!(fs.read(ap, 0, &mut buf), Err(Errno::EBADF), "write-only");
}

#[test]
fn the_offset_lives_in_the_description_and_is_shared() {
    let fs = fs();
    let f = fs.create("/f", O_CREAT | O_RDWR, 0o644).unwrap();
    assert_eq!(fs.write(f, AT_CURRENT, b"abcdef"), Ok(6));
    // Two holders (a dup, or a parent and its forked child) of one
    // description: every write continues where the other left off.
    fs.hold(f).unwrap();
    assert_eq!(fs.write(f, AT_CURRENT, b"gh"), Ok(2));
    assert_eq!(fs.seek(f, 0, SEEK_CUR), Ok(8));
    assert_eq!(fs.seek(f, 2, SEEK_SET), Ok(2));
    let mut c = [0u8; 1];
    assert_eq!(fs.read(f, AT_CURRENT, &mut c), Ok(1));
    assert_eq!(&c, b"c");
    // Another open of the same file has its own offset.
    let g = fs.open("/f", O_RDONLY).unwrap();
    assert_ne!(f, g);
    assert_eq!(fs.read(g, AT_CURRENT, &mut c), Ok(1));
    assert_eq!(&c, b"a");
    assert_eq!(fs.seek(f, 0, SEEK_CUR), Ok(3));
    assert_eq!(fs.open_files(), 2);
    assert_eq!(fs.close(f), Ok(()));
    assert_eq!(fs.seek(f, 0, SEEK_CUR), Ok(3), "one reference is left");
    assert_eq!(fs.close(f), Ok(()));
    assert_eq!(fs.read(f, 0, &mut c), Err(Errno::EBADF), "the last is gone");
    assert_eq!(fs.close(f), Err(Errno::EBADF));
    assert_eq!(fs.hold(f), Err(Errno::EBADF));
    assert_eq!(fs.open_files(), 1);
}

#[test]
fn made_up_closed_and_stale_descriptions_are_ebadf() {
    let fs = fs();
    let f = fs.create("/f", O_CREAT | O_RDWR, 0o644).unwrap();
    let mut b = [0u8; 4];
    for bad in [0, 1, 3, 42, f & 0xffff_ffff, f ^ 1 << 40, f + 1, u64::MAX] {
        assert_eq!(fs.read(bad, 0, &mut b), Err(Errno::EBADF), "{bad:#x}");
        assert_eq!(fs.write(bad, 0, b"x"), Err(Errno::EBADF));
        assert_eq!(fs.fstat(bad), Err(Errno::EBADF));
        assert_eq!(fs.seek(bad, 0, SEEK_SET), Err(Errno::EBADF));
        assert_eq!(fs.flags(bad, 0, 0), Err(Errno::EBADF));
        assert_eq!(fs.getdents(bad, &mut b), Err(Errno::EBADF));
        assert_eq!(fs.ftruncate(bad, 0), Err(Errno::EBADF));
        assert_eq!(fs.fchmod(bad, 0), Err(Errno::EBADF));
        assert_eq!(fs.futimens(bad, 0, 0), Err(Errno::EBADF));
        assert_eq!(fs.hold(bad), Err(Errno::EBADF));
        assert_eq!(fs.close(bad), Err(Errno::EBADF));
    }
    fs.close(f).unwrap();
    // The slot is reused with another key: the old number stays dead.
    let g = fs.open("/f", O_RDONLY).unwrap();
    assert_eq!(g & 0xffff_ffff, f & 0xffff_ffff);
    assert_ne!(g, f);
    assert_eq!(fs.read(f, 0, &mut b), Err(Errno::EBADF));
    assert_eq!(fs.read(g, 0, &mut b), Ok(0));
}

#[test]
fn a_description_names_its_nodes_kind() {
    use k42_interfaces::kind;
    let fs = fs();
    put(&fs, "/f", b"x");
    fs.mkdir("/d", 0o755).unwrap();
    let f = fs.open("/f", O_RDONLY).unwrap();
    let d = fs.open("/d", O_RDONLY | O_DIRECTORY).unwrap();
    let c = fs.create("/c", O_CREAT | O_RDWR, 0o644).unwrap();
    let (r, w) = fs.pipe(0).unwrap();
    let kinds = [f, d, c, r, w].map(kind::of_description);
    assert_eq!(
        kinds,
        [kind::FILE, kind::DIR, kind::FILE, kind::FIFO, kind::FIFO]
    );
    for x in [f, d, c, r, w] {
        assert_eq!(fs.fstat(x).unwrap().kind, kind::of_description(x));
    }
    // The kind is part of the capability: changed, it names nothing.
    let forged = (f & !(0xf << kind::SHIFT)) | u64::from(kind::DIR) << kind::SHIFT;
    assert_eq!(fs.fstat(forged).map(|s| s.kind), Err(Errno::EBADF));
}

#[test]
fn open_takes_read_flags_and_create_the_rest() {
    let fs = fs();
    put(&fs, "/f", b"x");
    fs.mkdir("/d", 0o755).unwrap();
    for bad in [O_RDWR, O_WRONLY, O_CREAT, O_TRUNC, O_ACCMODE, 0o40_000_000] {
        assert_eq!(fs.open("/f", bad), Err(Errno::EINVAL), "{bad:#o}");
    }
    let f = fs
        .open(
            "/f",
            O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_LARGEFILE | O_NOCTTY,
        )
        .unwrap();
    assert_eq!(fs.flags(f, 0, 0), Ok(O_RDONLY | O_NONBLOCK | O_LARGEFILE));
    let a = fs.open("/f", O_RDONLY | O_APPEND | O_EXCL).unwrap();
    assert_eq!(
        fs.flags(a, 0, 0),
        Ok(O_RDONLY | O_APPEND),
        "O_EXCL alone is ignored"
    );
    assert_eq!(fs.write(a, 0, b"x"), Err(Errno::EBADF));
    assert_eq!(fs.open("/f", O_DIRECTORY), Err(Errno::ENOTDIR));
    assert_eq!(fs.open("/nope", O_RDONLY), Err(Errno::ENOENT));
    assert!(fs.open("/d", O_DIRECTORY).is_ok());
    assert_eq!(fs.create("/d", O_WRONLY, 0), Err(Errno::EISDIR));
    assert_eq!(fs.create("/d", O_RDWR | O_DIRECTORY, 0), Err(Errno::EISDIR));
    assert_eq!(fs.create("/d", O_CREAT | O_RDONLY, 0), Err(Errno::EISDIR));
    assert_eq!(fs.create("/d", O_RDONLY | O_TRUNC, 0), Err(Errno::EISDIR));
    assert_eq!(
        fs.create("/f", O_WRONLY | O_DIRECTORY, 0),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(fs.create("/f", O_ACCMODE, 0), Err(Errno::EINVAL));
    assert_eq!(
        fs.create("/g", O_CREAT | O_DIRECTORY, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(fs.create("/g", O_WRONLY, 0), Err(Errno::ENOENT));
    assert_eq!(fs.create("/g/", O_CREAT | O_WRONLY, 0), Err(Errno::EISDIR));
    assert_eq!(fs.create("/f/", O_WRONLY, 0), Err(Errno::ENOTDIR));
    assert_eq!(
        fs.create("/nope/g", O_CREAT | O_WRONLY, 0),
        Err(Errno::ENOENT)
    );
    assert!(fs.create("/d", O_RDONLY | O_DIRECTORY, 0).is_ok());
    assert_eq!(fs.stat("/g"), Err(Errno::ENOENT), "nothing was created");
}

#[test]
fn status_flags_change_only_append_and_nonblock() {
    let fs = fs();
    let f = fs.create("/f", O_CREAT | O_RDWR | O_TRUNC, 0o644).unwrap();
    assert_eq!(fs.flags(f, 0, 0), Ok(O_RDWR), "O_CREAT, O_TRUNC not kept");
    let all = u32::MAX;
    assert_eq!(
        fs.flags(f, O_APPEND | O_NONBLOCK | O_WRONLY, all),
        Ok(O_RDWR)
    );
    assert_eq!(fs.flags(f, 0, 0), Ok(O_RDWR | O_APPEND | O_NONBLOCK));
    fs.write(f, AT_CURRENT, b"ab").unwrap();
    fs.seek(f, 0, SEEK_SET).unwrap();
    fs.write(f, AT_CURRENT, b"c").unwrap();
    assert_eq!(get(&fs, "/f"), b"abc", "O_APPEND set later appends");
    assert_eq!(fs.flags(f, 0, O_APPEND), Ok(O_RDWR | O_APPEND | O_NONBLOCK));
    fs.seek(f, 0, SEEK_SET).unwrap();
    fs.write(f, AT_CURRENT, b"X").unwrap();
    assert_eq!(get(&fs, "/f"), b"Xbc");
    assert_eq!(fs.flags(f, 0, 0), Ok(O_RDWR | O_NONBLOCK));
}

#[test]
fn seek_as_lseek() {
    let fs = fs();
    let f = fs.create("/f", O_CREAT | O_RDWR, 0o644).unwrap();
    fs.write(f, AT_CURRENT, b"0123456789").unwrap();
    assert_eq!(fs.seek(f, 3, SEEK_SET), Ok(3));
    assert_eq!(fs.seek(f, 2, SEEK_CUR), Ok(5));
    assert_eq!(fs.seek(f, -4, SEEK_CUR), Ok(1));
    assert_eq!(fs.seek(f, -3, SEEK_END), Ok(7));
    assert_eq!(fs.seek(f, -1, SEEK_SET), Err(Errno::EINVAL));
    assert_eq!(fs.seek(f, -20, SEEK_END), Err(Errno::EINVAL));
    assert_eq!(fs.seek(f, 0, 99), Err(Errno::EINVAL));
    assert_eq!(fs.seek(f, 0, SEEK_CUR), Ok(7), "unchanged after errors");
    assert_eq!(fs.seek(f, i64::MAX, SEEK_END), Err(Errno::EOVERFLOW));
    // Past the end, then a write leaves a hole of zeros.
    assert_eq!(fs.seek(f, 4086, SEEK_END), Ok(4096));
    assert_eq!(fs.fstat(f).unwrap().size, 10);
    assert_eq!(fs.write(f, AT_CURRENT, b"end"), Ok(3));
    assert_eq!(fs.fstat(f).unwrap().size, 4099);
    let mut b = [1u8; 4086];
    assert_eq!(fs.read(f, 10, &mut b), Ok(4086));
    assert!(b.iter().all(|&x| x == 0));
    assert_eq!(fs.read(f, 1 << 63, &mut b), Err(Errno::EINVAL));
    assert_eq!(fs.write(f, 1 << 63, b"x"), Err(Errno::EINVAL));
    let d = fs.open("/", O_RDONLY).unwrap();
    assert_eq!(fs.seek(d, 0, SEEK_SET), Ok(0));
    assert_eq!(fs.seek(d, 0, SEEK_END), Err(Errno::EINVAL));
}

#[test]
fn getdents_lists_dot_dotdot_and_entries_with_kinds() {
    let fs = fs();
    fs.mkdir("/d", 0o755).unwrap();
    for i in 0..20 {
        put(&fs, &std::format!("/d/file{i:02}"), b"x");
    }
    fs.mkdir("/d/sub", 0o755).unwrap();
    fs.symlink("file00", "/d/link").unwrap();
    let all = list(&fs, "/d", 4096);
    assert_eq!(all.len(), 24);
    assert_eq!(all[0], (".".to_string(), kind::DIR));
    assert_eq!(all[1], ("..".to_string(), kind::DIR));
    assert!(all.contains(&("sub".to_string(), kind::DIR)));
    assert!(all.contains(&("link".to_string(), kind::SYMLINK)));
    assert!(all.contains(&("file19".to_string(), kind::FILE)));
    // A buffer of 64 bytes takes a few entries a call: the same list.
    assert_eq!(list(&fs, "/d", 64), all);
    // Inode numbers: "." is the directory, ".." its parent.
    let d = fs.open("/d", O_DIRECTORY).unwrap();
    let mut buf = [0u8; 4096];
    let (_, len) = fs.getdents(d, &mut buf).unwrap();
    let inos: Vec<_> = dirent::iter(&buf[..len as usize])
        .map(|(i, _, _)| i)
        .collect();
    assert_eq!(inos[0], fs.stat("/d").unwrap().ino);
    assert_eq!(inos[1], fs.stat("/").unwrap().ino);
    // d_off is the index of the next entry: seeking there (seekdir)
    // continues after that entry.
    let recs: Vec<_> = dirent::records(&buf[..len as usize]).collect();
    let offs: Vec<u64> = recs.iter().map(|r| r.1).collect();
    assert_eq!(offs, (1..=24).collect::<Vec<u64>>());
    assert_eq!(fs.seek(d, offs[9] as i64, SEEK_SET), Ok(10));
    let mut again = [0u8; 4096];
    let (n, l) = fs.getdents(d, &mut again).unwrap();
    assert_eq!(n, 14);
    assert_eq!(
        dirent::records(&again[..l as usize]).next().unwrap().3,
        recs[10].3
    );
    assert_eq!(fs.getdents(d, &mut buf), Ok((0, 0)), "at the end");
    assert_eq!(fs.seek(d, 0, SEEK_SET), Ok(0));
    assert_eq!(fs.getdents(d, &mut buf).unwrap().0, 24, "rewound");
    assert_eq!(
        fs.getdents(d, &mut buf[..8]),
        Ok((0, 0)),
        "end, even for a tiny buffer"
    );
    fs.seek(d, 0, SEEK_SET).unwrap();
    assert_eq!(
        fs.getdents(d, &mut buf[..8]),
        Err(Errno::EINVAL),
        "not one fits"
    );
    let f = fs.open("/d/file00", O_RDONLY).unwrap();
    assert_eq!(fs.getdents(f, &mut buf), Err(Errno::ENOTDIR));
    assert_eq!(list(&fs, "/", 4096).len(), 3, "/ has ., .. and d");
}

#[test]
fn getdents_resumes_after_the_last_name_while_entries_go() {
    // `rm -r` style: read a few entries, remove them, read on.
    let fs = fs();
    fs.mkdir("/d", 0o755).unwrap();
    for i in 0..30 {
        put(&fs, &std::format!("/d/f{i:02}"), b"");
    }
    let d = fs.open("/d", O_DIRECTORY).unwrap();
    let mut seen = Vec::new();
    loop {
        let mut buf = [0u8; 64];
        let (n, len) = fs.getdents(d, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        for (_, _, name) in dirent::iter(&buf[..len as usize]) {
            if name != "." && name != ".." {
                fs.unlink(&std::format!("/d/{name}")).unwrap();
                seen.push(name.to_string());
            }
        }
    }
    assert_eq!(seen.len(), 30, "each entry once: {seen:?}");
    assert!(names(&fs, "/d").is_empty());
    // A removed directory still open lists nothing (ENOENT as Linux).
    fs.rmdir("/d").unwrap();
    fs.seek(d, 0, SEEK_SET).unwrap();
    assert_eq!(fs.getdents(d, &mut [0u8; 64]), Err(Errno::ENOENT));
    assert_eq!(fs.fstat(d).unwrap().nlink, 0);
    let nodes = fs.nodes();
    fs.close(d).unwrap();
    assert_eq!(fs.nodes(), nodes - 1, "freed at the last close");
}

#[test]
fn paths_resolve_as_linux() {
    let fs = fs();
    fs.mkdir("/d", 0o755).unwrap();
    fs.mkdir("/d/e", 0o755).unwrap();
    put(&fs, "/d/f", b"12345");
    assert_eq!(fs.stat("//d///e/..//f").unwrap().size, 5);
    assert_eq!(fs.stat("/d/./e/../../d/f").unwrap().size, 5);
    assert_eq!(
        fs.stat("/..").unwrap().ino,
        fs.stat("/").unwrap().ino,
        "/.. is /"
    );
    assert_eq!(fs.stat("/d/e/").unwrap().kind, kind::DIR);
    assert_eq!(
        fs.stat("/d/f/"),
        Err(Errno::ENOTDIR),
        "a trailing slash on a file"
    );
    assert_eq!(fs.stat("/d/f/."), Err(Errno::ENOTDIR));
    assert_eq!(fs.stat("/d/f/x"), Err(Errno::ENOTDIR));
    assert_eq!(fs.stat("/d/nope/x"), Err(Errno::ENOENT));
    assert_eq!(fs.stat("/d/nope"), Err(Errno::ENOENT));
    assert_eq!(fs.stat(""), Err(Errno::ENOENT));
    assert_eq!(fs.stat("d/f"), Err(Errno::EINVAL), "relative");
    assert_eq!(fs.stat("/d\0"), Err(Errno::EINVAL));
    let long = std::format!("/{}", "n".repeat(FILE_NAME_MAX + 1));
    assert_eq!(fs.stat(&long), Err(Errno::ENAMETOOLONG));
    assert_eq!(fs.mkdir(&long, 0), Err(Errno::ENAMETOOLONG));
    assert_eq!(fs.stat(&"/a".repeat(PATH_MAX)), Err(Errno::ENAMETOOLONG));
}

#[test]
fn symlinks_anywhere_in_a_path() {
    let fs = fs();
    fs.mkdir("/d", 0o755).unwrap();
    put(&fs, "/d/f", b"data");
    fs.symlink("/d", "/abs").unwrap();
    fs.symlink("d", "/rel").unwrap();
    fs.symlink("f", "/d/l").unwrap();
    fs.symlink("../d/./l", "/d/chain").unwrap();
    assert_eq!(get(&fs, "/abs/f"), b"data");
    assert_eq!(get(&fs, "/rel/l"), b"data");
    assert_eq!(get(&fs, "/abs/chain"), b"data");
    let (l, f) = (fs.lstat("/d/l").unwrap(), fs.stat("/d/f").unwrap());
    assert_eq!(
        (l.kind, l.size, l.mode, l.nlink),
        (kind::SYMLINK, 1, 0o777, 1)
    );
    assert_ne!(l.ino, f.ino);
    assert_eq!(fs.stat("/d/l").unwrap().ino, f.ino);
    assert_eq!(
        fs.lstat("/rel/").unwrap().kind,
        kind::DIR,
        "a trailing slash follows"
    );
    assert_eq!(fs.lstat("/rel").unwrap().kind, kind::SYMLINK);
    let mut b = [b'X'; 8];
    assert_eq!(fs.readlink("/d/chain", &mut b), Ok(8));
    assert_eq!(&b, b"../d/./l");
    assert_eq!(fs.readlink("/d/chain", &mut b[..2]), Ok(2), "truncated");
    assert_eq!(fs.readlink("/d/f", &mut b), Err(Errno::EINVAL));
    assert_eq!(fs.readlink("/nope", &mut b), Err(Errno::ENOENT));
    // Loops and dangling links.
    fs.symlink("/loop2", "/loop1").unwrap();
    fs.symlink("loop1", "/loop2").unwrap();
    assert_eq!(fs.open("/loop1", O_RDONLY), Err(Errno::ELOOP));
    fs.symlink("self", "/self").unwrap();
    assert_eq!(fs.stat("/self/x"), Err(Errno::ELOOP));
    fs.symlink("nowhere", "/dangling").unwrap();
    assert_eq!(fs.stat("/dangling"), Err(Errno::ENOENT));
    assert_eq!(fs.lstat("/dangling").unwrap().kind, kind::SYMLINK);
    // 40 links in a row resolve; 41 do not.
    fs.symlink("/d/f", "/c0").unwrap();
    for i in 1..=40 {
        fs.symlink(&std::format!("/c{}", i - 1), &std::format!("/c{i}"))
            .unwrap();
    }
    assert_eq!(fs.stat("/c39").unwrap().ino, f.ino);
    assert_eq!(fs.stat("/c40"), Err(Errno::ELOOP));
    assert_eq!(fs.symlink("", "/e"), Err(Errno::ENOENT));
    assert_eq!(fs.symlink("x", "/d/l"), Err(Errno::EEXIST));
    // Creating and opening through links.
    assert_eq!(fs.open("/d/l", O_RDONLY | O_NOFOLLOW), Err(Errno::ELOOP));
    assert_eq!(
        fs.create("/d/l", O_WRONLY | O_NOFOLLOW, 0),
        Err(Errno::ELOOP)
    );
    assert_eq!(
        fs.create("/dangling", O_CREAT | O_EXCL | O_WRONLY, 0o644),
        Err(Errno::EEXIST)
    );
    assert!(fs.create("/dangling", O_CREAT | O_WRONLY, 0o644).is_ok());
    assert_eq!(
        fs.stat("/nowhere").unwrap().kind,
        kind::FILE,
        "target created"
    );
    assert_eq!(fs.mkdir("/rel/inner", 0o755), Ok(()));
    assert_eq!(fs.stat("/d/inner").unwrap().kind, kind::DIR);
    assert_eq!(fs.mkdir("/dangling", 0o755), Err(Errno::EEXIST));
    // unlink and rmdir take the link, not its target.
    assert_eq!(fs.rmdir("/rel"), Err(Errno::ENOTDIR));
    assert_eq!(fs.rmdir("/rel/"), Err(Errno::ENOTDIR));
    assert_eq!(fs.unlink("/rel"), Ok(()));
    assert_eq!(fs.stat("/d").unwrap().kind, kind::DIR);
    // "data" and the targets left: /abs, /d/chain, /d/l, the loops,
    // /self, /dangling, /c0; /c1../c10 ("/c0".."/c9"), /c11../c40.
    let targets = [2, 8, 1, 6, 5, 4, 7, 4].iter().sum::<usize>() + 10 * 3 + 30 * 4;
    assert_eq!(fs.bytes(), 4 + targets);
}

#[test]
fn directories_rename_and_remove_as_linux() {
    let fs = fs();
    assert_eq!(fs.mkdir("/a", 0o755), Ok(()));
    assert_eq!(fs.mkdir("/a", 0o755), Err(Errno::EEXIST));
    assert_eq!(fs.mkdir("/a/b/c", 0o755), Err(Errno::ENOENT));
    assert_eq!(fs.mkdir("/a/b", 0o755), Ok(()));
    assert_eq!(fs.mkdir("/a/b/", 0o755), Err(Errno::EEXIST));
    assert_eq!(fs.mkdir("/a/.", 0o755), Err(Errno::EEXIST));
    assert_eq!(fs.mkdir("/", 0o755), Err(Errno::EEXIST));
    put(&fs, "/a/b/f", b"x");
    assert_eq!(fs.mkdir("/a/b/f", 0o755), Err(Errno::EEXIST));
    assert_eq!(fs.rmdir("/a/b"), Err(Errno::ENOTEMPTY));
    assert_eq!(fs.rmdir("/a/b/f"), Err(Errno::ENOTDIR));
    assert_eq!(fs.unlink("/a/b"), Err(Errno::EISDIR));
    assert_eq!(fs.unlink("/a/b/f/"), Err(Errno::ENOTDIR));
    assert_eq!(fs.rmdir("/a/b/."), Err(Errno::EINVAL));
    assert_eq!(fs.rmdir("/a/b/.."), Err(Errno::ENOTEMPTY));
    assert_eq!(fs.rmdir("/"), Err(Errno::EBUSY));
    assert_eq!(fs.unlink("/"), Err(Errno::EISDIR));
    assert_eq!(fs.unlink("/a/b/f"), Ok(()));
    assert_eq!(fs.unlink("/a/b/f"), Err(Errno::ENOENT));
    assert_eq!(fs.rmdir("/a/b"), Ok(()));
    put(&fs, "/x", b"X");
    put(&fs, "/y", b"Y");
    assert_eq!(fs.rename("/x", "/y"), Ok(()), "replaces a file");
    assert_eq!(get(&fs, "/y"), b"X");
    assert_eq!(fs.stat("/x"), Err(Errno::ENOENT));
    assert_eq!(fs.bytes(), 1, "the replaced file is gone");
    assert_eq!(fs.rename("/x", "/z"), Err(Errno::ENOENT));
    assert_eq!(fs.rename("/y", "/y"), Ok(()));
    fs.mkdir("/d1", 0o755).unwrap();
    fs.mkdir("/d2", 0o755).unwrap();
    put(&fs, "/d2/f", b"f");
    assert_eq!(fs.rename("/d1", "/d2"), Err(Errno::ENOTEMPTY));
    assert_eq!(fs.rename("/y", "/d1"), Err(Errno::EISDIR));
    assert_eq!(fs.rename("/d1", "/y"), Err(Errno::ENOTDIR));
    assert_eq!(fs.rename("/d1", "/d1/sub"), Err(Errno::EINVAL));
    assert_eq!(fs.rename("/d2", "/d2/f/x"), Err(Errno::ENOTDIR));
    assert_eq!(fs.rename("/d1", "/d3"), Ok(()));
    assert_eq!(fs.rename("/y", "/d3/y"), Ok(()));
    assert_eq!(fs.rename("/y/", "/z"), Err(Errno::ENOENT));
    assert_eq!(fs.rename("/d3/y/", "/z"), Err(Errno::ENOTDIR));
    assert_eq!(fs.rename("/d3/.", "/z"), Err(Errno::EBUSY));
    assert_eq!(fs.rename("/d3", "/d2/.."), Err(Errno::EBUSY));
    fs.mkdir("/e", 0o755).unwrap();
    assert_eq!(fs.rename("/d3", "/e"), Ok(()), "over an empty directory");
    assert_eq!(get(&fs, "/e/y"), b"X");
    assert_eq!(names(&fs, "/"), ["a", "d2", "e"]);
    // A directory moving between parents: "..", link counts.
    fs.mkdir("/e/sub", 0o755).unwrap();
    assert_eq!(fs.stat("/e").unwrap().nlink, 3);
    assert_eq!(fs.rename("/e/sub", "/a/sub"), Ok(()));
    assert_eq!(
        fs.stat("/a/sub/..").unwrap().ino,
        fs.stat("/a").unwrap().ino
    );
    assert_eq!(fs.stat("/e").unwrap().nlink, 2);
    assert_eq!(fs.stat("/a").unwrap().nlink, 3);
    assert_eq!(fs.stat("/").unwrap().nlink, 2 + 3);
    assert_eq!(fs.rename("/a", "/a/sub/deeper"), Err(Errno::EINVAL));
}

#[test]
fn hard_links_share_contents_and_count() {
    let fs = fs();
    put(&fs, "/f", b"data");
    assert_eq!(fs.link("/f", "/g"), Ok(()));
    assert_eq!(fs.stat("/f").unwrap().nlink, 2);
    assert_eq!(fs.link("/f", "/g"), Err(Errno::EEXIST));
    assert_eq!(fs.link("/nope", "/h"), Err(Errno::ENOENT));
    fs.mkdir("/d", 0o755).unwrap();
    assert_eq!(fs.link("/d", "/d2"), Err(Errno::EPERM));
    assert_eq!(fs.link("/f", "/nope/h"), Err(Errno::ENOENT));
    let a = fs.create("/g", O_WRONLY | O_APPEND, 0).unwrap();
    fs.write(a, AT_CURRENT, b"+more").unwrap();
    assert_eq!(get(&fs, "/f"), b"data+more");
    assert_eq!(fs.rename("/f", "/g"), Ok(()), "two names of one node");
    assert_eq!(fs.stat("/f").unwrap().nlink, 2, "both stay");
    fs.unlink("/f").unwrap();
    assert_eq!(fs.stat("/g").unwrap().nlink, 1);
    fs.symlink("g", "/s").unwrap();
    assert_eq!(fs.link("/s", "/s2"), Ok(()), "a link to the symlink itself");
    assert_eq!(fs.lstat("/s2").unwrap().kind, kind::SYMLINK);
    assert_eq!(fs.lstat("/s").unwrap().nlink, 2);
}

#[test]
fn unlinked_open_files_live_until_the_last_close() {
    let fs = fs();
    let f = fs.create("/tmp", O_CREAT | O_RDWR, 0).unwrap();
    fs.write(f, 0, b"still here").unwrap();
    fs.hold(f).unwrap();
    fs.unlink("/tmp").unwrap();
    assert_eq!(fs.stat("/tmp"), Err(Errno::ENOENT));
    assert_eq!(fs.fstat(f).unwrap().nlink, 0);
    let mut b = [0u8; 10];
    assert_eq!(fs.read(f, 0, &mut b), Ok(10));
    assert_eq!(fs.write(f, 10, b"!"), Ok(1), "and writable");
    assert_eq!(fs.bytes(), 11);
    let nodes = fs.nodes();
    fs.close(f).unwrap();
    assert_eq!(fs.bytes(), 11, "one reference left");
    fs.close(f).unwrap();
    assert_eq!(
        (fs.bytes(), fs.nodes()),
        (0, nodes - 1),
        "freed at the last close"
    );
    // Replaced by a rename while open: the same.
    put(&fs, "/a", b"aaa");
    put(&fs, "/b", b"b");
    let f = fs.open("/a", O_RDONLY).unwrap();
    fs.rename("/b", "/a").unwrap();
    assert_eq!(fs.read(f, 0, &mut b), Ok(3));
    assert_eq!(fs.bytes(), 4);
    fs.close(f).unwrap();
    assert_eq!(fs.bytes(), 1);
}

#[test]
fn truncate_and_ftruncate() {
    let fs = fs();
    put(&fs, "/f", b"0123456789");
    assert_eq!(fs.truncate("/f", 4), Ok(()));
    assert_eq!(fs.stat("/f").unwrap().size, 4);
    let f = fs.create("/f", O_RDWR, 0).unwrap();
    assert_eq!(fs.ftruncate(f, 8192), Ok(()));
    let mut b = [1u8; 8192];
    assert_eq!(fs.read(f, AT_CURRENT, &mut b), Ok(8192));
    assert_eq!((&b[..4], b[4], b[8191]), (&b"0123"[..], 0, 0));
    fs.ftruncate(f, 2).unwrap();
    assert_eq!(fs.seek(f, 0, SEEK_CUR), Ok(8192), "the offset stays");
    assert_eq!(fs.write(f, AT_CURRENT, b"Z"), Ok(1));
    assert_eq!(fs.fstat(f).unwrap().size, 8193);
    assert_eq!(fs.ftruncate(f, u64::MAX), Err(Errno::EINVAL));
    assert_eq!(fs.ftruncate(f, MAX_FILE + 1), Err(Errno::EFBIG));
    let ro = fs.open("/f", O_RDONLY).unwrap();
    assert_eq!(fs.ftruncate(ro, 0), Err(Errno::EINVAL));
    fs.mkdir("/d", 0o755).unwrap();
    assert_eq!(fs.truncate("/d", 0), Err(Errno::EISDIR));
    assert_eq!(fs.truncate("/nope", 0), Err(Errno::ENOENT));
    let d = fs.open("/d", O_RDONLY).unwrap();
    assert_eq!(fs.ftruncate(d, 0), Err(Errno::EINVAL));
    assert_eq!(fs.bytes(), 8193);
}

#[test]
fn times_follow_writes_creates_and_utimens() {
    let fs = fs();
    fs.mkdir("/d", 0o755).unwrap();
    let d0 = fs.stat("/d").unwrap();
    let f = fs.create("/d/f", O_CREAT | O_RDWR, 0o644).unwrap();
    let s0 = fs.fstat(f).unwrap();
    assert!(s0.atime_ns == s0.mtime_ns && s0.mtime_ns == s0.ctime_ns);
    assert!(s0.mtime_ns > d0.mtime_ns, "created after its directory");
    let d1 = fs.stat("/d").unwrap();
    assert!(
        d1.mtime_ns > d0.mtime_ns && d1.ctime_ns > d0.ctime_ns,
        "a new entry"
    );
    fs.write(f, AT_CURRENT, b"x").unwrap();
    let s1 = fs.fstat(f).unwrap();
    assert!(s1.mtime_ns > s0.mtime_ns && s1.ctime_ns > s0.ctime_ns);
    assert_eq!(s1.atime_ns, s0.atime_ns, "reads and writes leave atime");
    fs.write(f, AT_CURRENT, b"").unwrap();
    assert_eq!(fs.fstat(f).unwrap(), s1, "an empty write changes nothing");
    fs.chmod("/d/f", 0o4755 | 0o170000).unwrap();
    let s2 = fs.fstat(f).unwrap();
    assert_eq!(s2.mode, 0o4755, "type bits ignored");
    assert!(s2.ctime_ns > s1.ctime_ns && s2.mtime_ns == s1.mtime_ns);
    fs.utimens("/d/f", 1_000_000_005, 1_234_567_890_987_654_321)
        .unwrap();
    let s3 = fs.stat("/d/f").unwrap();
    assert_eq!(
        (s3.atime_ns, s3.mtime_ns),
        (1_000_000_005, 1_234_567_890_987_654_321)
    );
    assert!(s3.ctime_ns > s2.ctime_ns);
    fs.utimens("/d/f", UTIME_OMIT, 42).unwrap();
    let s4 = fs.stat("/d/f").unwrap();
    assert_eq!((s4.atime_ns, s4.mtime_ns), (1_000_000_005, 42));
    fs.utimens("/d/f", UTIME_OMIT, UTIME_OMIT).unwrap();
    assert_eq!(fs.stat("/d/f").unwrap(), s4, "both omitted: no change");
    fs.futimens(f, UTIME_NOW, UTIME_NOW).unwrap();
    let s5 = fs.fstat(f).unwrap();
    assert!(s5.mtime_ns > s4.ctime_ns && s5.atime_ns == s5.mtime_ns);
    fs.symlink("f", "/d/l").unwrap();
    fs.lutimens("/d/l", 7, 7).unwrap();
    assert_eq!(fs.lstat("/d/l").unwrap().mtime_ns, 7);
    assert_ne!(fs.stat("/d/l").unwrap().mtime_ns, 7, "target untouched");
    fs.utimens("/d/l", 9, 9).unwrap();
    assert_eq!(fs.stat("/d/f").unwrap().mtime_ns, 9, "utimens follows");
    assert_eq!(fs.utimens("/nope", 0, 0), Err(Errno::ENOENT));
    fs.fchmod(f, 0o600).unwrap();
    assert_eq!(fs.stat("/d/l").unwrap().mode, 0o600);
    fs.chmod("/d/l", 0o604).unwrap();
    assert_eq!(fs.stat("/d/f").unwrap().mode, 0o604, "chmod follows");
    let t = fs.fstat(f).unwrap().mtime_ns;
    fs.create("/d/f", O_WRONLY | O_TRUNC, 0).unwrap();
    assert!(fs.fstat(f).unwrap().mtime_ns > t, "O_TRUNC is a change");
}

#[test]
fn limits_are_errors_not_panics() {
    let fs = Ramfs::new(100, tick);
    let f = fs.create("/f", O_CREAT | O_RDWR, 0).unwrap();
    assert_eq!(fs.write(f, 0, &[1; 101]), Err(Errno::ENOSPC));
    assert_eq!(fs.write(f, 0, &[1; 100]), Ok(100));
    assert_eq!(fs.symlink("x", "/l"), Err(Errno::ENOSPC), "targets count");
    assert_eq!(fs.stat("/l"), Err(Errno::ENOENT));
    assert_eq!(fs.write(f, MAX_FILE, b"x"), Err(Errno::EFBIG));
    assert_eq!(fs.truncate("/f", MAX_FILE + 1), Err(Errno::EFBIG));
    assert_eq!(fs.bytes(), 100);
    let big = Ramfs::new(MAX_FILE as usize + 10, tick);
    let g = big.create("/g", O_CREAT | O_RDWR, 0).unwrap();
    assert_eq!(
        big.write(g, MAX_FILE - 2, b"abcd"),
        Ok(2),
        "short at the limit"
    );
    assert_eq!(big.fstat(g).unwrap().size, MAX_FILE);
    for bad in ["", "relative", "/", "/.", "/x/.."] {
        assert!(fs.mkdir(bad, 0).is_err(), "{bad:?}");
    }
    // Directory entries are bounded: ENOSPC, and room again after an
    // unlink.
    let fs = Ramfs::new(1 << 20, tick);
    for i in 0..MAX_NAMES - 1 {
        fs.symlink("t", &std::format!("/l{i}")).unwrap();
    }
    fs.mkdir("/d", 0o755).unwrap();
    assert_eq!(fs.mkdir("/e", 0o755), Err(Errno::ENOSPC));
    assert_eq!(fs.symlink("t", "/e"), Err(Errno::ENOSPC));
    assert_eq!(fs.link("/l0", "/e"), Err(Errno::ENOSPC));
    assert_eq!(fs.create("/e", O_CREAT | O_RDWR, 0), Err(Errno::ENOSPC));
    assert_eq!(
        fs.rename("/l0", "/d/l0"),
        Ok(()),
        "a move needs no new entry"
    );
    assert_eq!(fs.rename("/l1", "/l2"), Ok(()), "nor a replacement");
    assert_eq!(fs.link("/l3", "/e"), Ok(()), "the replaced name freed one");
    fs.unlink("/l3").unwrap();
    assert_eq!(fs.mkdir("/f", 0o755), Ok(()));
    // The table of descriptions is bounded: ENFILE, and room again after
    // a close.
    let fs = Ramfs::new(1 << 20, tick);
    let mut open = Vec::new();
    while let Ok(x) = fs.open("/", O_RDONLY) {
        open.push(x);
    }
    assert_eq!(open.len(), MAX_OPEN);
    assert_eq!(fs.open("/", O_RDONLY), Err(Errno::ENFILE));
    assert_eq!(fs.create("/new", O_CREAT | O_RDWR, 0), Err(Errno::ENFILE));
    assert_eq!(fs.stat("/new"), Err(Errno::ENOENT), "not created either");
    fs.close(open[7]).unwrap();
    assert!(fs.open("/", O_RDONLY).is_ok());
}

#[test]
fn through_ppc_a_reader_cannot_write_and_descriptions_cross_processes() {
    let server = FileSystemServer(fs());
    let h = ObjectHandle::new(ProcessId(1), 0, 1);
    let (me, other) = (ProcessId(7), ProcessId(8));
    let grants = [
        (me, Rights(rights::READ | rights::WRITE)),
        (other, Rights(rights::READ)),
    ];
    let tw = LoopbackTransport::new(&server, h, &grants, me);
    let tr = tw.as_caller(other);
    let w = FileSystemClient::new(&tw, h);
    let r = FileSystemClient::new(&tr, h);
    let f = w
        .create("/shared", O_CREAT | O_RDWR, 0o644)
        .unwrap()
        .unwrap();
    assert_eq!(w.write(f, AT_CURRENT, &[b'k'; 4000]), Ok(Ok(4000)));
    // The reader uses the writer's description (as a forked child
    // would): same offset.
    assert_eq!(r.hold(f), Ok(Ok(())));
    assert_eq!(r.seek(f, 0, SEEK_CUR), Ok(Ok(4000)));
    assert_eq!(r.seek(f, -1000, SEEK_CUR), Ok(Ok(3000)));
    let mut buf = [0u8; 4096];
    assert_eq!(r.read(f, AT_CURRENT, &mut buf), Ok(Ok(1000)));
    assert!(buf[..1000].iter().all(|&b| b == b'k'));
    assert_eq!(w.seek(f, 0, SEEK_CUR), Ok(Ok(4000)));
    assert_eq!(r.write(f, 0, b"x"), Err(PpcError::NoRights));
    assert_eq!(r.unlink("/shared"), Err(PpcError::NoRights));
    assert_eq!(r.create("/x", O_CREAT | O_RDWR, 0), Err(PpcError::NoRights));
    assert_eq!(r.close(f), Ok(Ok(())));
    assert_eq!(w.close(f), Ok(Ok(())));
    assert_eq!(r.read(f, 0, &mut buf), Ok(Err(Errno::EBADF)));
    assert_eq!(r.read(1, 0, &mut buf), Ok(Err(Errno::EBADF)), "made up");
    let d = r.open("/", O_RDONLY | O_DIRECTORY).unwrap().unwrap();
    let (n, len) = r.getdents(d, &mut buf).unwrap().unwrap();
    let got: Vec<_> = dirent::iter(&buf[..len as usize])
        .map(|(_, _, s)| s)
        .collect();
    assert_eq!((n, got), (3, std::vec![".", "..", "shared"]));
    let mut two = [0u8; 2];
    w.symlink("/shared", "/l").unwrap().unwrap();
    assert_eq!(r.readlink("/l", &mut two), Ok(Ok(2)));
    assert_eq!(&two, b"/s");
    assert_eq!(r.lstat("/l").unwrap().unwrap().size, 7);
}

/// A doorbell that counts its rings.
struct CountingBell(AtomicU64);
impl Bell for CountingBell {
    fn ring(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn share(&self, pid: ProcessId) -> Result<u64, k42_rt::Errno> {
        Ok(u64::from(pid.0) << 32 | 7)
    }
}

fn rings(b: &CountingBell) -> u64 {
    b.0.load(Ordering::Relaxed)
}

fn poll1(fs: &Ramfs, f: u64) -> (u32, u32) {
    let mut out = [0u8; 8];
    fs.poll(&f.to_le_bytes(), &mut out).unwrap();
    (
        u32::from_le_bytes(out[..4].try_into().unwrap()),
        u32::from_le_bytes(out[4..].try_into().unwrap()),
    )
}

#[test]
fn a_pipe_carries_bytes_and_ends_with_eof_or_epipe() {
    use k42_interfaces::pipe::*;
    static BELL: CountingBell = CountingBell(AtomicU64::new(0));
    let fs = fs().with_bell(&BELL);
    let open = fs.open_files();
    let (r, w) = fs.pipe(0).unwrap();
    assert_eq!(fs.open_files(), open + 2);
    assert_eq!(fs.fstat(r).unwrap().kind, kind::FIFO);
    let mut buf = [0u8; 16];
    assert_eq!(fs.read(r, AT_CURRENT, &mut buf), Err(k42_rt::Errno::EAGAIN));
    assert_eq!(fs.write(r, AT_CURRENT, b"x"), Err(k42_rt::Errno::EBADF));
    assert_eq!(fs.read(w, AT_CURRENT, &mut buf), Err(k42_rt::Errno::EBADF));
    assert_eq!(poll1(&fs, r).0 & !PEER, 0, "nothing to read");
    assert_eq!(poll1(&fs, w).0 & !PEER, POLLOUT);
    let before = rings(&BELL);
    assert_eq!(fs.write(w, AT_CURRENT, b"hello"), Ok(5));
    assert!(rings(&BELL) > before, "a write rings the doorbell");
    assert_eq!(poll1(&fs, r), (POLLIN | PEER, 5), "readable, 5 bytes");
    assert_eq!(fs.write(w, 0, b"x"), Err(k42_rt::Errno::ESPIPE));
    assert_eq!(fs.read(r, 0, &mut buf), Err(k42_rt::Errno::ESPIPE));
    assert_eq!(fs.seek(r, 0, SEEK_CUR), Err(k42_rt::Errno::ESPIPE));
    assert_eq!(fs.ftruncate(w, 0), Err(k42_rt::Errno::EINVAL));
    assert_eq!(fs.read(r, AT_CURRENT, &mut buf[..3]), Ok(3));
    assert_eq!(&buf[..3], b"hel");
    // Bytes in a pipe count against the budget while they wait.
    assert_eq!(fs.bytes(), 2);
    // The writer goes: what is left, then end of file and a hang-up.
    let before = rings(&BELL);
    fs.close(w).unwrap();
    assert!(rings(&BELL) > before, "a close rings the doorbell");
    assert_eq!(poll1(&fs, r).0 & (POLLIN | POLLHUP), POLLIN | POLLHUP);
    assert_eq!(fs.read(r, AT_CURRENT, &mut buf), Ok(2));
    assert_eq!(fs.read(r, AT_CURRENT, &mut buf), Ok(0));
    assert_eq!(poll1(&fs, r).0 & !PEER, POLLHUP);
    fs.close(r).unwrap();
    assert_eq!(poll1(&fs, r).0, POLLNVAL);
    assert_eq!((fs.open_files(), fs.bytes()), (open, 0), "all freed");
    // The reader goes: the writer gets EPIPE and POLLERR.
    let (r, w) = fs.pipe(O_NONBLOCK).unwrap();
    assert_eq!(fs.flags(w, 0, 0).unwrap() & O_NONBLOCK, O_NONBLOCK);
    fs.close(r).unwrap();
    assert_eq!(fs.write(w, AT_CURRENT, b"x"), Err(k42_rt::Errno::EPIPE));
    assert_eq!(poll1(&fs, w).0 & !PEER, POLLOUT | POLLERR, "as Linux");
    fs.close(w).unwrap();
    assert_eq!(fs.pipe(O_APPEND), Err(k42_rt::Errno::EINVAL));
    assert_eq!(fs.doorbell(ProcessId(9)), Ok(9 << 32 | 7));
    assert_eq!(
        Ramfs::new(1 << 20, tick).doorbell(ProcessId(9)),
        Err(k42_rt::Errno::ENOSYS)
    );
}

#[test]
fn a_full_pipe_takes_small_writes_whole_and_large_ones_in_part() {
    use k42_interfaces::pipe::*;
    let fs = Ramfs::new(1 << 20, tick);
    let (r, w) = fs.pipe(0).unwrap();
    let page = [7u8; PIPE_BUF];
    for _ in 0..CAPACITY / PIPE_BUF - 1 {
        assert_eq!(fs.write(w, AT_CURRENT, &page), Ok(PIPE_BUF as u32));
    }
    assert_eq!(fs.write(w, AT_CURRENT, &[1; 4000]), Ok(4000));
    assert_eq!(poll1(&fs, w).0 & POLLOUT, 0, "less than PIPE_BUF free");
    // 96 bytes free: a 100-byte write is all or nothing...
    assert_eq!(
        fs.write(w, AT_CURRENT, &[2; 100]),
        Err(k42_rt::Errno::EAGAIN)
    );
    // ... one larger than PIPE_BUF puts what fits.
    assert_eq!(fs.write(w, AT_CURRENT, &[3; 5000]), Ok(96));
    assert_eq!(
        fs.write(w, AT_CURRENT, &[3; 5000]),
        Err(k42_rt::Errno::EAGAIN)
    );
    let mut buf = [0u8; 4096];
    assert_eq!(fs.read(r, AT_CURRENT, &mut buf), Ok(4096));
    assert_eq!(poll1(&fs, w).0 & POLLOUT, POLLOUT);
    let mut total = 4096;
    loop {
        match fs.read(r, AT_CURRENT, &mut buf) {
            Ok(n) => total += n as usize,
            Err(e) => {
                assert_eq!(e, k42_rt::Errno::EAGAIN);
                break;
            }
        }
    }
    assert_eq!(total, CAPACITY);
    assert_eq!(&buf[..0], &[] as &[u8]);
}

#[test]
fn fifos_have_names_and_open_rules() {
    use k42_interfaces::pipe::*;
    let fs = fs();
    assert_eq!(fs.mknod("/p", 0o010_644), Ok(()));
    assert_eq!(fs.mknod("/p", 0o010_644), Err(k42_rt::Errno::EEXIST));
    assert_eq!(fs.mknod("/dev", 0o020_644), Err(k42_rt::Errno::EPERM));
    assert_eq!(fs.mknod("/reg", 0o644), Ok(()));
    assert_eq!(fs.stat("/reg").unwrap().kind, kind::FILE);
    let st = fs.stat("/p").unwrap();
    assert_eq!((st.kind, st.mode, st.size), (kind::FIFO, 0o644, 0));
    assert!(list(&fs, "/", 4096).contains(&("p".to_string(), kind::FIFO)));
    // A nonblocking writer without a reader: ENXIO.
    assert_eq!(
        fs.create("/p", O_WRONLY | O_NONBLOCK, 0),
        Err(k42_rt::Errno::ENXIO)
    );
    let r = fs.open("/p", O_RDONLY | O_NONBLOCK).unwrap();
    assert_eq!(poll1(&fs, r).0, 0, "no writer yet: no hang-up, no peer");
    let mut buf = [0u8; 8];
    assert_eq!(fs.read(r, AT_CURRENT, &mut buf), Ok(0), "no writer: EOF");
    let w = fs.create("/p", O_WRONLY | O_NONBLOCK, 0).unwrap();
    assert_eq!(poll1(&fs, r).0 & PEER, PEER, "the writer came");
    assert_eq!(poll1(&fs, w).0 & (PEER | POLLOUT), PEER | POLLOUT);
    assert_eq!(fs.write(w, AT_CURRENT, b"fifo"), Ok(4));
    assert_eq!(fs.read(r, AT_CURRENT, &mut buf), Ok(4));
    assert_eq!(&buf[..4], b"fifo");
    fs.close(w).unwrap();
    assert_eq!(poll1(&fs, r).0 & POLLHUP, POLLHUP);
    // A writer that opens first waits (in its library) for a reader.
    let w = fs.create("/p", O_WRONLY, 0).unwrap();
    assert_eq!(poll1(&fs, w).0 & PEER, PEER, "the old reader is still open");
    fs.close(r).unwrap();
    fs.close(w).unwrap();
    let w = fs.create("/p", O_WRONLY, 0).unwrap();
    assert_eq!(poll1(&fs, w).0 & PEER, 0);
    let r = fs.open("/p", O_RDONLY).unwrap();
    assert_eq!(poll1(&fs, w).0 & PEER, PEER);
    // O_RDWR never waits; unlink leaves the open ends working.
    let rw = fs.create("/p", O_RDWR, 0).unwrap();
    assert_eq!(poll1(&fs, rw).0 & PEER, PEER);
    fs.unlink("/p").unwrap();
    assert_eq!(fs.write(rw, AT_CURRENT, b"ab"), Ok(2));
    assert_eq!(fs.read(r, AT_CURRENT, &mut buf), Ok(2));
    assert_eq!(fs.truncate("/reg", 0), Ok(()));
    for f in [r, w, rw] {
        fs.close(f).unwrap();
    }
    assert_eq!(fs.bytes(), 0);
}

#[test]
fn pipes_through_the_stubs() {
    use k42_interfaces::pipe::*;
    let server = FileSystemServer(fs());
    let h = ObjectHandle::new(ProcessId(1), 0, 1);
    let grants = [(ProcessId(11), Rights(rights::READ | rights::WRITE))];
    let t = LoopbackTransport::new(&server, h, &grants, ProcessId(11));
    let c = FileSystemClient::new(&t, h);
    let (r, w) = c.pipe(0).unwrap().unwrap();
    assert_eq!(c.write(w, AT_CURRENT, b"abc"), Ok(Ok(3)));
    let mut files = [0u8; 24];
    files[..8].copy_from_slice(&r.to_le_bytes());
    files[8..16].copy_from_slice(&w.to_le_bytes());
    files[16..].copy_from_slice(&12345u64.to_le_bytes());
    let mut out = [0u8; 24];
    assert_eq!(c.poll(&files, &mut out), Ok(Ok(3)));
    let word = |i: usize| u32::from_le_bytes(out[i..i + 4].try_into().unwrap());
    assert_eq!((word(0) & POLLIN, word(4)), (POLLIN, 3));
    assert_eq!(word(8) & POLLOUT, POLLOUT);
    assert_eq!(word(16), POLLNVAL);
    assert_eq!(
        c.poll(&files, &mut out[..16]),
        Ok(Err(k42_rt::Errno::EINVAL))
    );
    assert_eq!(
        c.doorbell(),
        Ok(Err(k42_rt::Errno::ENOSYS)),
        "this one has no doorbell"
    );
}

/// A file that is mapped moves to the store; reads, writes, truncation
/// and the mappings then see one copy of its bytes.
#[test]
fn mapped_files_live_in_the_store() {
    use k42_interfaces::map;
    static STORE: MemStore = MemStore::new();
    let fs = fs().with_store(&STORE);
    let page: Vec<u8> = (0..8192u32).map(|i| b'a' + (i % 26) as u8).collect();
    let f = fs.create("/f", O_CREAT | O_RDWR, 0o644).unwrap();
    assert_eq!(fs.write(f, AT_CURRENT, &page), Ok(8192));
    let before = fs.bytes();
    let me = ProcessId(7);
    let rw = map::READ | map::WRITE;
    let (h, most) = fs.map(me, f, 0, 8192, rw).unwrap();
    assert_eq!(most, 7);
    let s = STORE.share_of(h).unwrap();
    assert_eq!((s.offset, s.len, s.pid, s.how), (0, 8192, 7, 7));
    assert_eq!(fs.bytes(), before, "the same bytes, counted once");
    // A second mapping shares the window.
    let (h2, _) = fs.map(me, f, 4096, 4096, map::READ | map::PRIVATE).unwrap();
    assert_eq!(STORE.share_of(h2).unwrap().window, s.window);
    assert_eq!(STORE.windows(), 1);
    assert_eq!(STORE.peek(s.window, 4096, 3).unwrap(), b"opq");
    // `write` lands in the window, a store into the window is read back.
    fs.write(f, 0, b"W").unwrap();
    assert_eq!(STORE.peek(s.window, 0, 2).unwrap(), b"Wb");
    STORE.write(s.window, 4096, b"S");
    let mut b = [0u8; 2];
    fs.read(f, 4096, &mut b).unwrap();
    assert_eq!(&b, b"Sp");
    // Truncation to half a page: the rest of that page reads zero, the
    // page after it is out of every mapping's reach.
    fs.ftruncate(f, 2048).unwrap();
    assert_eq!(STORE.reach(s.window), Some(4096));
    assert_eq!(STORE.peek(s.window, 2048, 4), Some(std::vec![0; 4]));
    assert_eq!(STORE.peek(s.window, 4096, 1), None);
    assert_eq!(fs.fstat(f).unwrap().size, 2048);
    assert_eq!(fs.bytes(), before - 8192 + 2048);
    // Growing again: zeros, within reach again.
    fs.write(f, 6000, b"end").unwrap();
    assert_eq!(STORE.reach(s.window), Some(8192));
    fs.read(f, 4096, &mut b).unwrap();
    assert_eq!(b, [0, 0]);
    // Writes through a mapping past the end, in the end's page, are not
    // the file's once it grows.
    STORE.write(s.window, 6003, b"junk");
    fs.ftruncate(f, 7000).unwrap();
    let mut t = [0u8; 7];
    fs.read(f, 6000, &mut t).unwrap();
    assert_eq!(&t, b"end\0\0\0\0");
    // The window goes with the file.
    fs.unlink("/f").unwrap();
    assert_eq!(STORE.windows(), 1, "open: still there");
    fs.close(f).unwrap();
    assert_eq!(STORE.windows(), 0);
}

#[test]
fn map_refusals_as_linux() {
    use k42_interfaces::map;
    static STORE: MemStore = MemStore::new();
    let fs = fs().with_store(&STORE);
    put(&fs, "/f", b"data");
    let me = ProcessId(7);
    let wo = fs.create("/f", O_WRONLY, 0).unwrap();
    let ro = fs.open("/f", O_RDONLY).unwrap();
    let rw = fs.create("/f", O_RDWR, 0).unwrap();
    let r = map::READ;
    assert_eq!(fs.map(me, wo, 0, 4096, r), Err(Errno::EACCES));
    assert_eq!(fs.map(me, ro, 0, 4096, map::WRITE), Err(Errno::EACCES));
    let private_write = map::READ | map::WRITE | map::PRIVATE;
    assert_eq!(fs.map(me, ro, 0, 4096, private_write).map(|r| r.1), Ok(7));
    assert_eq!(
        fs.map(me, ro, 0, 4096, map::READ).map(|r| r.1),
        Ok(map::READ | map::EXEC),
        "shared, read only: mprotect may not add PROT_WRITE"
    );
    assert!(fs.map(me, rw, 0, 4096, map::READ | map::WRITE).is_ok());
    assert_eq!(fs.map(me, ro, 1, 4096, r), Err(Errno::EINVAL));
    assert_eq!(fs.map(me, ro, 0, 0, r), Err(Errno::EINVAL));
    assert_eq!(
        fs.map(me, ro, 0, map::MAX_LEN + 4096, r),
        Err(Errno::EINVAL)
    );
    assert_eq!(fs.map(me, ro, 0, 4096, 0x100), Err(Errno::EINVAL));
    let d = fs.open("/", O_RDONLY | O_DIRECTORY).unwrap();
    assert_eq!(fs.map(me, d, 0, 4096, r), Err(Errno::ENODEV));
    let (pr, _pw) = fs.pipe(0).unwrap();
    assert_eq!(fs.map(me, pr, 0, 4096, r), Err(Errno::ENODEV));
    assert_eq!(fs.map(me, 12345, 0, 4096, r), Err(Errno::EBADF));
    // Without a store: ENOSYS.
    let plain = super::tests::fs();
    put(&plain, "/g", b"x");
    let g = plain.open("/g", O_RDONLY).unwrap();
    assert_eq!(plain.map(me, g, 0, 4096, r), Err(Errno::ENOSYS));
}

/// Through the stubs: the caller's id reaches the store.
#[test]
fn map_through_the_stubs() {
    use k42_interfaces::map;
    static STORE: MemStore = MemStore::new();
    let server = FileSystemServer(fs().with_store(&STORE));
    let h = ObjectHandle::new(ProcessId(1), 0, 1);
    let grants = [(ProcessId(9), Rights(rights::READ | rights::WRITE))];
    let t = LoopbackTransport::new(&server, h, &grants, ProcessId(9));
    let c = FileSystemClient::new(&t, h);
    let f = c.create("/m", O_CREAT | O_RDWR, 0o600).unwrap().unwrap();
    c.write(f, AT_CURRENT, b"xyz").unwrap().unwrap();
    let (handle, _) = c.map(f, 0, 4096, map::READ).unwrap().unwrap();
    let s = STORE.share_of(handle).unwrap();
    assert_eq!(s.pid, 9);
    assert_eq!(STORE.peek(s.window, 0, 3).unwrap(), b"xyz");
}

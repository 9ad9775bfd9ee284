//! Host tests of the tree, directly and through the generated PPC stubs.

use super::*;
use k42_interfaces::flags::{O_RDWR, O_WRONLY};
use k42_interfaces::{FileSystemClient, FileSystemServer};
use ppc_idl::{LoopbackTransport, ObjectHandle, PpcError, Rights};

const ME: ProcessId = ProcessId(7);
const OTHER: ProcessId = ProcessId(8);

fn fs() -> Ramfs {
    Ramfs::new(1 << 20)
}

fn names(fs: &Ramfs, dir: &str) -> std::vec::Vec<std::string::String> {
    let mut buf = [0u8; 4096];
    let (_, len) = fs.readdir(dir, 0, &mut buf).unwrap();
    dirent::iter(&buf[..len as usize])
        .map(|(_, n)| n.into())
        .collect()
}

#[test]
fn create_write_read_back_and_append() {
    let fs = fs();
    let fd = fs.create(ME, "/a", O_CREAT | O_RDWR, 0o600).unwrap();
    assert_eq!(fs.write(ME, fd, 4, b"xyz"), Ok(3));
    let mut buf = [9u8; 10];
    assert_eq!(fs.read(ME, fd, 0, &mut buf), Ok(7));
    assert_eq!(&buf[..7], b"\0\0\0\0xyz", "a hole reads as zeros");
    assert_eq!(fs.read(ME, fd, 100, &mut buf), Ok(0));
    assert_eq!(fs.write(ME, fd, 100, b""), Ok(0));
    assert_eq!(
        fs.fstat(ME, fd).unwrap().size,
        7,
        "an empty write does not grow the file"
    );
    let ap = fs.create(ME, "/a", O_WRONLY | O_APPEND, 0).unwrap();
    assert_eq!(fs.write(ME, ap, 0, b"!"), Ok(1));
    assert_eq!(
        fs.stat("/a").map(|s| (s.size, s.kind, s.mode)),
        Ok((8, kind::FILE, 0o600))
    );
    assert_eq!(fs.fstat(ME, fd).unwrap().size, 8);
    assert_eq!(
        fs.create(ME, "/a", O_CREAT | O_EXCL | O_RDWR, 0),
        Err(Errno::EEXIST)
    );
    let tr = fs.create(ME, "/a", O_TRUNC | O_WRONLY, 0).unwrap();
    assert_eq!(fs.fstat(ME, tr).unwrap().size, 0);
    assert_eq!(fs.bytes(), 0);
}

#[test]
fn fds_are_per_process_and_bad_ones_fail() {
    let fs = fs();
    let fd = fs.create(ME, "/f", O_CREAT | O_RDWR, 0o644).unwrap();
    let mut b = [0u8; 4];
    assert_eq!(fs.read(OTHER, fd, 0, &mut b), Err(Errno::EBADF));
    assert_eq!(fs.write(ME, 99, 0, b"x"), Err(Errno::EBADF));
    let ro = fs.open(ME, "/f", O_RDONLY).unwrap();
    assert_ne!(ro, fd);
    assert_eq!(fs.write(ME, ro, 0, b"x"), Err(Errno::EBADF), "read-only fd");
    assert_eq!(fs.close(ME, ro), Ok(()));
    assert_eq!(fs.close(ME, ro), Err(Errno::EBADF));
    assert_eq!(
        fs.open(ME, "/f", O_RDWR),
        Err(Errno::EINVAL),
        "open is read-only"
    );
    assert_eq!(fs.open(ME, "/f", O_DIRECTORY), Err(Errno::ENOTDIR));
    // The lowest free fd is reused.
    assert_eq!(fs.open(ME, "/f", O_RDONLY), Ok(ro));
}

#[test]
fn too_many_open_files_is_emfile() {
    let fs = fs();
    fs.create(ME, "/f", O_CREAT | O_RDWR, 0).unwrap();
    for _ in 1..MAX_OPEN {
        fs.open(ME, "/f", O_RDONLY).unwrap();
    }
    assert_eq!(fs.open(ME, "/f", O_RDONLY), Err(Errno::EMFILE));
    assert!(fs.open(OTHER, "/f", O_RDONLY).is_ok(), "per process");
}

#[test]
fn directories_list_rename_and_remove() {
    let fs = fs();
    assert_eq!(fs.mkdir("/d", 0o755), Ok(()));
    assert_eq!(fs.mkdir("/d", 0o755), Err(Errno::EEXIST));
    assert_eq!(fs.mkdir("/d/e", 0o755), Ok(()));
    let fd = fs.create(ME, "/d/f", O_CREAT | O_WRONLY, 0o644).unwrap();
    fs.close(ME, fd).unwrap();
    assert_eq!(names(&fs, "/d"), ["e", "f"]);
    assert_eq!(fs.stat("/d/e/../f").unwrap().kind, kind::FILE);
    assert_eq!(fs.stat("/d/f/x"), Err(Errno::ENOTDIR));
    assert_eq!(fs.rmdir("/d"), Err(Errno::ENOTEMPTY));
    assert_eq!(fs.rename("/d", "/d/e/inside"), Err(Errno::EINVAL));
    assert_eq!(fs.rename("/d/f", "/g"), Ok(()));
    assert_eq!(fs.rename("/g", "/d"), Err(Errno::EISDIR));
    assert_eq!(fs.rename("/d", "/g"), Err(Errno::ENOTDIR));
    assert_eq!(fs.rename("/d", "/d2"), Ok(()));
    assert_eq!(names(&fs, "/"), ["d2", "g"]);
    assert_eq!(fs.stat("/d2/e/..").unwrap().kind, kind::DIR);
    assert_eq!(fs.unlink("/d2/e"), Err(Errno::EISDIR));
    assert_eq!(fs.rmdir("/d2/e"), Ok(()));
    assert_eq!(fs.rmdir("/d2"), Ok(()));
    assert_eq!(fs.rmdir("/"), Err(Errno::EBUSY));
    assert_eq!(fs.unlink("/g"), Ok(()));
    assert_eq!(fs.unlink("/g"), Err(Errno::ENOENT));
    assert!(names(&fs, "/").is_empty());
}

#[test]
fn readdir_pages_through_a_small_buffer() {
    let fs = fs();
    for i in 0..10 {
        fs.mkdir(&std::format!("/dir{i}"), 0o755).unwrap();
    }
    let mut all = std::vec::Vec::new();
    let mut start = 0;
    loop {
        let mut buf = [0u8; 14]; // two entries of 6 bytes
        let (n, len) = fs.readdir("/", start, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(n <= 2);
        all.extend(dirent::iter(&buf[..len as usize]).map(|(_, s)| std::string::String::from(s)));
        start += n;
    }
    assert_eq!(all.len(), 10);
    assert_eq!(all[9], "dir9");
}

#[test]
fn an_unlinked_open_file_lives_until_closed() {
    let fs = fs();
    let fd = fs.create(ME, "/tmp", O_CREAT | O_RDWR, 0).unwrap();
    fs.write(ME, fd, 0, b"still here").unwrap();
    fs.unlink("/tmp").unwrap();
    assert_eq!(fs.stat("/tmp"), Err(Errno::ENOENT));
    let mut b = [0u8; 10];
    assert_eq!(fs.read(ME, fd, 0, &mut b), Ok(10));
    assert_eq!(fs.bytes(), 10);
    fs.close(ME, fd).unwrap();
    assert_eq!(fs.bytes(), 0, "freed at the last close");
}

#[test]
fn limits_are_errors_not_panics() {
    let fs = Ramfs::new(100);
    let fd = fs.create(ME, "/f", O_CREAT | O_RDWR, 0).unwrap();
    assert_eq!(fs.write(ME, fd, 0, &[1; 101]), Err(Errno::ENOSPC));
    assert_eq!(fs.write(ME, fd, 0, &[1; 100]), Ok(100));
    assert_eq!(fs.write(ME, fd, MAX_FILE, b"x"), Err(Errno::EFBIG));
    assert_eq!(fs.write(ME, fd, u64::MAX, b"x"), Err(Errno::EFBIG));
    let long = std::format!("/{}", "n".repeat(FILE_NAME_MAX + 1));
    assert_eq!(fs.mkdir(&long, 0), Err(Errno::ENAMETOOLONG));
    assert_eq!(fs.stat(&long), Err(Errno::ENAMETOOLONG));
    let deep = "/a".repeat(PATH_MAX);
    assert_eq!(fs.stat(&deep), Err(Errno::ENAMETOOLONG));
    for bad in ["", "relative", "/", "/.", "/x/.."] {
        assert!(fs.mkdir(bad, 0).is_err(), "{bad:?}");
    }
    assert_eq!(
        fs.create(ME, "/nope/f", O_CREAT | O_RDWR, 0),
        Err(Errno::ENOENT)
    );
    assert_eq!(fs.create(ME, "/f", O_ACCMODE, 0), Err(Errno::EINVAL));
}

#[test]
fn through_ppc_a_reader_cannot_write() {
    let server = FileSystemServer(fs());
    let h = ObjectHandle::new(ProcessId(1), 0, 1);
    let grants = [
        (ME, Rights(rights::READ | rights::WRITE)),
        (OTHER, Rights(rights::READ)),
    ];
    let tw = LoopbackTransport::new(&server, h, &grants, ME);
    let tr = tw.as_caller(OTHER);
    let w = FileSystemClient::new(&tw, h);
    let r = FileSystemClient::new(&tr, h);
    let fd = w
        .create("/shared", O_CREAT | O_RDWR, 0o644)
        .unwrap()
        .unwrap();
    assert_eq!(w.write(fd, 0, &[b'k'; 4000]), Ok(Ok(4000)));
    let rfd = r.open("/shared", O_RDONLY).unwrap().unwrap();
    let mut buf = [0u8; 4096];
    assert_eq!(r.read(rfd, 0, &mut buf), Ok(Ok(4000)));
    assert!(buf[..4000].iter().all(|&b| b == b'k'));
    assert_eq!(r.write(rfd, 0, b"x"), Err(PpcError::NoRights));
    assert_eq!(r.unlink("/shared"), Err(PpcError::NoRights));
    let fd2 = w.open("/shared", O_RDONLY).unwrap().unwrap();
    assert_eq!((fd, rfd, fd2), (0, 0, 1));
    assert_eq!(
        r.read(fd2, 0, &mut buf),
        Ok(Err(Errno::EBADF)),
        "the writer's fd 1 is not the reader's"
    );
}

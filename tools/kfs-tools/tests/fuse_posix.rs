//! Mounts KFS with FUSE and runs a POSIX scenario suite through the kernel:
//! create, rename, unlink, link, symlink, chmod, truncate, large sparse
//! files, many files in one directory. Then unmounts, checks the image with
//! `fsck-kfs` and remounts to verify that everything was written back.
//!
//! Needs `/dev/fuse` and `fusermount3` (Debian package `fuse3`); where they
//! are missing the tests print why and pass without running.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn fuse_missing() -> Option<&'static str> {
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse is missing");
    }
    if Command::new("fusermount3").arg("-V").output().is_err() {
        return Some("fusermount3 is not installed (apt-get install fuse3)");
    }
    None
}

macro_rules! need_fuse {
    () => {
        if let Some(why) = fuse_missing() {
            eprintln!("SKIPPED: FUSE integration test not run: {why}");
            return;
        }
    };
}

fn is_mounted(mp: &Path) -> bool {
    let canon = mp.canonicalize().unwrap();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == canon.to_str())
}

struct Mount {
    dir: PathBuf,
    image: PathBuf,
    mnt: PathBuf,
    server: Option<Child>,
}

impl Mount {
    fn new(tag: &str, size: &str) -> Mount {
        let dir = std::env::temp_dir().join(format!("kfs-fuse-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("mnt")).unwrap();
        let image = dir.join("image");
        let st = Command::new(env!("CARGO_BIN_EXE_mkfs-kfs"))
            .arg("-s")
            .arg(size)
            .arg(&image)
            .output()
            .unwrap()
            .status;
        assert!(st.success());
        Mount {
            mnt: dir.join("mnt"),
            dir,
            image,
            server: None,
        }
    }

    fn mount(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_kfs-fuse"))
            .arg("-f")
            .arg(&self.image)
            .arg(&self.mnt)
            .spawn()
            .unwrap();
        self.server = Some(child);
        let t = Instant::now();
        while !is_mounted(&self.mnt) {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "mount did not come up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn unmount(&mut self) {
        let st = Command::new("fusermount3")
            .arg("-u")
            .arg(&self.mnt)
            .status()
            .unwrap();
        assert!(st.success(), "fusermount3 -u failed");
        let st = self.server.take().unwrap().wait().unwrap();
        assert!(st.success(), "kfs-fuse exited with {st}");
    }

    fn fsck(&self) -> i32 {
        let out = Command::new(env!("CARGO_BIN_EXE_fsck-kfs"))
            .arg(&self.image)
            .output()
            .unwrap();
        print!("{}", String::from_utf8_lossy(&out.stdout));
        out.status.code().unwrap()
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if self.server.is_some() {
            let _ = Command::new("fusermount3")
                .arg("-u")
                .arg(&self.mnt)
                .status();
            if let Some(mut c) = self.server.take() {
                let _ = c.wait();
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn posix_scenarios_through_the_kernel() {
    need_fuse!();
    let mut m = Mount::new("posix", "256M");
    m.mount();

    // create, write, read back
    fs::write(m.p("hello.txt"), b"hello, K42\n").unwrap();
    assert_eq!(fs::read(m.p("hello.txt")).unwrap(), b"hello, K42\n");
    fs::create_dir(m.p("dir")).unwrap();
    fs::create_dir(m.p("dir/sub")).unwrap();
    assert_eq!(fs::metadata(m.p("dir")).unwrap().nlink(), 3);

    // rename: file, over an existing file, a directory; and into itself fails
    fs::write(m.p("dir/old"), b"1").unwrap();
    fs::rename(m.p("dir/old"), m.p("dir/new")).unwrap();
    assert!(!m.p("dir/old").exists());
    fs::write(m.p("victim"), b"2").unwrap();
    fs::rename(m.p("dir/new"), m.p("victim")).unwrap();
    assert_eq!(fs::read(m.p("victim")).unwrap(), b"1");
    fs::rename(m.p("dir/sub"), m.p("sub2")).unwrap();
    assert_eq!(fs::metadata(m.p("dir")).unwrap().nlink(), 2);
    assert_eq!(
        fs::rename(m.p("dir"), m.p("dir/inside"))
            .unwrap_err()
            .raw_os_error(),
        Some(22)
    );

    // hard links and unlink
    fs::hard_link(m.p("hello.txt"), m.p("dir/link")).unwrap();
    assert_eq!(fs::metadata(m.p("hello.txt")).unwrap().nlink(), 2);
    assert_eq!(
        fs::metadata(m.p("hello.txt")).unwrap().ino(),
        fs::metadata(m.p("dir/link")).unwrap().ino()
    );
    fs::remove_file(m.p("hello.txt")).unwrap();
    assert_eq!(fs::read(m.p("dir/link")).unwrap(), b"hello, K42\n");
    assert_eq!(fs::metadata(m.p("dir/link")).unwrap().nlink(), 1);
    assert_eq!(
        fs::remove_dir(m.p("dir")).unwrap_err().raw_os_error(),
        Some(39)
    ); // ENOTEMPTY

    // symlinks
    std::os::unix::fs::symlink("dir/link", m.p("sym")).unwrap();
    assert_eq!(fs::read_link(m.p("sym")).unwrap(), Path::new("dir/link"));
    assert_eq!(fs::read(m.p("sym")).unwrap(), b"hello, K42\n");
    assert!(fs::symlink_metadata(m.p("sym"))
        .unwrap()
        .file_type()
        .is_symlink());

    // chmod
    fs::set_permissions(m.p("victim"), fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(fs::metadata(m.p("victim")).unwrap().mode() & 0o7777, 0o640);

    // chown and timestamps with nanoseconds
    std::os::unix::fs::chown(m.p("victim"), Some(1234), Some(5678)).unwrap();
    let when = std::time::UNIX_EPOCH + Duration::new(1_234_567_890, 123_456_789);
    fs::File::options()
        .write(true)
        .open(m.p("victim"))
        .unwrap()
        .set_modified(when)
        .unwrap();
    let md = fs::metadata(m.p("victim")).unwrap();
    assert_eq!((md.uid(), md.gid()), (1234, 5678));
    assert_eq!((md.mtime(), md.mtime_nsec()), (1_234_567_890, 123_456_789));

    // truncate down and up: the cut-off bytes read back as zeros
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(m.p("trunc"), &data).unwrap();
    let f = fs::OpenOptions::new()
        .write(true)
        .open(m.p("trunc"))
        .unwrap();
    f.set_len(5000).unwrap();
    f.set_len(20_000).unwrap();
    drop(f);
    let got = fs::read(m.p("trunc")).unwrap();
    assert_eq!(&got[..5000], &data[..5000]);
    assert!(got[5000..].iter().all(|&b| b == 0));

    // large sparse file
    let mut f = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(m.p("sparse"))
        .unwrap();
    f.seek(SeekFrom::Start(50 << 30)).unwrap();
    f.write_all(b"far away").unwrap();
    f.sync_all().unwrap();
    let md = f.metadata().unwrap();
    assert_eq!(md.len(), (50 << 30) + 8);
    assert!(
        md.blocks() < 64,
        "sparse file allocated {} sectors",
        md.blocks()
    );
    let mut buf = [1u8; 16];
    f.seek(SeekFrom::Start(1 << 30)).unwrap();
    f.read_exact(&mut buf).unwrap();
    assert_eq!(buf, [0; 16]);
    drop(f);

    // many files in one directory
    fs::create_dir(m.p("many")).unwrap();
    for i in 0..3000 {
        fs::write(m.p(&format!("many/file-{i}")), i.to_string()).unwrap();
    }
    assert_eq!(fs::read_dir(m.p("many")).unwrap().count(), 3000);
    assert_eq!(fs::read_to_string(m.p("many/file-2718")).unwrap(), "2718");
    for i in (0..3000).step_by(2) {
        fs::remove_file(m.p(&format!("many/file-{i}"))).unwrap();
    }
    assert_eq!(fs::read_dir(m.p("many")).unwrap().count(), 1500);

    // a bigger file through the kernel's page cache
    let big: Vec<u8> = (0..(8u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    fs::write(m.p("big"), &big).unwrap();

    m.unmount();
    assert_eq!(m.fsck(), 0, "fsck after a clean unmount");

    m.mount();
    assert_eq!(fs::read(m.p("big")).unwrap(), big);
    assert_eq!(fs::read(m.p("victim")).unwrap(), b"1");
    assert_eq!(fs::read_link(m.p("sym")).unwrap(), Path::new("dir/link"));
    assert_eq!(fs::read_dir(m.p("many")).unwrap().count(), 1500);
    assert_eq!(fs::metadata(m.p("sparse")).unwrap().len(), (50 << 30) + 8);
    let md = fs::metadata(m.p("victim")).unwrap();
    assert_eq!(md.mode() & 0o7777, 0o640);
    assert_eq!(
        (md.uid(), md.mtime(), md.mtime_nsec()),
        (1234, 1_234_567_890, 123_456_789)
    );
    m.unmount();
    assert_eq!(m.fsck(), 0);
}

#[test]
fn background_mount_and_corrupt_image_refusal() {
    need_fuse!();
    let m = Mount::new("bg", "16M");
    // Background mode returns once the mount is live.
    let st = Command::new(env!("CARGO_BIN_EXE_kfs-fuse"))
        .arg(&m.image)
        .arg(&m.mnt)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(is_mounted(&m.mnt));
    fs::write(m.p("x"), b"y").unwrap();
    assert!(Command::new("fusermount3")
        .arg("-u")
        .arg(&m.mnt)
        .status()
        .unwrap()
        .success());

    // Damage both superblocks of a fresh image: mount must refuse and say why.
    let m = Mount::new("bad", "16M");
    let mut img = fs::read(&m.image).unwrap();
    img[..8192].fill(0xAB);
    fs::write(&m.image, &img).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kfs-fuse"))
        .arg("-f")
        .arg(&m.image)
        .arg(&m.mnt)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no valid superblock") && err.contains("bad magic"),
        "{err}"
    );
    assert_eq!(m.fsck(), 4);
}

#[test]
fn periodic_commit_survives_a_killed_server() {
    need_fuse!();
    let mut m = Mount::new("commit", "32M");
    let child = Command::new(env!("CARGO_BIN_EXE_kfs-fuse"))
        .args(["-f", "-o", "commit=1"])
        .arg(&m.image)
        .arg(&m.mnt)
        .spawn()
        .unwrap();
    m.server = Some(child);
    let t = Instant::now();
    while !is_mounted(&m.mnt) {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "mount did not come up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    fs::create_dir(m.p("kept")).unwrap();
    fs::write(m.p("kept/data"), b"written, never fsync'd").unwrap();
    std::thread::sleep(Duration::from_millis(2500)); // > one commit interval
                                                     // Power cut: the server dies without unmounting or writing anything back.
    let mut c = m.server.take().unwrap();
    c.kill().unwrap();
    c.wait().unwrap();
    let _ = Command::new("fusermount3")
        .args(["-u", "-z"])
        .arg(&m.mnt)
        .status();
    assert_eq!(m.fsck(), 0, "fsck after a killed server");
    m.mount();
    assert_eq!(
        fs::read(m.p("kept/data")).unwrap(),
        b"written, never fsync'd"
    );
    m.unmount();
}

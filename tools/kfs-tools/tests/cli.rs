//! The command-line tools without FUSE: mkfs-kfs, fsck-kfs exit codes
//! (e2fsck's: 0 clean, 1 corrected, 4 uncorrected, 8 operational, 16
//! usage) and kfs-dump.

use kfs::{BlockDevice, FileDevice, Fs, Options};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tool(name: &str) -> Command {
    Command::new(match name {
        "mkfs" => env!("CARGO_BIN_EXE_mkfs-kfs"),
        "fsck" => env!("CARGO_BIN_EXE_fsck-kfs"),
        _ => env!("CARGO_BIN_EXE_kfs-dump"),
    })
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn image(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("kfs-cli-{tag}-{}.img", std::process::id()));
    let o = tool("mkfs")
        .args(["-L", "test", "-s", "8M"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    p
}

/// Adds a file through the library, then breaks its link count on disk.
fn populate_and_break_nlink(p: &Path) {
    let dev = FileDevice::open(p, true).unwrap();
    let mut fs = Fs::mount(dev, Options::deterministic()).unwrap();
    let f = fs.create(fs.root(), b"file", 0o644, 0, 0, 0).unwrap().id;
    fs.write(f, 0, b"contents").unwrap();
    let mut dev = fs.unmount().unwrap();
    // Two unchanged checkpoints, so the damage is not mistaken for an
    // interrupted commit.
    for _ in 0..2 {
        let fs = Fs::mount(&mut dev, Options::deterministic()).unwrap();
        fs.unmount().unwrap();
    }
    let sb = kfs::read_superblock(&mut dev).unwrap();
    let mut buf = vec![0u8; kfs::BLOCK_SIZE];
    dev.read_block(sb.index[0], &mut buf).unwrap();
    let rb = u64::from_le_bytes(buf[0..8].try_into().unwrap());
    dev.read_block(rb, &mut buf).unwrap();
    let o = f as usize * 256 + 16; // nlink
    buf[o..o + 4].copy_from_slice(&9u32.to_le_bytes());
    dev.write_block(rb, &buf).unwrap();
}

#[test]
fn fsck_exit_codes_follow_e2fsck() {
    let p = image("fsck");
    let o = tool("fsck").arg(&p).output().unwrap();
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stdout));

    populate_and_break_nlink(&p);
    let o = tool("fsck").arg("-n").arg(&p).output().unwrap();
    assert_eq!(code(&o), 4);
    assert!(String::from_utf8_lossy(&o.stdout).contains("link count 9 should be 1"));
    let o = tool("fsck").arg("-y").arg(&p).output().unwrap();
    assert_eq!(code(&o), 1, "{}", String::from_utf8_lossy(&o.stdout));
    let o = tool("fsck").arg(&p).output().unwrap();
    assert_eq!(code(&o), 0);

    let o = tool("fsck").arg("--bogus").arg(&p).output().unwrap();
    assert_eq!(code(&o), 16);
    let o = tool("fsck").arg("/nonexistent/kfs.img").output().unwrap();
    assert_eq!(code(&o), 8);

    // An image that is not KFS at all: uncorrectable, and the message says why.
    std::fs::write(&p, vec![0x55u8; 1 << 20]).unwrap();
    let o = tool("fsck").arg(&p).output().unwrap();
    assert_eq!(code(&o), 4);
    assert!(String::from_utf8_lossy(&o.stdout).contains("bad magic"));
    let _ = std::fs::remove_file(&p);
}

#[test]
fn dump_shows_superblock_records_and_tree() {
    let p = image("dump");
    populate_and_break_nlink(&p);
    let o = tool("dump").args(["-r", "-t"]).arg(&p).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("superblock: checkpoint"), "{out}");
    assert!(out.contains("label            \"test\""), "{out}");
    assert!(out.contains("file [id 2, small, 8 bytes]"), "{out}");
    let o = tool("dump").args(["-o", "2"]).arg(&p).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("layout small: 0 metadata blocks") && out.contains("blocks 0..1 -> "),
        "{out}"
    );
    let o = tool("mkfs").arg("-s").arg("12Q").arg(&p).output().unwrap();
    assert!(!o.status.success());
    let _ = std::fs::remove_file(&p);
}

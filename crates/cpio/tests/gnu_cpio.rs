//! Interoperability with GNU cpio (Debian package `cpio`): it must list and
//! extract what [`cpio::Writer`] builds, and [`cpio::Reader`] must read what
//! it builds. Skipped, with a note, where `cpio` is not installed; booting
//! Linux on a Writer-built initramfs (`cargo xtask difftest`) is the other
//! check.

use cpio::{Kind, Reader, Writer};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn have_cpio() -> bool {
    let ok = Command::new("cpio")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("note: GNU cpio is not installed (apt-get install cpio); skipping");
    }
    ok
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cpio-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_cpio(args: &[&str], dir: &std::path::Path, input: &[u8]) -> std::process::Output {
    let mut child = Command::new("cpio")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn gnu_cpio_lists_and_extracts_our_archive() {
    if !have_cpio() {
        return;
    }
    let mut w = Writer::new();
    w.mtime = 1_000_000_000;
    w.dir("bin", 0o755).unwrap();
    w.file("bin/prog", 0o751, b"odd length!").unwrap();
    w.symlink("bin/alias", "prog").unwrap();
    w.dir("etc", 0o700).unwrap();
    w.file("etc/empty", 0o600, b"").unwrap();
    let a = w.finish();

    let dir = scratch("extract");
    let out = run_cpio(&["-t"], &dir, &a);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        ["bin", "bin/prog", "bin/alias", "etc", "etc/empty"]
    );

    let out = run_cpio(&["-i", "-d", "-m", "--quiet"], &dir, &a);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let prog = std::fs::metadata(dir.join("bin/prog")).unwrap();
    assert_eq!(prog.permissions().mode() & 0o7777, 0o751);
    assert_eq!(prog.mtime(), 1_000_000_000);
    assert_eq!(std::fs::read(dir.join("bin/prog")).unwrap(), b"odd length!");
    assert_eq!(
        std::fs::read_link(dir.join("bin/alias")).unwrap(),
        PathBuf::from("prog")
    );
    assert_eq!(std::fs::read(dir.join("etc/empty")).unwrap(), b"");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn we_read_gnu_cpio_archives() {
    if !have_cpio() {
        return;
    }
    let dir = scratch("create");
    std::fs::create_dir(dir.join("d")).unwrap();
    std::fs::write(dir.join("d/f"), b"hello\n").unwrap();
    std::os::unix::fs::symlink("f", dir.join("d/l")).unwrap();
    std::fs::hard_link(dir.join("d/f"), dir.join("d/h")).unwrap();
    let out = run_cpio(
        &["-o", "-H", "newc", "--quiet"],
        &dir,
        b"d\nd/f\nd/l\nd/h\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = out.stdout;
    let e: Vec<_> = Reader::new(&a).collect::<Result<_, _>>().unwrap();
    let mut names: Vec<_> = e.iter().map(|e| e.name).collect();
    names.sort();
    // GNU cpio writes hard-linked files last, so compare sorted.
    assert_eq!(names, ["d", "d/f", "d/h", "d/l"]);
    let get = |n: &str| e.iter().find(|e| e.name == n).unwrap();
    assert_eq!(get("d").kind(), Kind::Dir);
    assert_eq!(get("d/l").kind(), Kind::Symlink);
    assert_eq!(get("d/l").data, b"f");
    assert_eq!(get("d/f").nlink, 2);
    assert_eq!(get("d/f").ino, get("d/h").ino);
    // Hard links: GNU cpio keeps the data with the last link; find()
    // gives it to both.
    assert_eq!(cpio::find(&a, "d/f").unwrap().unwrap().data, b"hello\n");
    assert_eq!(cpio::find(&a, "d/h").unwrap().unwrap().data, b"hello\n");
    let _ = std::fs::remove_dir_all(&dir);
}

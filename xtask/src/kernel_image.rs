//! Building the kernel image: `cargo build` for `x86_64-unknown-none`,
//! then the symbol table written into the image's `.ksyms` section.
//!
//! QEMU loads only the image's segments, so the kernel cannot read its own
//! ELF symbol table. After linking we collect the function symbols,
//! demangle them, encode them in the `ksyms` format and write them into the
//! zero-filled `.ksyms` section the kernel reserved. The result is
//! `target/k42/kernel-{debug,release}.elf`; exception reports and panics
//! then print backtraces with names.
//!
//! Beside it goes `initramfs.cpio`: the user programs (the servers, the
//! system library, the native and Linux test programs), built as static
//! executables, and Debian's static busybox with its applet links and an
//! `/init` that starts its shell, packed with the `cpio` crate; every QEMU
//! run passes it as `-initrd`.

use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the kernel and returns the path of the finished image.
pub fn build(release: bool) -> Result<PathBuf, String> {
    crate::prereq::ensure_kernel_target()?;
    let profile = if release { "release" } else { "debug" };
    crate::step(format!(
        "building the kernel ({profile}, x86_64-unknown-none)"
    ));
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(crate::root()).args([
        "build",
        "--package",
        "kernel",
        "--target",
        "x86_64-unknown-none",
    ]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("the kernel did not build (see the errors above)".into());
    }
    let built = crate::target_dir()
        .join("x86_64-unknown-none")
        .join(profile)
        .join("kernel");
    let out_dir = crate::target_dir().join("k42");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let out = out_dir.join(format!("kernel-{profile}.elf"));
    let mut image = std::fs::read(&built).map_err(|e| format!("{}: {e}", built.display()))?;
    let count = embed_symbols(&mut image)?;
    std::fs::write(&out, &image).map_err(|e| format!("{}: {e}", out.display()))?;
    crate::step(format!("embedded {count} symbols into {}", out.display()));
    build_initramfs(&out_dir, release)?;
    Ok(out)
}

/// The user programs put into the initramfs: (cargo package, path in the
/// archive).
const USER_PROGRAMS: &[(&str, &str)] = &[
    ("native-tests", "bin/native-tests"),
    ("name-server", "bin/name-server"),
    ("console-server", "bin/console-server"),
    ("ramfs", "bin/ramfs"),
    ("server-tests", "bin/server-tests"),
    ("k42-syslib", "lib/k42-syslib"),
];

/// Linux programs (C, built with `musl-gcc -static`) for the kernel's
/// `linux_tests`: (source, path in the archive). A source that is not a
/// `.c` file (a `#!` script, a file that is no program) goes in as it is,
/// executable; `-> target` makes a symbolic link to `target`.
const LINUX_PROGRAMS: &[(&str, &str)] = &[
    ("tests/linux-hello/hello.c", "bin/linux-hello"),
    ("tests/linux-hello/args.c", "bin/linux-args"),
    ("tests/linux-hello/malloc.c", "bin/linux-malloc"),
    ("tests/linux-hello/writev.c", "bin/linux-writev"),
    ("tests/linux-hello/calls.c", "bin/linux-calls"),
    ("tests/linux-hello/fork.c", "bin/linux-fork"),
    ("tests/linux-hello/files.c", "bin/linux-files"),
    ("tests/linux-hello/stdin.c", "bin/linux-stdin"),
    ("tests/linux-hello/fuzz.c", "bin/linux-fuzz"),
    ("tests/linux-hello/exec.c", "bin/linux-exec"),
    ("tests/linux-hello/exec-script", "bin/linux-exec-script"),
    ("tests/linux-hello/exec-garbage", "bin/linux-exec-garbage"),
    ("-> linux-exec", "bin/linux-exec-link"),
    ("tests/linux-hello/futex.c", "bin/linux-futex"),
    ("tests/linux-hello/signals.c", "bin/linux-signals"),
    ("tests/linux-hello/pipes.c", "bin/linux-pipes"),
    ("tests/linux-hello/mmap.c", "bin/linux-mmap"),
    ("tests/linux-hello/vfork.c", "bin/linux-vfork"),
    ("tests/linux-hello/threads.c", "bin/linux-threads"),
    (
        "tests/linux-hello/reflect-bench.c",
        "bin/linux-reflect-bench",
    ),
];

/// Builds [`LINUX_PROGRAMS`] into `out_dir/linux` and adds them to the
/// archive; without `musl-gcc` they are left out (the kernel tests that
/// run them then say so and pass).
fn add_linux_programs(archive: &mut cpio::Writer, out_dir: &Path) -> Result<(), String> {
    if Command::new("musl-gcc").arg("--version").output().is_err() {
        eprintln!(
            "note: musl-gcc is not installed (apt-get install musl-tools): no Linux test programs"
        );
        return Ok(());
    }
    let dir = out_dir.join("linux");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (source, path) in LINUX_PROGRAMS {
        if let Some(target) = source.strip_prefix("-> ") {
            archive
                .symlink(path, target)
                .map_err(|e| format!("initramfs: {path}: {e}"))?;
            continue;
        }
        if !source.ends_with(".c") {
            let file = crate::root().join(source);
            let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            archive
                .file(path, 0o755, &bytes)
                .map_err(|e| format!("initramfs: {path}: {e}"))?;
            continue;
        }
        let out = dir.join(Path::new(path).file_name().unwrap_or_default());
        let output = Command::new("musl-gcc")
            .args(["-static", "-O2", "-Wall", "-Wextra"])
            // The direct-branch header of the system library.
            .arg(format!(
                "-I{}",
                crate::root().join("user/syslib/include").display()
            ))
            .arg("-o")
            .arg(&out)
            .arg(crate::root().join(source))
            .output()
            .map_err(|e| format!("cannot run musl-gcc: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "musl-gcc failed on {source}:\n{}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let bytes = std::fs::read(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        archive
            .file(path, 0o755, &bytes)
            .map_err(|e| format!("initramfs: {path}: {e}"))?;
    }
    Ok(())
}

/// What `cargo xtask run` starts: a banner, then busybox's shell. The
/// kernel (booted without `ktest`, `difftest`, `kbench` or `monitor`)
/// runs it as a Linux process on the console once the system services
/// are up; the files are the file server's (ramfs imported this archive)
/// and `/init` mounts what a Linux `/init` would (`/proc`, `/dev`, a
/// `tmpfs` on `/tmp`: the system library's `mount` accepts the file
/// systems that are there, `user/syslib/src/calls/mount.rs`). `/init` leads a session whose controlling
/// terminal is the console (the kernel's `terminal::run_on_console`), so
/// the interactive shell has job control: `^C` and `^Z` reach its
/// foreground job, `&`, `jobs`, `fg`, `bg`, `kill %1` and `wait` work.
/// When the shell exits the kernel's monitor takes over.
const INIT: &str = "#!/bin/sh
# K42-rs /init (written by cargo xtask build)
export PATH=/bin HOME=/root
cd /
mkdir -p /tmp
mount -t proc proc /proc
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
echo
echo 'K42-rs: busybox sh, files from the file server (ramfs); exit for the kernel monitor'
exec /bin/sh
";

/// Debian's static busybox (`/bin/busybox`, package busybox-static, or
/// `$K42_BUSYBOX`) as `/bin/busybox`, a link `/bin/<applet>` to it for
/// each applet (the names our own programs have are kept), `/init`
/// ([`INIT`]), `/tmp`, `/root`, `/etc/passwd` and `/etc/group`. Without a static
/// busybox only a note: the kernel then boots into its monitor.
fn add_busybox(archive: &mut cpio::Writer) -> Result<(), String> {
    let path = std::env::var_os("K42_BUSYBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/bin/busybox"));
    if !crate::prereq::is_static_elf(&path) {
        eprintln!(
            "note: no static busybox at {} (apt-get install busybox-static): no shell for cargo xtask run",
            path.display()
        );
        return Ok(());
    }
    let err = |e: cpio::Error| format!("initramfs: {e}");
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    archive.file("bin/busybox", 0o755, &bytes).map_err(err)?;
    let list = Command::new(&path)
        .arg("--list")
        .output()
        .map_err(|e| format!("cannot run {} --list: {e}", path.display()))?;
    let ours: Vec<&str> = USER_PROGRAMS
        .iter()
        .chain(LINUX_PROGRAMS)
        .map(|(_, p)| *p)
        .collect();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        let link = format!("bin/{applet}");
        if applet.is_empty()
            || applet.contains('/')
            || applet == "busybox"
            || ours.contains(&link.as_str())
        {
            continue;
        }
        archive.symlink(&link, "busybox").map_err(err)?;
    }
    for d in ["tmp", "root", "etc"] {
        let mode = if d == "tmp" { 0o1777 } else { 0o755 };
        archive.dir(d, mode).map_err(err)?;
    }
    archive
        .file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")
        .map_err(err)?;
    archive
        .file("etc/group", 0o644, b"root:x:0:\n")
        .map_err(err)?;
    archive.file("init", 0o755, INIT.as_bytes()).map_err(err)?;
    Ok(())
}

/// The code generation of user programs: the small code model at
/// ordinary addresses, not the kernel's flags from .cargo/config.toml
/// (RUSTFLAGS replaces them).
const USER_RUSTFLAGS: &str = "-C relocation-model=static -C force-frame-pointers=yes";

/// `cargo clippy -D warnings` on the user programs as they are built for
/// K42-rs (the host build of `cargo clippy --all-targets` sees only their
/// host stubs).
pub fn clippy_user() -> Result<(), String> {
    crate::prereq::ensure_kernel_target()?;
    crate::step("cargo clippy (user programs, x86_64-unknown-none)");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(crate::root())
        .args(["clippy", "--target", "x86_64-unknown-none"])
        .env("RUSTFLAGS", USER_RUSTFLAGS)
        .env("CARGO_TARGET_DIR", crate::target_dir().join("user"));
    for (package, _) in USER_PROGRAMS {
        cmd.args(["--package", package]);
    }
    cmd.args(["--", "-D", "warnings"]);
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("clippy found problems in the user programs (see above)".into())
    }
}

/// Builds the user programs (static executables for `x86_64-unknown-none`,
/// in their own target directory because their code generation differs
/// from the kernel's) and packs them into `initramfs.cpio` next to the
/// kernel image, where `qemu::Config` finds it.
fn build_initramfs(out_dir: &Path, release: bool) -> Result<PathBuf, String> {
    let profile = if release { "release" } else { "debug" };
    crate::step("building the user programs (x86_64-unknown-none, static)");
    let target_dir = crate::target_dir().join("user");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(crate::root())
        .args(["build", "--target", "x86_64-unknown-none"])
        .env("RUSTFLAGS", USER_RUSTFLAGS)
        .env("CARGO_TARGET_DIR", &target_dir);
    for (package, _) in USER_PROGRAMS {
        cmd.args(["--package", package]);
    }
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("the user programs did not build (see the errors above)".into());
    }
    let mut archive = cpio::Writer::new();
    archive
        .dir("bin", 0o755)
        .map_err(|e| format!("initramfs: {e}"))?;
    archive
        .dir("lib", 0o755)
        .map_err(|e| format!("initramfs: {e}"))?;
    for (package, path) in USER_PROGRAMS {
        let built = target_dir
            .join("x86_64-unknown-none")
            .join(profile)
            .join(package);
        let bytes = std::fs::read(&built).map_err(|e| format!("{}: {e}", built.display()))?;
        archive
            .file(path, 0o755, &bytes)
            .map_err(|e| format!("initramfs: {path}: {e}"))?;
    }
    add_linux_programs(&mut archive, out_dir)?;
    add_busybox(&mut archive)?;
    let out = out_dir.join(INITRAMFS);
    std::fs::write(&out, archive.finish()).map_err(|e| format!("{}: {e}", out.display()))?;
    crate::step(format!("initramfs: {}", out.display()));
    Ok(out)
}

/// File name of the initramfs, next to the kernel image.
pub const INITRAMFS: &str = "initramfs.cpio";

/// Writes the symbol table into `.ksyms`; returns the number of symbols.
pub fn embed_symbols(image: &mut [u8]) -> Result<usize, String> {
    let (offset, size, symbols) = {
        let elf = object::File::parse(&*image).map_err(|e| format!("kernel ELF: {e}"))?;
        // `.ksyms` is merged into the image's read-only output section; the
        // linker script brackets it with `__ksyms_start` / `__ksyms_end`.
        let find = |n: &str| {
            elf.symbols()
                .find(|s| s.name() == Ok(n))
                .map(|s| s.address())
                .ok_or(format!("the kernel has no {n} symbol (linker script?)"))
        };
        let (start, end) = (find("__ksyms_start")?, find("__ksyms_end")?);
        let section = elf
            .sections()
            .find(|s| s.address() <= start && end <= s.address() + s.size())
            .ok_or("no section holds the .ksyms range")?;
        let (sec_off, _) = section
            .file_range()
            .ok_or("the .ksyms range has no bytes in the file")?;
        let offset = sec_off + (start - section.address());
        let size = end - start;
        let mut names = Vec::new();
        for sym in elf.symbols() {
            if sym.kind() != SymbolKind::Text || sym.address() == 0 {
                continue;
            }
            let Ok(name) = sym.name() else { continue };
            names.push((
                sym.address(),
                sym.size(),
                format!("{:#}", rustc_demangle::demangle(name)),
            ));
        }
        (offset as usize, size as usize, names)
    };
    let refs: Vec<(u64, u64, &str)> = symbols
        .iter()
        .map(|(a, s, n)| (*a, *s, n.as_str()))
        .collect();
    let blob = ksyms::build(&refs);
    if blob.len() > size {
        return Err(format!(
            "the symbol table needs {} KiB but .ksyms holds {} KiB: raise KSYMS_CAPACITY in kernel/src/backtrace.rs",
            blob.len() / 1024,
            size / 1024
        ));
    }
    image[offset..offset + blob.len()].copy_from_slice(&blob);
    Ok(refs.len())
}

//! Prerequisites: find what a step needs, install it when we may, or say
//! exactly what to run.

use std::process::Command;

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Makes sure `cmd` exists, installing Debian package `pkg` if needed.
pub fn ensure_tool(cmd: &str, pkg: &str) -> Result<(), String> {
    if have(cmd) {
        return Ok(());
    }
    if !is_root() {
        return Err(format!(
            "`{cmd}` is missing. Install it with:\n    sudo apt-get install -y {pkg}"
        ));
    }
    crate::step(format!("installing {pkg} (for `{cmd}`) with apt-get"));
    let ok = Command::new("sh")
        .args([
            "-c",
            &format!(
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {pkg}"
            ),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if ok && have(cmd) {
        Ok(())
    } else {
        Err(format!(
            "could not install {pkg}; try by hand: apt-get install -y {pkg}"
        ))
    }
}

/// QEMU for x86-64.
pub fn ensure_qemu() -> Result<(), String> {
    ensure_tool("qemu-system-x86_64", "qemu-system-x86")
}

/// The kernel's Rust target.
pub fn ensure_kernel_target() -> Result<(), String> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(crate::root())
        .output();
    match out {
        Ok(o) if String::from_utf8_lossy(&o.stdout).contains("x86_64-unknown-none") => Ok(()),
        Ok(_) => {
            crate::step("adding the x86_64-unknown-none target with rustup");
            let ok = Command::new("rustup")
                .args(["target", "add", "x86_64-unknown-none"])
                .current_dir(crate::root())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                Ok(())
            } else {
                Err(
                    "could not add the kernel target; run: rustup target add x86_64-unknown-none"
                        .into(),
                )
            }
        }
        // No rustup: assume the toolchain was installed with the target.
        Err(_) => Ok(()),
    }
}

/// Tools some tests use but can skip without (with a message): FUSE for the
/// KFS mount tests, fuse2fs for its benchmarks, Chromium for the trace
/// timeline test, musl-gcc and busybox-static for the ELF loader's tests on
/// real static binaries. Installed when we are root; otherwise the command
/// is shown.
pub fn offer_optional() {
    for (cmd, pkg) in [
        ("fusermount3", "fuse3"),
        ("fuse2fs", "fuse2fs"),
        ("chromium", "chromium"),
        ("musl-gcc", "musl-tools"),
        ("busybox", "busybox-static"),
    ] {
        if let Err(e) = ensure_tool(cmd, pkg) {
            eprintln!("note: {e}\n      (the tests that need it will be skipped)");
        }
    }
}

/// `musl-gcc` (Debian's musl-tools), for the static difftest programs.
pub fn ensure_musl_gcc() -> Result<(), String> {
    ensure_tool("musl-gcc", "musl-tools")
}

/// Installs Debian package `pkg` when we are root; otherwise says how.
fn install_package(pkg: &str, why: &str) -> Result<(), String> {
    if !is_root() {
        return Err(format!(
            "{why} is missing. Install it with:\n    sudo apt-get install -y {pkg}"
        ));
    }
    crate::step(format!("installing {pkg} ({why}) with apt-get"));
    let ok = Command::new("sh")
        .args([
            "-c",
            &format!(
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {pkg}"
            ),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "could not install {pkg}; try by hand: apt-get install -y {pkg}"
        ))
    }
}

/// Whether the ELF file at `path` is statically linked (no `PT_INTERP`).
pub(crate) fn is_static_elf(path: &std::path::Path) -> bool {
    let Ok(b) = std::fs::read(path) else {
        return false;
    };
    let u16_at = |o: usize| {
        b.get(o..o + 2)
            .map(|s| u16::from_le_bytes([s[0], s[1]]) as usize)
    };
    let u64_at = |o: usize| {
        b.get(o..o + 8)
            .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")) as usize)
    };
    if !b.starts_with(b"\x7fELF\x02\x01") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    (0..phnum).all(|i| {
        let at = phoff + i * phentsize;
        // PT_INTERP = 3.
        b.get(at..at + 4) != Some(&3u32.to_le_bytes()[..])
    })
}

/// A statically linked busybox: `$K42_BUSYBOX`, or `/bin/busybox` from
/// Debian's busybox-static (which replaces the dynamic `busybox` package).
pub fn static_busybox() -> Result<std::path::PathBuf, String> {
    if let Some(p) = std::env::var_os("K42_BUSYBOX") {
        let p = std::path::PathBuf::from(p);
        return if is_static_elf(&p) {
            Ok(p)
        } else {
            Err(format!(
                "$K42_BUSYBOX ({}) is not a static ELF",
                p.display()
            ))
        };
    }
    let p = std::path::PathBuf::from("/bin/busybox");
    if !is_static_elf(&p) {
        install_package("busybox-static", "a statically linked /bin/busybox")?;
    }
    if is_static_elf(&p) {
        Ok(p)
    } else {
        Err("/bin/busybox is not statically linked; install busybox-static".into())
    }
}

/// The static busybox if one is there, without installing anything.
#[cfg(test)]
pub fn static_busybox_if_present() -> Result<std::path::PathBuf, ()> {
    let p = std::path::PathBuf::from("/bin/busybox");
    if is_static_elf(&p) {
        Ok(p)
    } else {
        Err(())
    }
}

/// Orders kernel file names by version: `vmlinuz-6.1.0-10-amd64` before
/// `vmlinuz-6.1.0-9-amd64`'s successor `...-48-...`.
fn version_key(name: &str) -> Vec<(u64, String)> {
    let mut key = Vec::new();
    let mut rest = name;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits > 0 {
            key.push((rest[..digits].parse().unwrap_or(u64::MAX), String::new()));
            rest = &rest[digits..];
        } else {
            let text = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            key.push((0, rest[..text].to_string()));
            rest = &rest[text..];
        }
    }
    key
}

/// The newest `vmlinuz-*` in `dir`.
fn newest_vmlinuz(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("vmlinuz-"))
        .max_by_key(|n| version_key(n))
        .map(|n| dir.join(n))
}

/// A Linux kernel for the differential tests: `$K42_LINUX_KERNEL`, or the
/// newest `/boot/vmlinuz-*` (Debian's `linux-image-amd64`, installed when
/// we are root).
pub fn linux_kernel() -> Result<std::path::PathBuf, String> {
    if let Some(p) = std::env::var_os("K42_LINUX_KERNEL") {
        return Ok(p.into());
    }
    let boot = std::path::Path::new("/boot");
    if let Some(k) = newest_vmlinuz(boot) {
        return Ok(k);
    }
    install_package("linux-image-amd64", "a Linux kernel (/boot/vmlinuz-*)").map_err(|e| {
        format!(
            "{e}\n    (or, without installing: apt-get download linux-image-6.1.0-<N>-amd64 && \
             dpkg-deb -x linux-image-*.deb dir && export K42_LINUX_KERNEL=$PWD/dir/boot/vmlinuz-*)"
        )
    })?;
    newest_vmlinuz(boot)
        .ok_or_else(|| "no /boot/vmlinuz-* after installing linux-image-amd64".into())
}

#[cfg(test)]
mod difftest_prereq_unit {
    use super::*;

    #[test]
    fn kernel_versions_sort_numerically() {
        let mut names = [
            "vmlinuz-6.1.0-9-amd64",
            "vmlinuz-6.1.0-48-amd64",
            "vmlinuz-5.10.0-30-amd64",
        ];
        names.sort_by_key(|n| version_key(n));
        assert_eq!(
            names,
            [
                "vmlinuz-5.10.0-30-amd64",
                "vmlinuz-6.1.0-9-amd64",
                "vmlinuz-6.1.0-48-amd64"
            ]
        );
    }

    #[test]
    fn static_elf_check() {
        let dir = std::env::temp_dir().join(format!("xtask-elf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("notelf");
        std::fs::write(&f, b"#!/bin/sh\n").unwrap();
        assert!(!is_static_elf(&f));
        assert!(!is_static_elf(&dir.join("missing")));
        // This test binary is dynamically linked (it has PT_INTERP).
        let me = std::env::current_exe().unwrap();
        assert!(!is_static_elf(&me));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

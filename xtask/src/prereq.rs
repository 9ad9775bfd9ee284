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

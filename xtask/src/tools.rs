//! `cargo xtask tools`: build the host tools and install them under their
//! user-facing names.
//!
//! Cargo allows no `.` in a binary's name, so the KFS tools are built as
//! `mkfs-kfs` and `fsck-kfs`; `mkfs -t kfs` and `fsck -t kfs` look for
//! `mkfs.kfs` and `fsck.kfs`. This installs both spellings (the dotted ones
//! as symbolic links) plus `kfs-fuse`, `kfs-dump`, `kfs-bench` and `ktrace`
//! into `<prefix>/bin`.

use std::path::PathBuf;
use std::process::Command;

#[derive(clap::Args)]
pub struct ToolsArgs {
    /// Install into `<prefix>/bin` (default: target/k42, so target/k42/bin).
    #[arg(long)]
    prefix: Option<PathBuf>,
}

/// Binaries built by the host-tool packages.
const BINARIES: &[&str] = &[
    "mkfs-kfs",
    "fsck-kfs",
    "kfs-fuse",
    "kfs-dump",
    "kfs-bench",
    "ktrace",
];
/// The names `mkfs -t` / `fsck -t` look for, and what they point at.
const ALIASES: &[(&str, &str)] = &[("mkfs.kfs", "mkfs-kfs"), ("fsck.kfs", "fsck-kfs")];

/// Builds (release) and installs the tools.
pub fn run(args: ToolsArgs) -> Result<(), String> {
    let bin = args
        .prefix
        .unwrap_or_else(|| crate::target_dir().join("k42"))
        .join("bin");
    crate::step("building the host tools (release)");
    let ok = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(crate::root())
        .args(["build", "--release", "-p", "kfs-tools", "-p", "ktrace-tool"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err("the host tools did not build (see above)".into());
    }
    std::fs::create_dir_all(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    let built = crate::target_dir().join("release");
    for name in BINARIES {
        let to = bin.join(name);
        let _ = std::fs::remove_file(&to);
        std::fs::copy(built.join(name), &to).map_err(|e| format!("{name}: {e}"))?;
    }
    for (alias, target) in ALIASES {
        let link = bin.join(alias);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(target, &link).map_err(|e| format!("{alias}: {e}"))?;
    }
    crate::step(format!(
        "installed {} and {} into {}; add it to PATH for `mkfs -t kfs` / `fsck -t kfs`",
        BINARIES.join(", "),
        ALIASES.iter().map(|a| a.0).collect::<Vec<_>>().join(", "),
        bin.display()
    ));
    Ok(())
}

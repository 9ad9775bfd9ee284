//! `mkfs.kfs`: formats an image file or block device as KFS.

use clap::Parser;
use kfs::{mkfs, FileDevice, MkfsOptions};
use std::process::ExitCode;

/// Make a KFS file system.
#[derive(Parser)]
#[command(name = "mkfs.kfs", version)]
struct Args {
    /// Volume label (at most 32 bytes).
    #[arg(short = 'L', long, default_value = "")]
    label: String,
    /// Create or resize the image file to this size first (e.g. 64M, 1G).
    #[arg(short, long)]
    size: Option<String>,
    /// Image file or block device.
    image: std::path::PathBuf,
}

fn run(a: Args) -> Result<(), String> {
    if let Some(s) = &a.size {
        let bytes = kfs_tools::parse_size(s)?;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&a.image)
            .map_err(|e| format!("{}: {e}", a.image.display()))?;
        f.set_len(bytes)
            .map_err(|e| format!("{}: {e}", a.image.display()))?;
    }
    let dev =
        FileDevice::open(&a.image, true).map_err(|e| format!("{}: {e}", a.image.display()))?;
    let blocks = kfs::BlockDevice::block_count(&dev);
    let mut dev = mkfs(
        dev,
        &MkfsOptions {
            label: a.label.clone(),
            blocks: None,
        },
    )
    .map_err(|e| format!("mkfs: {e}"))?;
    kfs::BlockDevice::flush(&mut dev).map_err(|e| e.to_string())?;
    println!(
        "{}: KFS with {blocks} blocks of {} bytes",
        a.image.display(),
        kfs::BLOCK_SIZE
    );
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mkfs.kfs: {e}");
            ExitCode::FAILURE
        }
    }
}

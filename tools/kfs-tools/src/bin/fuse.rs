//! `kfs-fuse`: mounts a KFS image on Linux through FUSE.
//!
//! `kfs-fuse IMAGE MOUNTPOINT [-f] [-o OPTS]`. Without `-f` it starts itself
//! in the foreground as a detached child, waits until the mount is live and
//! returns. Unmount with `fusermount3 -u MOUNTPOINT`; a clean unmount takes
//! a final checkpoint, so everything written is on disk afterwards.
//!
//! Options: `ro`, `rw`, `allow_other`, `default_permissions`, `fsname=NAME`,
//! `commit=SECS` (automatic checkpoint interval, default 5, 0 = only on
//! fsync and unmount), and KFS policy knobs `dir_hash_threshold=N`, `extent_threshold=N`,
//! `cache_blocks=N`, `dirty_blocks=N`.

use clap::Parser;
use fuser::{Config, MountOption, SessionACL};
use kfs::{FileDevice, Fs};
use kfs_tools::fuse::KfsFuse;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// Mount a KFS image with FUSE.
#[derive(Parser)]
#[command(name = "kfs-fuse", version)]
struct Args {
    /// Stay in the foreground.
    #[arg(short, long)]
    foreground: bool,
    /// Mount options (comma separated; may repeat).
    #[arg(short = 'o')]
    options: Vec<String>,
    /// Image file or block device.
    image: PathBuf,
    /// Mount point.
    mountpoint: PathBuf,
}

fn is_mounted(mp: &Path) -> bool {
    let Ok(canon) = mp.canonicalize() else {
        return false;
    };
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(canon.to_str().unwrap_or("")) && l.contains("fuse"))
}

fn run(a: Args) -> Result<(), String> {
    let mo = kfs_tools::parse_mount_opts(&a.options)?;
    if !Path::new("/dev/fuse").exists() {
        return Err("/dev/fuse is missing: FUSE is not available here".into());
    }
    if !a.foreground {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .arg("-f")
            .args(a.options.iter().flat_map(|o| ["-o", o.as_str()]))
            .arg(&a.image)
            .arg(&a.mountpoint)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the server: {e}"))?;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if is_mounted(&a.mountpoint) {
                return Ok(());
            }
            if let Ok(Some(st)) = child.try_wait() {
                return Err(format!("the server exited ({st}) before the mount came up"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        return Err("timed out waiting for the mount".into());
    }
    let dev = FileDevice::open(&a.image, !mo.read_only)
        .map_err(|e| format!("{}: {e}", a.image.display()))?;
    let fs = Fs::mount(dev, mo.kfs_options())
        .map_err(|e| format!("{}: cannot mount: {e}", a.image.display()))?;
    let mut cfg = Config::default();
    let mut opts = vec![
        MountOption::FSName(
            mo.fsname
                .clone()
                .unwrap_or_else(|| a.image.display().to_string()),
        ),
        MountOption::Subtype("kfs".into()),
        if mo.read_only {
            MountOption::RO
        } else {
            MountOption::RW
        },
    ];
    if mo.default_permissions {
        opts.push(MountOption::DefaultPermissions);
    }
    if mo.allow_other {
        cfg.acl = SessionACL::All;
    }
    cfg.mount_options = opts;
    let server = KfsFuse::new(fs);
    let every = mo.commit.unwrap_or(5);
    if every > 0 && !mo.read_only {
        let shared = server.shared();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(every));
            let mut fs = shared.lock().unwrap_or_else(|p| p.into_inner());
            if fs.needs_checkpoint() {
                if let Err(e) = fs.checkpoint() {
                    eprintln!("kfs-fuse: periodic checkpoint failed: {e}");
                }
            }
        });
    }
    fuser::mount(server, &a.mountpoint, &cfg)
        .map_err(|e| format!("mount {}: {e}", a.mountpoint.display()))
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kfs-fuse: {e}");
            ExitCode::FAILURE
        }
    }
}

//! `kfs-bench`: runs the same workloads on `kfs-fuse` and on `fuse2fs`
//! (Debian's ext4 in FUSE), each on an image file of the same size, and
//! prints a Markdown table with the times and the fuse2fs/kfs ratios.
//!
//! ```text
//! cargo build --release -p kfs-tools
//! target/release/kfs-bench --size 2G --files 10000 --seq-mib 1024 --tree /usr/include
//! ```
//!
//! Needs root (FUSE mounts), `fusermount3` (package `fuse3`), `fuse2fs`
//! (package `fuse2fs`), `mkfs.ext4` (package `e2fsprogs`) and `tar`.
//! Between phases each file system is unmounted and mounted again, so reads
//! and metadata walks start with a cold cache.

use clap::Parser;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Benchmark kfs-fuse against fuse2fs.
#[derive(Parser)]
#[command(name = "kfs-bench", version)]
struct Args {
    /// Working directory for images and mount points.
    #[arg(long, default_value = "/tmp/kfs-bench")]
    dir: PathBuf,
    /// Size of each image file.
    #[arg(long, default_value = "2G")]
    size: String,
    /// Small files to create, write and fsync.
    #[arg(long, default_value_t = 10_000)]
    files: usize,
    /// MiB for the sequential write and read.
    #[arg(long, default_value_t = 1024)]
    seq_mib: usize,
    /// Source tree to archive and extract with `tar -x`.
    #[arg(long, default_value = "/usr/include")]
    tree: PathBuf,
    /// Only these file systems (kfs, fuse2fs).
    #[arg(long, value_delimiter = ',', default_value = "kfs,fuse2fs")]
    only: Vec<String>,
}

struct Target {
    name: &'static str,
    image: PathBuf,
    mnt: PathBuf,
    server: Option<Child>,
    bindir: PathBuf,
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn is_mounted(mp: &Path) -> bool {
    let Ok(canon) = mp.canonicalize() else {
        return false;
    };
    fs::read_to_string("/proc/self/mountinfo")
        .map(|s| s.lines().any(|l| l.split(' ').nth(4) == canon.to_str()))
        .unwrap_or(false)
}

impl Target {
    fn mkfs(&self, size: u64) -> Result<(), String> {
        let _ = fs::remove_file(&self.image);
        fs::File::create(&self.image)
            .and_then(|f| f.set_len(size))
            .map_err(|e| e.to_string())?;
        match self.name {
            "kfs" => run(Command::new(self.bindir.join("mkfs-kfs")).arg(&self.image)),
            _ => run(Command::new("mkfs.ext4")
                .args(["-F", "-q", "-b", "4096"])
                .arg(&self.image)),
        }
    }

    fn mount(&mut self) -> Result<(), String> {
        let child = match self.name {
            "kfs" => Command::new(self.bindir.join("kfs-fuse"))
                .arg("-f")
                .arg(&self.image)
                .arg(&self.mnt)
                .stdout(Stdio::null())
                .spawn(),
            _ => Command::new("fuse2fs")
                .arg(&self.image)
                .arg(&self.mnt)
                .arg("-f")
                .stdout(Stdio::null())
                .spawn(),
        }
        .map_err(|e| format!("{}: {e}", self.name))?;
        self.server = Some(child);
        let t = Instant::now();
        while !is_mounted(&self.mnt) {
            if t.elapsed() > Duration::from_secs(30) {
                return Err(format!("{}: mount did not come up", self.name));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Unmounts and waits for the server to finish writing back.
    fn unmount(&mut self) -> Result<(), String> {
        run(Command::new("fusermount3").arg("-u").arg(&self.mnt))?;
        if let Some(mut c) = self.server.take() {
            c.wait().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn remount(&mut self) -> Result<(), String> {
        self.unmount()?;
        self.mount()
    }
}

fn time<F: FnOnce() -> Result<(), String>>(f: F) -> Result<f64, String> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

fn io<T>(r: std::io::Result<T>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

fn walk(dir: &Path, n: &mut u64) -> Result<(), String> {
    for e in io(fs::read_dir(dir))? {
        let e = io(e)?;
        let md = io(fs::symlink_metadata(e.path()))?;
        *n += 1;
        if md.is_dir() {
            walk(&e.path(), n)?;
        }
    }
    Ok(())
}

struct Row {
    name: &'static str,
    times: Vec<(String, f64)>,
}

/// Create + write + fsync of small files, interleaved between the file
/// systems in rounds so that both see the same background load (fsync
/// latency on a shared disk varies a lot over a minute).
fn small_files(ts: &[Target], a: &Args) -> Result<Vec<f64>, String> {
    let payload: Vec<u8> = (0..4096u32).map(|i| i as u8).collect();
    let mut total = vec![0.0; ts.len()];
    for t in ts.iter() {
        io(fs::create_dir(t.mnt.join("small")))?;
    }
    let rounds = 20.min(a.files.max(1));
    for r in 0..rounds {
        let (lo, hi) = (a.files * r / rounds, a.files * (r + 1) / rounds);
        for (k, t) in ts.iter().enumerate() {
            let dir = t.mnt.join("small");
            total[k] += time(|| {
                for i in lo..hi {
                    let mut f = io(fs::File::create(dir.join(format!("f{i:06}"))))?;
                    io(f.write_all(&payload[..1024 + (i * 37) % 3072]))?;
                    io(f.sync_all())?;
                }
                Ok(())
            })?;
        }
    }
    Ok(total)
}

fn bench(t: &mut Target, a: &Args, tarball: &Path, small: f64) -> Result<Row, String> {
    let mut times = vec![(format!("create+write+fsync {} small files", a.files), small)];

    let chunk = vec![0x5au8; 1 << 20];
    let path = t.mnt.join("seq");
    let s = time(|| {
        let mut f = io(fs::File::create(&path))?;
        for _ in 0..a.seq_mib {
            io(f.write_all(&chunk))?;
        }
        io(f.sync_all())
    })?;
    times.push((format!("sequential write {} MiB + fsync", a.seq_mib), s));
    t.remount()?;
    let s = time(|| {
        let mut f = io(fs::File::open(&path))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0;
        loop {
            let n = io(f.read(&mut buf))?;
            if n == 0 {
                break;
            }
            total += n;
        }
        if total != a.seq_mib << 20 {
            return Err(format!("read {total} bytes"));
        }
        Ok(())
    })?;
    times.push((format!("sequential read {} MiB (cold)", a.seq_mib), s));

    let dest = t.mnt.join("tree");
    io(fs::create_dir(&dest))?;
    let s = time(|| {
        run(Command::new("tar")
            .arg("-xf")
            .arg(tarball)
            .arg("-C")
            .arg(&dest))?;
        run(Command::new("sync").arg("-f").arg(&dest))
    })?;
    times.push((format!("tar -x of {} + syncfs", a.tree.display()), s));

    t.remount()?;
    let mut n = 0;
    let s = time(|| walk(&t.mnt, &mut n))?;
    times.push((format!("find + stat of every entry, cold ({n} entries)"), s));
    let s = time(|| {
        run(Command::new("find")
            .arg(&t.mnt)
            .arg("-name")
            .arg("*.h")
            .arg("-newer")
            .arg(tarball))
    })?;
    times.push(("find -name -newer (warm)".to_string(), s));
    t.unmount()?;
    Ok(Row {
        name: t.name,
        times,
    })
}

fn main_() -> Result<(), String> {
    let a = Args::parse();
    let bindir = io(std::env::current_exe())?
        .parent()
        .ok_or("no exe dir")?
        .to_path_buf();
    io(fs::create_dir_all(&a.dir))?;
    let tarball = a.dir.join("tree.tar");
    if !tarball.exists() {
        run(Command::new("tar")
            .arg("-cf")
            .arg(&tarball)
            .arg("-C")
            .arg(&a.tree)
            .arg("."))?;
    }
    let size = kfs_tools::parse_size(&a.size)?;
    let mut ts = Vec::new();
    for name in ["kfs", "fuse2fs"] {
        if !a.only.iter().any(|o| o == name) {
            continue;
        }
        let mnt = a.dir.join(format!("mnt-{name}"));
        io(fs::create_dir_all(&mnt))?;
        let mut t = Target {
            name,
            image: a.dir.join(format!("{name}.img")),
            mnt,
            server: None,
            bindir: bindir.clone(),
        };
        t.mkfs(size)?;
        t.mount()?;
        ts.push(t);
    }
    eprintln!("kfs-bench: small files (interleaved) ...");
    let small = small_files(&ts, &a);
    let mut rows = Vec::new();
    let mut err = small.as_ref().err().cloned();
    if let Ok(small) = small {
        for (k, t) in ts.iter_mut().enumerate() {
            eprintln!("kfs-bench: running {} ...", t.name);
            match bench(t, &a, &tarball, small[k]) {
                Ok(r) => rows.push(r),
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
    }
    for t in &mut ts {
        if t.server.is_some() {
            let _ = t.unmount();
        }
        let _ = fs::remove_file(&t.image);
    }
    if let Some(e) = err {
        return Err(e);
    }
    println!(
        "| workload | {} | fuse2fs / kfs |",
        rows.iter().map(|r| r.name).collect::<Vec<_>>().join(" | ")
    );
    println!("|---|{}---|", "---|".repeat(rows.len()));
    for i in 0..rows[0].times.len() {
        let cells: Vec<String> = rows
            .iter()
            .map(|r| format!("{:.3} s", r.times[i].1))
            .collect();
        let ratio = if rows.len() == 2 {
            format!("{:.2}x", rows[1].times[i].1 / rows[0].times[i].1)
        } else {
            "-".into()
        };
        println!(
            "| {} | {} | {ratio} |",
            rows[0].times[i].0,
            cells.join(" | ")
        );
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    match main_() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kfs-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

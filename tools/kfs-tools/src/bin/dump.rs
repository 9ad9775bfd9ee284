//! `kfs-dump`: prints a KFS image's superblock, RecordMap and tree.

use clap::Parser;
use kfs::{mode, read_superblock, BlockDevice, FileDevice, Fs, Options};
use std::process::ExitCode;

/// Dump the structures of a KFS image.
#[derive(Parser)]
#[command(name = "kfs-dump", version)]
struct Args {
    /// Print every live record of the RecordMap.
    #[arg(short, long)]
    records: bool,
    /// Print the directory tree.
    #[arg(short, long)]
    tree: bool,
    /// Print one object's record and block map.
    #[arg(short, long)]
    object: Option<u64>,
    /// Image file or block device.
    image: std::path::PathBuf,
}

fn run(a: Args) -> Result<(), String> {
    let mut dev =
        FileDevice::open(&a.image, false).map_err(|e| format!("{}: {e}", a.image.display()))?;
    let sb = read_superblock(&mut dev).map_err(|e| e.to_string())?;
    println!("superblock: checkpoint {} in slot {}", sb.seq, sb.seq % 2);
    println!(
        "  label            {:?}",
        String::from_utf8_lossy(&sb.label).trim_end_matches('\0')
    );
    println!(
        "  blocks           {} x {} bytes (device has {})",
        sb.geo.total,
        kfs::BLOCK_SIZE,
        dev.block_count()
    );
    println!(
        "  bitmap           2 x {} blocks at {} and {}",
        sb.geo.bitmap_blocks,
        sb.geo.bitmap_start(0),
        sb.geo.bitmap_start(1)
    );
    println!("  first data block {}", sb.geo.first_data());
    println!("  free blocks      {}", sb.free_blocks);
    println!(
        "  RecordMap        {} record blocks, index blocks {:?}",
        sb.record_blocks, sb.index
    );
    let opts = Options {
        read_only: true,
        ..Options::default()
    };
    let mut fs = Fs::mount(&mut dev, opts).map_err(|e| format!("mount: {e}"))?;
    let ids: Vec<u64> = fs.records().ids().collect();
    let mut by_imp = std::collections::BTreeMap::<&str, u64>::new();
    for &id in &ids {
        *by_imp
            .entry(fs.records().get(id).map(|r| r.imp.name()).unwrap_or("?"))
            .or_default() += 1;
    }
    println!(
        "objects: {} live, by implementation {:?}",
        ids.len(),
        by_imp
    );
    if a.records {
        println!(
            "{:>8} {:>7} {:>7} {:>5} {:>12} {:>8}  times (mtime)",
            "id", "impl", "mode", "links", "size", "blocks"
        );
        for &id in &ids {
            let r = fs.records().get(id).map_err(|e| e.to_string())?;
            println!(
                "{id:>8} {:>7} {:>7o} {:>5} {:>12} {:>8}  {}.{:09}",
                r.imp.name(),
                r.mode,
                r.nlink,
                r.size,
                r.blocks,
                r.mtime.sec,
                r.mtime.nsec
            );
        }
    }
    if let Some(id) = a.object {
        let r = fs
            .records()
            .get(id)
            .map_err(|e| format!("object {id}: {e}"))?
            .clone();
        println!("object {id}: {r:#?}");
        if r.imp.is_dir() {
            for e in fs.readdir(id).map_err(|e| e.to_string())? {
                println!(
                    "  {:>8} type {:>2} {}",
                    e.id,
                    e.ftype,
                    String::from_utf8_lossy(&e.name)
                );
            }
        }
        let (runs, meta) = fs.block_map(id).map_err(|e| e.to_string())?;
        println!(
            "  layout {}: {} metadata blocks {:?}",
            r.imp.name(),
            meta.len(),
            meta
        );
        for (l, p, n) in runs {
            println!("  blocks {l}..{} -> {p}..{}", l + n, p + n);
        }
    }
    if a.tree {
        let mut stack = vec![(String::from("/"), fs.root(), 0usize)];
        while let Some((name, id, depth)) = stack.pop() {
            let at = fs.getattr(id).map_err(|e| e.to_string())?;
            let extra = if at.mode & mode::S_IFMT == mode::S_IFLNK {
                format!(
                    " -> {}",
                    String::from_utf8_lossy(&fs.readlink(id).unwrap_or_default())
                )
            } else {
                String::new()
            };
            println!(
                "{:indent$}{name} [id {id}, {}, {} bytes]{extra}",
                "",
                at.imp.name(),
                at.size,
                indent = depth * 2
            );
            if at.mode & mode::S_IFMT == mode::S_IFDIR {
                let mut es = fs.readdir(id).map_err(|e| e.to_string())?;
                es.sort_by(|a, b| b.name.cmp(&a.name));
                for e in es {
                    stack.push((
                        String::from_utf8_lossy(&e.name).into_owned(),
                        e.id,
                        depth + 1,
                    ));
                }
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kfs-dump: {e}");
            ExitCode::FAILURE
        }
    }
}

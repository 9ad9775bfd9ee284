//! `fsck.kfs`: checks a KFS image and repairs what it can.
//!
//! Exit codes follow e2fsck: 0 no errors, 1 errors corrected, 4 errors left
//! uncorrected, 8 operational error, 16 usage error.

use clap::Parser;
use kfs::{fsck, Error, FileDevice};
use std::process::ExitCode;

/// Check a KFS file system.
#[derive(Parser)]
#[command(name = "fsck.kfs", version)]
struct Args {
    /// Check only; change nothing (the default).
    #[arg(short = 'n', conflicts_with_all = ["yes", "preen"])]
    no: bool,
    /// Repair everything that can be repaired.
    #[arg(short = 'y')]
    yes: bool,
    /// Preen: repair automatically (same as -y for KFS).
    #[arg(short = 'p', short_alias = 'a')]
    preen: bool,
    /// Print each finding.
    #[arg(short, long)]
    verbose: bool,
    /// Image file or block device.
    image: std::path::PathBuf,
}

fn main() -> ExitCode {
    let a = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 16 } else { 0 });
        }
    };
    let repair = (a.yes || a.preen) && !a.no;
    let mut dev = match FileDevice::open(&a.image, repair) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("fsck.kfs: {}: {e}", a.image.display());
            return ExitCode::from(8);
        }
    };
    match fsck(&mut dev, repair) {
        Ok(rep) => {
            for e in &rep.errors {
                println!("ERROR: {e}");
            }
            for f in &rep.fixed {
                println!("FIXED: {f}");
            }
            if a.verbose {
                for n in &rep.notes {
                    println!("note: {n}");
                }
            }
            println!(
                "{}: {} objects, {} directories, {} blocks used; {}",
                a.image.display(),
                rep.objects,
                rep.dirs,
                rep.used_blocks,
                match rep.exit_code() {
                    0 => "clean".to_string(),
                    1 => format!("{} problems fixed", rep.fixed.len()),
                    _ => format!("{} problems NOT fixed", rep.errors.len()),
                }
            );
            ExitCode::from(rep.exit_code() as u8)
        }
        Err(Error::Corrupt(m)) => {
            println!("ERROR: {m}");
            println!("{}: cannot be mounted; not fixed", a.image.display());
            ExitCode::from(4)
        }
        Err(e) => {
            eprintln!("fsck.kfs: {}: {e}", a.image.display());
            ExitCode::from(8)
        }
    }
}

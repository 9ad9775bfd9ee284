//! `ktrace`: read K42-rs trace files.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ktrace::decode::Trace;
use ktrace_tool::{dump, html, intervals, locks, perfetto, sample, stats, DumpOptions};

/// Dump, analyse, export and draw K42-rs traces.
#[derive(Parser)]
#[command(name = "ktrace", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every event, human-readable, merged across processors by time.
    Dump {
        /// Trace file.
        file: PathBuf,
        /// Only this processor (repeatable).
        #[arg(long = "cpu")]
        cpus: Vec<u32>,
        /// Only this class, by name (repeatable), e.g. `sched`.
        #[arg(long = "class")]
        classes: Vec<String>,
    },
    /// Events per class and per processor, lost blocks and events.
    Stats {
        /// Trace file.
        file: PathBuf,
    },
    /// Per-lock contention: acquisitions, contended acquisitions, wait time.
    Locks {
        /// Trace file.
        file: PathBuf,
    },
    /// Time in system calls (by number), exceptions, interrupts, page
    /// faults and other enter/exit intervals.
    Intervals {
        /// Trace file.
        file: PathBuf,
    },
    /// Convert to another format.
    Export {
        /// Chrome trace-event JSON, for ui.perfetto.dev (the only format yet).
        #[arg(long, required = true)]
        perfetto: bool,
        /// Trace file.
        file: PathBuf,
        /// Output file (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// A self-contained HTML/SVG timeline with zoom and tooltips.
    Html {
        /// Trace file.
        file: PathBuf,
        /// Output file (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Write a small synthetic trace, to try the other commands.
    Sample {
        /// Output file.
        output: PathBuf,
        /// Processors.
        #[arg(long, default_value_t = 4)]
        cpus: usize,
        /// Rounds of activity per processor.
        #[arg(long, default_value_t = 50)]
        rounds: u64,
    },
}

fn load(path: &Path) -> Result<Trace, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let trace = Trace::parse(&bytes);
    for e in &trace.errors {
        eprintln!("ktrace: {}: {e}", path.display());
    }
    Ok(trace)
}

fn emit(output: Option<&Path>, text: &str) -> Result<(), String> {
    match output {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
        }
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()) {
                // A closed pipe (`ktrace dump | head`) is not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.map_err(|e| format!("cannot write output: {e}")),
            }
        }
    }
}

fn run(cli: Cli) -> Result<bool, String> {
    let (trace, text, output) = match cli.command {
        Command::Dump {
            file,
            cpus,
            classes,
        } => {
            let t = load(&file)?;
            let s = dump(&t, &DumpOptions { cpus, classes });
            (t, s, None)
        }
        Command::Stats { file } => {
            let t = load(&file)?;
            let s = stats(&t);
            (t, s, None)
        }
        Command::Locks { file } => {
            let t = load(&file)?;
            let s = locks(&t);
            (t, s, None)
        }
        Command::Intervals { file } => {
            let t = load(&file)?;
            let s = intervals(&t);
            (t, s, None)
        }
        Command::Export {
            perfetto: _,
            file,
            output,
        } => {
            let t = load(&file)?;
            let s = perfetto(&t);
            (t, s, output)
        }
        Command::Html { file, output } => {
            let t = load(&file)?;
            let title = format!("ktrace: {}", file.display());
            let s = html::html(&t, &title);
            (t, s, output)
        }
        Command::Sample {
            output,
            cpus,
            rounds,
        } => {
            let bytes = sample::sample_trace(cpus, rounds);
            std::fs::write(&output, bytes)
                .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
            return Ok(true);
        }
    };
    emit(output.as_deref(), &text)?;
    Ok(trace.errors.is_empty())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        // The output was produced, but the file was damaged.
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("ktrace: {e}");
            ExitCode::from(1)
        }
    }
}

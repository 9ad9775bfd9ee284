//! `cargo xtask trace -- <workload>`: boot with tracing on, run a workload,
//! keep the trace.
//!
//! The kernel streams its event log as raw bytes to COM2 (see
//! `kernel/src/trace.rs`); QEMU writes COM2 to a file (a second
//! `-serial file:PATH`), and that file is the trace. The kernel command line
//! gets `trace=<classes> workload=<name>`; the kernel runs the workload,
//! flushes the log and powers off. Then `ktrace stats` summarises the file.
//!
//! Workloads: `boot` (boot to the end of SMP bring-up) and `ktest` (every
//! in-kernel test, all classes on, each bracketed by `test` events).

use crate::qemu::{self, Io, Status};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The workloads the kernel knows (`workload=` in `kernel/src/trace.rs`).
pub const WORKLOADS: [&str; 2] = ["boot", "ktest"];
/// Limit on one traced boot.
const TIMEOUT: Duration = Duration::from_secs(300);

#[derive(clap::Args)]
pub struct TraceArgs {
    /// Processors to emulate.
    #[arg(long, default_value_t = 4)]
    smp: u32,
    /// Guest memory, in QEMU's syntax.
    #[arg(long, default_value = "256M")]
    mem: String,
    /// Event classes to enable (`all`, or a list such as `interrupt,lock`).
    #[arg(long, default_value = "all")]
    classes: String,
    /// Build the kernel with optimisations.
    #[arg(long)]
    release: bool,
    /// After `--`: the workload (boot, ktest).
    #[arg(last = true)]
    workload: Vec<String>,
}

/// `cargo xtask trace`.
pub fn run(args: TraceArgs) -> Result<(), String> {
    let workload = match args.workload.as_slice() {
        [] => "boot",
        [w] => w.as_str(),
        more => return Err(format!("one workload, please; got {more:?}")),
    };
    crate::prereq::ensure_qemu()?;
    let kernel = crate::kernel_image::build(args.release)?;
    let path = record(
        &kernel,
        workload,
        args.smp,
        &args.mem,
        &args.classes,
        &mut |l| {
            if l.starts_with("trace:") || l.contains("WARN") || l.contains("PANIC") {
                println!("    {l}");
            } else if let Some(rest) = l.strip_prefix(ktest::protocol::PREFIX) {
                if rest.starts_with("run ") || rest.starts_with("fail ") {
                    println!("    {l}");
                }
            }
        },
    )?;
    crate::step(format!("trace: {}", path.display()));
    crate::step(format!("ktrace stats {}", path.display()));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(crate::root())
        .args([
            "run",
            "-q",
            "-p",
            "ktrace-tool",
            "--bin",
            "ktrace",
            "--",
            "stats",
        ])
        .arg(&path)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "ktrace stats reported a damaged trace: {}",
            path.display()
        ));
    }
    crate::step(format!(
        "more: cargo run -p ktrace-tool -- dump|locks|intervals|html|export --perfetto {}",
        path.display()
    ));
    Ok(())
}

/// Boots `kernel` with `trace=<classes> workload=<workload>` and COM2 going
/// to `target/k42/trace/<workload>-smp<N>.ktrace`; returns that path once
/// the kernel has powered off. `on_line` sees every console line.
pub fn record(
    kernel: &Path,
    workload: &str,
    smp: u32,
    mem: &str,
    classes: &str,
    on_line: &mut dyn FnMut(&str),
) -> Result<PathBuf, String> {
    if !WORKLOADS.contains(&workload) {
        return Err(format!(
            "unknown workload '{workload}'; known: {}",
            WORKLOADS.join(", ")
        ));
    }
    if classes.is_empty() || classes.contains(char::is_whitespace) {
        return Err(format!(
            "--classes wants a comma-separated list, got '{classes}'"
        ));
    }
    let dir = crate::target_dir().join("k42/trace");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("{workload}-smp{smp}.ktrace"));
    let _ = std::fs::remove_file(&path);
    let log_path = dir.join(format!("{workload}-smp{smp}.log"));

    crate::step(format!(
        "tracing workload '{workload}' at -smp {smp}, classes {classes}"
    ));
    let mut cfg = qemu::Config::new(kernel, smp, mem);
    cfg.cmdline = format!("trace={classes} workload={workload}");
    if workload == "ktest" {
        // The tests expect the runner's command line (one checks it).
        cfg.cmdline.push(' ');
        cfg.cmdline.push_str(ktest::protocol::CMDLINE_RUN);
    }
    cfg.extra = vec!["-serial".into(), format!("file:{}", path.display())];
    cfg.timeout = Some(TIMEOUT);
    let out = cfg.run_with(Io::Captured, on_line)?;
    let _ = std::fs::write(&log_path, &out.log);
    let test_pass = ktest::protocol::qemu_status(ktest::protocol::EXIT_PASS);
    match out.status {
        // Power-off (boot) or the test runner's pass status (ktest).
        Status::Exited(0) => {}
        Status::Exited(c) if c == test_pass && workload == "ktest" => {}
        Status::Exited(c) => {
            return Err(format!(
                "QEMU exited with status {c}; last line: {}; console log: {}; partial trace: {}",
                out.last_line(),
                log_path.display(),
                path.display()
            ))
        }
        Status::TimedOut(d) => {
            return Err(format!(
                "the traced boot timed out after {} s; last line: {}; console log: {}",
                d.as_secs(),
                out.last_line(),
                log_path.display()
            ))
        }
    }
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return Err(format!(
            "the kernel wrote no trace to COM2 ({}); console log: {}",
            path.display(),
            log_path.display()
        ));
    }
    Ok(path)
}

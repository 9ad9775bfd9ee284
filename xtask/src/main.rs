//! `cargo xtask`: the one build driver of K42-rs.
//!
//! ```text
//! cargo xtask build [--release]            build the kernel image (with its symbol table)
//! cargo xtask run   [-- --smp N --mem M ...] boot it in QEMU, serial on this terminal
//! cargo xtask test  [--kernel-only|--host-only]
//!                                          every test: host crates, loom models, in-kernel
//!                                          at -smp 1 and -smp 4; ends with "N passed, N failed"
//! cargo xtask gdb   [-- --smp N]           QEMU halted at the first instruction, plus gdb
//! cargo xtask tools [--prefix DIR]      host tools into DIR/bin (mkfs.kfs, fsck.kfs, kfs-fuse, ktrace)
//! cargo xtask bench [--kernel-only|--host-only] [--only NAME] [--smp N] [-- ARGS]
//!                                          hosted criterion benches, in-kernel cycle counts
//! cargo xtask clippy-user                  clippy (warnings denied) on the user programs, as built for K42-rs
//! cargo xtask trace [--smp N] [--classes C] [-- boot|ktest]
//!                                          traced boot; trace file under target/k42/trace/
//! ```
//!
//! Each step prints a progress line. Every QEMU run has a timeout, and a
//! timeout names the last line the guest printed. Missing prerequisites
//! (QEMU, the kernel target) are installed when running as root, or
//! explained with the exact command otherwise.
//!
//! Why a Rust build driver rather than shell scripts: it runs wherever
//! cargo runs, it shares the test-log parser with the kernel (`ktest`), and
//! it is checked by the same `cargo clippy` as the rest of the tree.

mod bench;
mod difftest;
mod kernel_image;
mod prereq;
mod qemu;
mod tests;
mod tools;
mod trace;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, boot and test K42-rs")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Clone, Debug)]
pub struct RunArgs {
    /// Build with optimisations.
    #[arg(long)]
    release: bool,
    /// Processors to emulate.
    #[arg(long, default_value_t = 4)]
    smp: u32,
    /// Guest memory, in QEMU's syntax (256M, 1G).
    #[arg(long, default_value = "256M")]
    mem: String,
    /// Seconds before QEMU is stopped; 0 = never. Default: none on an
    /// interactive terminal, 120 s otherwise.
    #[arg(long)]
    timeout: Option<u64>,
    /// Extra kernel command-line words.
    #[arg(long)]
    append: Option<String>,
    /// After `--`: `--smp N`, `--mem M`, anything else goes to QEMU.
    #[arg(last = true)]
    extra: Vec<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the kernel image.
    Build {
        /// Build with optimisations.
        #[arg(long)]
        release: bool,
    },
    /// Build and boot K42-rs in QEMU to its console.
    Run(RunArgs),
    /// Run every test and print "N passed, N failed".
    Test(tests::TestArgs),
    /// Boot halted, waiting for gdb, and start gdb with the symbols.
    Gdb(RunArgs),
    /// Run the benchmarks: hosted (criterion) and in-kernel (cycles).
    Bench(bench::BenchArgs),
    /// Build the host tools and install them (mkfs.kfs, fsck.kfs, ktrace ...).
    Tools(tools::ToolsArgs),
    /// Lint the user programs as built for K42-rs (warnings denied).
    ClippyUser,
    /// Boot with tracing on, run a workload (boot, ktest), keep the trace.
    Trace(trace::TraceArgs),
    /// Run the Linux-personality test programs on Linux and K42-rs and compare.
    Difftest(difftest::DifftestArgs),
}

/// Prints a progress line.
pub fn step(msg: impl std::fmt::Display) {
    eprintln!("\x1b[1;34m==>\x1b[0m {msg}");
}

/// The workspace root.
pub fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` when set (relative to
/// the workspace root), else `target/` at the root. Build outputs of
/// xtask itself (kernel images, logs, traces) go under its `k42/`.
pub fn target_dir() -> std::path::PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => root().join(d),
        _ => root().join("target"),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Build { release } => kernel_image::build(release).map(|p| {
            step(format!("kernel image: {}", p.display()));
        }),
        Cmd::Run(args) => run(args, false),
        Cmd::Gdb(args) => run(args, true),
        Cmd::Test(args) => return tests::run(args),
        Cmd::Bench(args) => bench::run(args),
        Cmd::Tools(args) => tools::run(args),
        Cmd::Trace(args) => trace::run(args),
        Cmd::ClippyUser => kernel_image::clippy_user(),
        Cmd::Difftest(args) => difftest::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\x1b[1;31merror:\x1b[0m {e}");
            ExitCode::FAILURE
        }
    }
}

/// Splits `--smp N` / `--mem M` out of the pass-through arguments.
fn apply_extra(args: &mut RunArgs) -> Result<Vec<String>, String> {
    let mut qemu_args = Vec::new();
    let mut it = args.extra.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--smp" => {
                let v = value("--smp")?;
                args.smp = v
                    .parse()
                    .map_err(|_| format!("--smp wants a number, got '{v}'"))?;
            }
            "--mem" => args.mem = value("--mem")?,
            "--timeout" => {
                let v = value("--timeout")?;
                args.timeout = Some(
                    v.parse()
                        .map_err(|_| format!("--timeout wants seconds, got '{v}'"))?,
                );
            }
            _ => qemu_args.push(a.clone()),
        }
    }
    Ok(qemu_args)
}

fn run(mut args: RunArgs, gdb: bool) -> Result<(), String> {
    let passthrough = apply_extra(&mut args)?;
    prereq::ensure_qemu()?;
    let kernel = kernel_image::build(args.release)?;
    let mut cfg = qemu::Config::new(&kernel, args.smp, &args.mem);
    cfg.cmdline = args.append.clone().unwrap_or_default();
    cfg.extra = passthrough;
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    cfg.timeout = match args.timeout {
        Some(0) => None,
        Some(s) => Some(std::time::Duration::from_secs(s)),
        None if interactive => None,
        None => Some(std::time::Duration::from_secs(120)),
    };
    if gdb {
        return qemu::gdb(&cfg, &kernel);
    }
    step(format!(
        "booting K42-rs: {} processors, {} memory (QEMU {}){}",
        args.smp,
        args.mem,
        qemu::version(),
        if interactive {
            "; busybox sh, 'exit' for the k42> monitor ('help', 'poweroff')"
        } else {
            ""
        }
    ));
    let out = cfg.run(qemu::Io::Interactive)?;
    match out.status {
        qemu::Status::Exited(0) => Ok(()),
        qemu::Status::Exited(c) => Err(format!(
            "QEMU exited with status {c}; last line: {}",
            out.last_line()
        )),
        qemu::Status::TimedOut(d) => Err(format!(
            "QEMU stopped after {} s (--timeout); last line: {}",
            d.as_secs(),
            out.last_line()
        )),
    }
}

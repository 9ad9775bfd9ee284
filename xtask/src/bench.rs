//! `cargo xtask bench`: the benchmarks, hosted and in-kernel.
//!
//! - Hosted: `cargo bench` for every crate under `crates/` with a
//!   `benches/` folder (criterion), arguments after `--` passed through
//!   (for example `-- --quick`).
//! - In-kernel: the kernel booted with `kbench` at `--smp N`; each
//!   `ktest::kbench!` function prints `kbench:` lines (cycles per
//!   operation, scaling over processor counts), which are shown here.
//! - `--vs-linux`: the static microbenchmarks of `tests/linux-bench` on
//!   Linux and on K42-rs in the same QEMU (`cargo xtask difftest --bench`):
//!   on K42-rs once through trap reflection and once built against the
//!   direct-branch header (`user/syslib/include/k42-syslib.h`); the
//!   figures, each K42-rs column's ratio to Linux and direct to trap.
//!
//! Figures go into `docs/perf/*.md` as ratios from one run: absolute times
//! under software emulation are noise.

use crate::qemu::{self, Io, Status};
use std::process::Command;
use std::time::Duration;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Only the in-kernel benchmarks.
    #[arg(long)]
    kernel_only: bool,
    /// Only the hosted benchmarks.
    #[arg(long, conflicts_with = "kernel_only")]
    host_only: bool,
    /// Instead: the Linux microbenchmarks on Linux and on K42-rs in the
    /// same QEMU (tests/linux-bench), side by side.
    #[arg(long, conflicts_with_all = ["kernel_only", "host_only"])]
    vs_linux: bool,
    /// With --vs-linux: only benchmarks whose name contains this.
    #[arg(long, requires = "vs_linux")]
    filter: Option<String>,
    /// Only the in-kernel benchmarks whose name contains this, e.g.
    /// `--only mm_fault` (hosted benchmarks are skipped).
    #[arg(long, conflicts_with_all = ["host_only", "vs_linux"])]
    only: Option<String>,
    /// Processors for the in-kernel run (it sweeps 1, 2, 4 .. N).
    #[arg(long, default_value_t = 4)]
    smp: u32,
    /// Arguments for the hosted benchmark binaries.
    #[arg(last = true)]
    extra: Vec<String>,
}

/// Runs the benchmarks.
pub fn run(args: BenchArgs) -> Result<(), String> {
    if args.vs_linux {
        return crate::difftest::run(crate::difftest::DifftestArgs::vs_linux(args.filter));
    }
    if !args.kernel_only && args.only.is_none() {
        let mut crates: Vec<String> = std::fs::read_dir(crate::root().join("crates"))
            .map_err(|e| e.to_string())?
            .flatten()
            .filter(|e| e.path().join("benches").is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        crates.sort();
        for name in crates {
            crate::step(format!("hosted benchmarks: {name}"));
            let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            cmd.current_dir(crate::root())
                .args(["bench", "-p", &name, "--"])
                .args(&args.extra);
            let ok = cmd.status().is_ok_and(|s| s.success());
            if !ok {
                return Err(format!("benchmarks of {name} failed"));
            }
        }
    }
    if !args.host_only {
        crate::prereq::ensure_qemu()?;
        let kernel = crate::kernel_image::build(true)?;
        crate::step(format!(
            "in-kernel benchmarks at -smp {} (release kernel)",
            args.smp
        ));
        let mut cfg = qemu::Config::new(&kernel, args.smp, "512M");
        cfg.cmdline = match &args.only {
            Some(name) => format!("kbench kbench.only={name}"),
            None => "kbench".into(),
        };
        // Every guest frame backed by host memory before the first
        // benchmark: otherwise a frame's first use costs a host page fault
        // (tens of microseconds in a VM without KVM), and the fault
        // benchmarks, which take fresh frames, measure the host.
        cfg.extra.push("-mem-prealloc".into());
        cfg.timeout = Some(Duration::from_secs(600));
        cfg.idle_timeout = Some(Duration::from_secs(120));
        let out = cfg.run_with(Io::Captured, &mut |line| {
            if let Some(rest) = line.strip_prefix("kbench: ") {
                println!("  {rest}");
            }
        })?;
        if out.status != Status::Exited(ktest::protocol::qemu_status(ktest::protocol::EXIT_PASS)) {
            return Err(format!(
                "the benchmark kernel ended with {:?}; last line: {}",
                out.status,
                out.last_line()
            ));
        }
    }
    Ok(())
}

//! `cargo xtask test`: every test in the tree, one closing line.
//!
//! 1. Host tests: `cargo test --workspace` (the hosted crates, the tools,
//!    this driver). Counts come from cargo's `test result:` lines.
//! 2. Loom models: every `crates/*/tests/loom.rs` and `user/*/tests/loom.rs`, built with
//!    `--cfg loom` in its own target directory.
//! 3. In-kernel tests: the kernel booted with `ktest` at `-smp 1` and
//!    `-smp 4`. A test that panics or hangs (no output for
//!    [`IDLE_TIMEOUT`]) is a failure that names the test; the kernel is then
//!    booted again from the next test, so one bad test never hides others.
//! 4. A boot trace: the kernel booted with `trace=all workload=boot`, its
//!    COM2 stream kept as a file, and `boot_trace` (tools/ktrace) run on
//!    it: a real kernel trace must decode fully.
//!
//! The last line is `N passed, N failed`. `K42_KTEST_SELFCHECK=panic` (or
//! `hang`) adds one deliberately failing kernel test to the `-smp 1` run,
//! to check the harness itself.

use crate::qemu::{self, Io, Status};
use ktest::protocol::{self, Outcome};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

/// Silence that counts as a hung kernel test.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Limit on one boot of the kernel test runner.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(300);
/// A machine the kernel tests run on.
pub struct Machine {
    /// Label in the results, e.g. `smp4`.
    pub label: &'static str,
    /// Processors.
    pub smp: u32,
    /// More QEMU arguments.
    pub qemu: &'static [&'static str],
}

/// The machines the kernel tests run on: one processor, four, and four on
/// two NUMA nodes (where the `numa_*` tests run too).
pub const MACHINES: [Machine; 3] = [
    Machine {
        label: "smp1",
        smp: 1,
        qemu: &[],
    },
    Machine {
        label: "smp4",
        smp: 4,
        qemu: &[],
    },
    Machine {
        label: "numa2",
        smp: 4,
        qemu: &[
            "-object",
            "memory-backend-ram,id=m0,size=128M",
            "-object",
            "memory-backend-ram,id=m1,size=128M",
            "-numa",
            "node,nodeid=0,cpus=0-1,memdev=m0",
            "-numa",
            "node,nodeid=1,cpus=2-3,memdev=m1",
        ],
    },
];

#[derive(clap::Args)]
pub struct TestArgs {
    /// Only the in-kernel tests.
    #[arg(long)]
    kernel_only: bool,
    /// Only the host tests (cargo test and loom).
    #[arg(long, conflicts_with = "kernel_only")]
    host_only: bool,
    /// Skip the loom models.
    #[arg(long)]
    no_loom: bool,
    /// Build the kernel with optimisations.
    #[arg(long)]
    release: bool,
    /// Only the in-kernel tests whose name contains this (host tests are
    /// skipped), e.g. `--only dispatch_fuzz`.
    #[arg(long, conflicts_with = "host_only")]
    only: Option<String>,
    /// Only on these machines (smp1, smp4, numa2; default: all three).
    #[arg(long, value_delimiter = ',')]
    machine: Vec<String>,
    /// Extra kernel command-line words, e.g. `fuzz.seconds=60`.
    #[arg(long)]
    append: Option<String>,
    /// Boot each machine this many times (to catch a rare failure).
    #[arg(long, default_value_t = 1)]
    repeat: u32,
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    failures: Vec<String>,
}

impl Tally {
    fn fail(&mut self, what: String) {
        self.failed += 1;
        self.failures.push(what);
    }
}

/// Sums cargo's `test result: ok. 5 passed; 1 failed; ...` lines.
fn count_cargo_results(output: &str) -> (usize, usize) {
    let mut passed = 0;
    let mut failed = 0;
    for line in output.lines() {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            continue;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(kind), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let n: usize = n.parse().unwrap_or(0);
            match kind {
                "passed" => passed += n,
                "failed" => failed += n,
                _ => {}
            }
        }
    }
    (passed, failed)
}

/// Runs a cargo test command, streaming its output, and tallies it.
fn cargo_tests(label: &str, cmd: &mut Command, tally: &mut Tally) {
    let out = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            tally.fail(format!("{label}: cannot run cargo: {e}"));
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    let (p, f) = count_cargo_results(&text);
    tally.passed += p;
    tally.failed += f;
    if f > 0 {
        for line in text.lines().filter(|l| l.ends_with("... FAILED")) {
            tally
                .failures
                .push(format!("{label}: {}", line.trim_end_matches(" ... FAILED")));
        }
    }
    if !out.status.success() && f == 0 {
        tally.fail(format!(
            "{label}: cargo failed before running tests (build error?)"
        ));
    }
    crate::step(format!("{label}: {p} passed, {f} failed"));
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(crate::root());
    c
}

fn host_tests(tally: &mut Tally, loom: bool) {
    crate::step("host tests: cargo test --workspace --no-fail-fast");
    cargo_tests(
        "host",
        cargo().args(["test", "--workspace", "--no-fail-fast"]),
        tally,
    );
    if !loom {
        return;
    }
    // Every package under crates/ or user/ with a tests/loom.rs; the
    // package name is the folder name.
    let mut crates: Vec<String> = ["crates", "user"]
        .iter()
        .filter_map(|dir| std::fs::read_dir(crate::root().join(dir)).ok())
        .flatten()
        .flatten()
        .filter(|e| e.path().join("tests/loom.rs").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    crates.sort();
    for name in crates {
        crate::step(format!("loom models: {name}"));
        let mut cmd = cargo();
        cmd.args([
            "test",
            "--release",
            "--no-fail-fast",
            "-p",
            &name,
            "--test",
            "loom",
        ])
        .env("RUSTFLAGS", "--cfg loom")
        .env("CARGO_TARGET_DIR", crate::target_dir().join("loom"));
        cargo_tests(&format!("loom {name}"), &mut cmd, tally);
    }
}

/// Boots the kernel test runner at `smp` processors until every test has
/// a verdict.
fn kernel_tests(
    kernel: &std::path::Path,
    machine: &Machine,
    selfcheck: Option<&str>,
    only: Option<&str>,
    append: Option<&str>,
    tally: &mut Tally,
) {
    let smp = machine.label;
    let log_dir = crate::target_dir().join("k42/logs");
    let _ = std::fs::create_dir_all(&log_dir);
    let mut start = 0;
    let mut boot = 0;
    loop {
        boot += 1;
        let mut cfg = qemu::Config::new(kernel, machine.smp, "256M");
        cfg.extra = machine.qemu.iter().map(|s| s.to_string()).collect();
        cfg.cmdline = format!(
            "{} {}={start}",
            protocol::CMDLINE_RUN,
            protocol::CMDLINE_START
        );
        if let Some(k) = selfcheck {
            cfg.cmdline.push_str(&format!(" ktest.selfcheck={k}"));
        }
        if let Some(o) = only {
            cfg.cmdline
                .push_str(&format!(" {}={o}", protocol::CMDLINE_ONLY));
        }
        if let Some(a) = append {
            cfg.cmdline.push(' ');
            cfg.cmdline.push_str(a);
        }
        cfg.timeout = Some(BOOT_TIMEOUT);
        cfg.idle_timeout = Some(IDLE_TIMEOUT);
        let mut running = String::new();
        let out = match cfg.run_with(Io::Captured, &mut |line| {
            if let Some(rest) = line.strip_prefix("ktest: run ") {
                running = rest.split_once(' ').map_or(rest, |(_, n)| n).to_string();
            } else if let Some(rest) = line.strip_prefix("ktest: fail ") {
                let msg = rest.split_once(' ').map_or("", |(_, m)| m);
                eprintln!("    \x1b[31mFAIL\x1b[0m [{smp}] {running}: {msg}");
            }
        }) {
            Ok(o) => o,
            Err(e) => {
                tally.fail(format!("[{smp}] {e}"));
                return;
            }
        };
        let path = log_dir.join(format!("ktest-{smp}-boot{boot}.log"));
        let _ = std::fs::write(&path, &out.log);
        let log = protocol::parse(&out.log);
        if log.total.is_none() {
            tally.fail(format!(
                "[{smp}] the kernel did not reach its test runner ({}); last line: {}; log: {}",
                describe(out.status),
                out.last_line(),
                path.display()
            ));
            return;
        }
        for r in &log.results {
            let name = format!("[{smp}] {}", r.name);
            match &r.outcome {
                Outcome::Pass { micros } => {
                    tally.passed += 1;
                    println!("    ok   {name} ({micros} us)");
                }
                Outcome::Fail(msg) => {
                    tally.fail(format!("{name}: {msg} (log: {})", path.display()))
                }
                Outcome::Unfinished => {
                    eprintln!("    \x1b[31mFAIL\x1b[0m {name}: no verdict");
                    tally.fail(format!(
                        "{name}: no verdict ({}); last line: {}; log: {}",
                        describe(out.status),
                        out.last_line(),
                        path.display()
                    ))
                }
            }
        }
        match log.resume_from() {
            None => {
                if out.status != Status::Exited(protocol::qemu_status(protocol::EXIT_PASS)) {
                    tally.fail(format!(
                        "[{smp}] test run ended with {} after its last test; log: {}",
                        describe(out.status),
                        path.display()
                    ));
                }
                return;
            }
            Some(next) => {
                if log.results.is_empty() {
                    tally.fail(format!(
                        "[{smp}] the runner stopped before any test; log: {}",
                        path.display()
                    ));
                    return;
                }
                crate::step(format!("[{smp}] booting again from test {next}"));
                start = next;
            }
        }
    }
}

fn describe(s: Status) -> String {
    match s {
        Status::Exited(c) if c == protocol::qemu_status(protocol::EXIT_PANIC) => {
            "kernel panic".into()
        }
        Status::Exited(c) => format!("QEMU exit status {c}"),
        Status::TimedOut(d) => format!("timed out after {} s", d.as_secs()),
    }
}

/// A traced boot (as `cargo xtask trace -- boot`), then the check that a
/// real kernel trace decodes fully (tools/ktrace/tests/boot_trace.rs).
fn boot_trace(kernel: &std::path::Path, tally: &mut Tally) {
    crate::step("boot trace: traced boot at -smp 4, then its decode check");
    match crate::trace::record(kernel, "boot", 4, "256M", "all", &mut |_| {}) {
        Err(e) => tally.fail(format!("boot trace: {e}")),
        Ok(path) => {
            let mut cmd = cargo();
            cmd.args(["test", "-p", "ktrace-tool", "--test", "boot_trace"])
                .env("KTRACE_BOOT_TRACE", path);
            cargo_tests("boot trace", &mut cmd, tally);
        }
    }
}

/// Guest seconds of the long system-call fuzz (issue 9: "one minute").
pub const LONG_FUZZ_SECONDS: u32 = 60;

/// The system-call fuzz tests once more (native calls at the kernel,
/// Linux calls at the system library), each for [`LONG_FUZZ_SECONDS`] of
/// guest time at `-smp 4` (the machines run them for 5 s otherwise):
/// random numbers and arguments from a user process may kill the process,
/// never the kernel, and leave nothing behind.
fn long_fuzz(kernel: &std::path::Path, tally: &mut Tally) {
    let machine = Machine {
        label: "smp4-fuzz60",
        smp: 4,
        qemu: &[],
    };
    crate::step(format!(
        "system-call fuzz for {LONG_FUZZ_SECONDS} s of guest time (-smp 4)"
    ));
    let append = format!("fuzz.seconds={LONG_FUZZ_SECONDS}");
    kernel_tests(
        kernel,
        &machine,
        None,
        Some("fuzz_system_calls"),
        Some(&append),
        tally,
    );
}

/// The differential suite (`cargo xtask difftest`) on machine `label`:
/// each program that matches Linux passes; one that differs fails unless
/// `tests/difftest/known-differences.txt` lists it (then it is reported,
/// not counted). At `smp4` K42-rs runs the programs on all four
/// processors (forked children spread over them), Linux likewise.
fn difftest(label: &str, tally: &mut Tally) {
    crate::step(format!(
        "differential tests: the suite on Linux and on K42-rs ({label})"
    ));
    let c = match crate::difftest::suite(label) {
        Ok(c) => c,
        Err(e) => return tally.fail(format!("difftest ({label}): {e}")),
    };
    let known = crate::difftest::known_differences();
    for name in &c.matched {
        tally.passed += 1;
        println!("    ok   [difftest {label}] {name}");
        if known.contains_key(name) {
            println!(
                "         ({name} matches now: take it off tests/difftest/known-differences.txt)"
            );
        }
    }
    for (name, diff) in &c.differed {
        match known.get(name) {
            Some(why) => println!("    known difference [difftest {label}] {name}: {why}"),
            None => {
                eprintln!("==== {name} differs ({label})\n{diff}");
                tally.fail(format!(
                    "[difftest {label}] {name} differs from Linux (see above)"
                ));
            }
        }
    }
}

/// Runs the suite; the exit code is non-zero if anything failed.
pub fn run(args: TestArgs) -> ExitCode {
    let mut tally = Tally::default();
    if let Some(m) = args
        .machine
        .iter()
        .find(|m| !MACHINES.iter().any(|k| k.label == *m))
    {
        eprintln!("unknown machine '{m}': smp1, smp4 or numa2");
        return ExitCode::FAILURE;
    }
    if !args.kernel_only && args.only.is_none() {
        crate::prereq::offer_optional();
        host_tests(&mut tally, !args.no_loom);
    }
    if !args.host_only {
        match crate::prereq::ensure_qemu().and_then(|()| crate::kernel_image::build(args.release)) {
            Err(e) => tally.fail(format!("kernel tests: {e}")),
            Ok(kernel) => {
                let selfcheck = std::env::var("K42_KTEST_SELFCHECK").ok();
                let chosen = |m: &Machine| {
                    args.machine.is_empty() || args.machine.iter().any(|l| l == m.label)
                };
                for round in 1..=args.repeat.max(1) {
                    for (i, machine) in MACHINES.iter().enumerate().filter(|(_, m)| chosen(m)) {
                        crate::step(format!(
                            "in-kernel tests on {} (-smp {}){}",
                            machine.label,
                            machine.smp,
                            if args.repeat > 1 {
                                format!(", round {round}")
                            } else {
                                String::new()
                            }
                        ));
                        let check = if i == 0 { selfcheck.as_deref() } else { None };
                        kernel_tests(
                            &kernel,
                            machine,
                            check,
                            args.only.as_deref(),
                            args.append.as_deref(),
                            &mut tally,
                        );
                    }
                }
                if args.only.is_none() && args.machine.is_empty() {
                    long_fuzz(&kernel, &mut tally);
                    boot_trace(&kernel, &mut tally);
                    difftest("smp1", &mut tally);
                    difftest("smp4", &mut tally);
                }
            }
        }
    }
    if !tally.failures.is_empty() {
        eprintln!("\nfailures:");
        for f in &tally.failures {
            eprintln!("    {f}");
        }
    }
    println!("{} passed, {} failed", tally.passed, tally.failed);
    if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn counts_cargo_result_lines() {
        let out = "running 3 tests\n\
            test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
            test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n";
        assert_eq!(count_cargo_results(out), (5, 1));
        assert_eq!(count_cargo_results("no tests here"), (0, 0));
    }
}

//! `cargo xtask difftest`: the differential tests of the Linux personality
//! (issue 9): the same static programs run on Linux and on K42-rs, in the
//! same QEMU machine, and their outputs are compared.
//!
//! 1. Every `tests/difftest/progs/*.c` is built with `musl-gcc -static -O2`
//!    (into `target/k42/difftest/bin/`); `*.sh` files are busybox `sh`
//!    scripts. `tests/difftest/harness/difftest-run.c` is the runner that
//!    executes them inside the guest.
//! 2. An initramfs is written with the `cpio` crate: Debian's
//!    busybox-static with its applet links, `/init` (a busybox `sh` script
//!    that mounts proc, sys, devtmpfs and tmpfs and starts the runner),
//!    the runner, the programs and their list.
//! 3. Debian's kernel (`/boot/vmlinuz-*`, package `linux-image-amd64`)
//!    boots it in QEMU, on the machine the kernel tests use (`--machine`,
//!    default `smp1`). The runner frames each program's output and exit
//!    status between `@@difftest@@ begin NAME` and `@@difftest@@ end NAME
//!    status=... bytes=N newline=yes|no` lines on the serial console;
//!    [`parse_serial`] turns the log into a map name -> [`Outcome`].
//! 4. K42-rs boots the same initramfs ([`run_k42`]; not yet possible: it
//!    does not run Linux binaries yet) and [`compare`] prints a unified
//!    diff per program that differs, then `N matched, N differed`.
//!
//! `--linux-only` prints Linux's outputs (the expected ones). `--self-check`
//! runs Linux twice and compares the runs, which checks that every program
//! prints deterministic output. `--bench` runs `tests/linux-bench/` instead
//! and prints cycles per operation (issue 9, point 5): on Linux, and on
//! K42-rs each program twice, through trap reflection and built against
//! the system library's direct-branch header ([`bench_table_vs`]).
//! `--shell` boots Linux on the suite's initramfs into an interactive
//! busybox shell.

use crate::qemu::{self, Io, Status};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Prefix of every line the in-guest runner prints.
pub const MARK: &str = "@@difftest@@";
/// Whole-run limit for one boot.
const BOOT_TIMEOUT: Duration = Duration::from_secs(240);
/// Silence that counts as a hung guest.
const IDLE_TIMEOUT: Duration = Duration::from_secs(40);
/// Per-program limit inside the guest (milliseconds), difftest and bench.
const PROGRAM_TIMEOUT_MS: u32 = 15_000;
const BENCH_TIMEOUT_MS: u32 = 60_000;

#[derive(clap::Args)]
pub struct DifftestArgs {
    /// Only programs whose name contains this string.
    #[arg(long)]
    filter: Option<String>,
    /// Run on Linux only and print every program's output and status.
    #[arg(long)]
    linux_only: bool,
    /// Keep the initramfs and serial logs (under target/k42/difftest/).
    #[arg(long)]
    keep: bool,
    /// Run Linux twice and compare the two runs (checks the suite is
    /// deterministic; exercises the comparison end to end).
    #[arg(long, conflicts_with = "linux_only")]
    self_check: bool,
    /// Boot Linux on the same initramfs into an interactive busybox shell
    /// (the programs are in /difftest; `poweroff -f` leaves).
    #[arg(long, conflicts_with_all = ["linux_only", "self_check", "bench"])]
    shell: bool,
    /// Run the microbenchmarks of tests/linux-bench instead.
    #[arg(long)]
    bench: bool,
    /// Machine: as for the kernel tests (smp1, smp4, numa2), or smp2.
    #[arg(long, default_value = "smp1")]
    machine: String,
    /// K42-rs runs programs on the boot processor only (kernel word
    /// `serve=boot`), not on every processor.
    #[arg(long, conflicts_with = "bench")]
    serve_boot: bool,
}

impl DifftestArgs {
    /// `difftest --bench [--filter F]`: the Linux-against-K42-rs
    /// microbenchmarks (`cargo xtask bench --vs-linux`).
    pub fn vs_linux(filter: Option<String>) -> Self {
        DifftestArgs {
            filter,
            linux_only: false,
            keep: false,
            self_check: false,
            shell: false,
            bench: true,
            machine: "smp1".into(),
            serve_boot: false,
        }
    }
}

/// What one program did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// stdout and stderr together, bytes outside printable ASCII escaped
    /// as `\xNN` by the runner.
    pub output: String,
    /// `exit:N`, `signal:N`, `timeout`, or `unfinished` when the guest
    /// stopped in the middle of the program.
    pub status: String,
}

/// Program name -> outcome, in name order.
pub type Outcomes = BTreeMap<String, Outcome>;

/// A parsed serial log.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Every program that began.
    pub outcomes: Outcomes,
    /// The guest reached its `/init` (`@@difftest@@ ready`).
    pub ready: bool,
    /// The runner finished its list (`@@difftest@@ all done`).
    pub all_done: bool,
    /// How long each program ran, in milliseconds (`ms=` of its end
    /// line): reported, never compared.
    pub millis: BTreeMap<String, u64>,
}

/// Reads the runner's framing out of a serial log. Lines outside a
/// program's frame (kernel messages, the shell) are ignored. A frame
/// whose end is missing gives status `unfinished`.
pub fn parse_serial(log: &str) -> Parsed {
    let mut p = Parsed::default();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in log.lines() {
        let Some(rest) = line.strip_prefix(MARK).and_then(|r| r.strip_prefix(' ')) else {
            if let Some((_, lines)) = current.as_mut() {
                lines.push(line);
            }
            continue;
        };
        if rest == "ready" {
            p.ready = true;
        } else if rest == "all done" {
            p.all_done = true;
        } else if let Some(name) = rest.strip_prefix("begin ") {
            if let Some((old, lines)) = current.take() {
                p.outcomes.insert(old, unfinished(&lines));
            }
            current = Some((name.trim().to_string(), Vec::new()));
        } else if let Some(end) = rest.strip_prefix("end ") {
            let mut words = end.split_whitespace();
            let name = words.next().unwrap_or_default();
            let mut status = "unfinished".to_string();
            let mut newline = true;
            for w in words {
                if let Some(s) = w.strip_prefix("status=") {
                    status = s.to_string();
                } else if let Some(n) = w.strip_prefix("newline=") {
                    newline = n != "no";
                } else if let Some(ms) = w.strip_prefix("ms=").and_then(|m| m.parse().ok()) {
                    p.millis.insert(name.to_string(), ms);
                }
            }
            match current.take() {
                Some((begun, lines)) if begun == name => {
                    let mut output: String = lines.iter().map(|l| format!("{l}\n")).collect();
                    if !newline {
                        output.pop();
                    }
                    p.outcomes.insert(begun, Outcome { output, status });
                }
                // An end without its begin: keep what we had, note the end.
                other => {
                    if let Some((begun, lines)) = other {
                        p.outcomes.insert(begun, unfinished(&lines));
                    }
                    p.outcomes.insert(
                        name.to_string(),
                        Outcome {
                            output: String::new(),
                            status: "end without begin".into(),
                        },
                    );
                }
            }
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line);
        }
    }
    if let Some((name, lines)) = current {
        p.outcomes.insert(name, unfinished(&lines));
    }
    p
}

fn unfinished(lines: &[&str]) -> Outcome {
    Outcome {
        output: lines.iter().map(|l| format!("{l}\n")).collect(),
        status: "unfinished".into(),
    }
}

/// The result of comparing two runs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Programs with equal output and status.
    pub matched: Vec<String>,
    /// Programs that differ, each with its diff (or a note that one side
    /// lacks it).
    pub differed: Vec<(String, String)>,
}

impl Comparison {
    /// `N matched, N differed`.
    pub fn summary(&self) -> String {
        format!(
            "{} matched, {} differed",
            self.matched.len(),
            self.differed.len()
        )
    }
}

/// Compares the expected outcomes (Linux) with the actual ones (K42-rs).
/// The status takes part as a last pseudo-line `[status exit:0]`, so a
/// wrong exit status shows in the same diff as wrong output.
pub fn compare(expected: &Outcomes, actual: &Outcomes, labels: (&str, &str)) -> Comparison {
    let mut c = Comparison::default();
    let names: std::collections::BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    for name in names {
        match (expected.get(name), actual.get(name)) {
            (Some(e), Some(a)) if e == a => c.matched.push(name.clone()),
            (Some(e), Some(a)) => {
                let d = unified_diff(&with_status(e), &with_status(a), labels);
                c.differed.push((name.clone(), d));
            }
            (Some(_), None) => c.differed.push((
                name.clone(),
                format!("only on {} (missing on {})\n", labels.0, labels.1),
            )),
            (None, Some(_)) => c.differed.push((
                name.clone(),
                format!("only on {} (missing on {})\n", labels.1, labels.0),
            )),
            (None, None) => unreachable!("name came from one of the maps"),
        }
    }
    c
}

fn with_status(o: &Outcome) -> String {
    let mut s = o.output.clone();
    if !s.is_empty() && !s.ends_with('\n') {
        s.push_str("\n\\ no newline at end of output\n");
    }
    let _ = writeln!(s, "[status {}]", o.status);
    s
}

/// A unified diff of two texts by lines (`---`/`+++` headers, `@@` hunks
/// with three lines of context). The texts are short program outputs, so
/// the longest common subsequence is computed directly, in O(n·m).
pub fn unified_diff(a: &str, b: &str, labels: (&str, &str)) -> String {
    const CONTEXT: usize = 3;
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    // lcs[i][j]: length of the LCS of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // The edit script: (tag, line index in a, line index in b).
    #[derive(Clone, Copy, PartialEq)]
    enum Op {
        Same,
        Del,
        Add,
    }
    let mut ops = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((Op::Same, i, j));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push((Op::Del, i, j));
            i += 1;
        } else {
            ops.push((Op::Add, i, j));
            j += 1;
        }
    }
    let mut out = format!("--- {}\n+++ {}\n", labels.0, labels.1);
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != Op::Same).collect();
    let mut k = 0;
    while k < changed.len() {
        // Grow a hunk while the next change is within 2*CONTEXT lines.
        let start = changed[k].saturating_sub(CONTEXT);
        let mut last = changed[k];
        while k + 1 < changed.len() && changed[k + 1] <= last + 2 * CONTEXT + 1 {
            k += 1;
            last = changed[k];
        }
        let end = (last + CONTEXT + 1).min(ops.len());
        let hunk = &ops[start..end];
        let a_start = hunk[0].1;
        let b_start = hunk[0].2;
        let a_len = hunk.iter().filter(|o| o.0 != Op::Add).count();
        let b_len = hunk.iter().filter(|o| o.0 != Op::Del).count();
        let _ = writeln!(
            out,
            "@@ -{},{} +{},{} @@",
            a_start + usize::from(a_len > 0),
            a_len,
            b_start + usize::from(b_len > 0),
            b_len
        );
        for &(op, i, j) in hunk {
            let _ = match op {
                Op::Same => writeln!(out, " {}", a[i]),
                Op::Del => writeln!(out, "-{}", a[i]),
                Op::Add => writeln!(out, "+{}", b[j]),
            };
        }
        k += 1;
    }
    out
}

/// One program of the suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Its name (the source file's stem).
    pub name: String,
    /// Its source.
    pub source: PathBuf,
    /// A busybox `sh` script rather than C.
    pub script: bool,
}

/// The programs in `dir` (`*.c` and `*.sh`) whose name contains `filter`,
/// in name order.
pub fn discover(dir: &Path, filter: Option<&str>) -> Result<Vec<Program>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut progs: Vec<Program> = rd
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let ext = path.extension()?.to_str()?;
            if ext != "c" && ext != "sh" {
                return None;
            }
            let name = path.file_stem()?.to_str()?.to_string();
            Some(Program {
                name,
                script: ext == "sh",
                source: path,
            })
        })
        .filter(|p| filter.is_none_or(|f| p.name.contains(f)))
        .collect();
    progs.sort_by(|a, b| a.name.cmp(&b.name));
    for w in progs.windows(2) {
        if w[0].name == w[1].name {
            return Err(format!(
                "two programs named {} ({} and {})",
                w[0].name,
                w[0].source.display(),
                w[1].source.display()
            ));
        }
    }
    Ok(progs)
}

fn newer(src: &[&Path], out: &Path) -> bool {
    let Ok(out_time) = std::fs::metadata(out).and_then(|m| m.modified()) else {
        return true;
    };
    src.iter().any(|s| {
        std::fs::metadata(s)
            .and_then(|m| m.modified())
            .map_or(true, |t| t > out_time)
    })
}

/// The headers in `dirs`: a program is rebuilt when one is newer.
fn headers(dirs: &[&Path]) -> Vec<PathBuf> {
    dirs.iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "h"))
        .collect()
}

/// Builds one C program with musl-gcc, if its output is older than its
/// source or a header in `include`.
fn build_c(src: &Path, out: &Path, include: &[&Path]) -> Result<(), String> {
    build_c_with(src, out, include, &[])
}

/// [`build_c`] with extra compiler flags (`-DNAME`).
fn build_c_with(src: &Path, out: &Path, include: &[&Path], flags: &[&str]) -> Result<(), String> {
    let hdrs = headers(include);
    let mut deps: Vec<&Path> = hdrs.iter().map(PathBuf::as_path).collect();
    deps.push(src);
    if !newer(&deps, out) {
        return Ok(());
    }
    let mut cmd = Command::new("musl-gcc");
    cmd.args([
        "-static",
        "-O2",
        "-Wall",
        "-Wextra",
        "-Wno-unused-parameter",
    ]);
    cmd.args(flags);
    for dir in include {
        cmd.arg("-I").arg(dir);
    }
    let o = cmd
        .arg("-o")
        .arg(out)
        .arg(src)
        .arg("-lpthread")
        .output()
        .map_err(|e| format!("cannot run musl-gcc: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "musl-gcc failed on {}:\n{}",
            src.display(),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(())
}

/// Builds the runner and the C programs (a few at a time) into `out_dir`.
/// A program's own folder and the harness folder are its include path.
fn build_all(progs: &[Program], out_dir: &Path) -> Result<(), String> {
    let harness = crate::root().join("tests/difftest/harness");
    std::fs::create_dir_all(out_dir).map_err(|e| e.to_string())?;
    build_c(
        &harness.join("difftest-run.c"),
        &out_dir.join("difftest-run"),
        &[&harness],
    )?;
    let c_progs: Vec<&Program> = progs.iter().filter(|p| !p.script).collect();
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let chunk = c_progs.len().div_ceil(jobs).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = c_progs
            .chunks(chunk)
            .map(|part| {
                let harness = &harness;
                s.spawn(move || {
                    part.iter().try_for_each(|p| {
                        let own = p.source.parent().unwrap_or(Path::new("."));
                        build_c(&p.source, &out_dir.join(&p.name), &[own, harness])
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().map_err(|_| "build thread panicked".to_string())?)
    })
}

/// The `/init` the guest runs: mount the file systems, run the list,
/// power off.
pub fn init_script(timeout_ms: u32) -> String {
    format!(
        "#!/bin/sh\n\
         # K42-rs difftest /init (written by cargo xtask difftest)\n\
         export PATH=/bin:/sbin:/usr/bin:/usr/sbin\n\
         mount -t proc proc /proc\n\
         mount -t sysfs sysfs /sys\n\
         mount -t devtmpfs devtmpfs /dev\n\
         mount -t tmpfs tmpfs /tmp\n\
         mount -t tmpfs tmpfs /scratch\n\
         if grep -q difftest.shell /proc/cmdline; then\n\
         \x20   echo 'busybox shell; the programs are in /difftest; poweroff -f to leave'\n\
         \x20   exec setsid cttyhack sh -l\n\
         fi\n\
         echo '{MARK} ready'\n\
         /difftest/difftest-run /difftest/list {timeout_ms}\n\
         poweroff -f\n"
    )
}

/// The runner's list: `NAME PATH [ARG]` per program.
pub fn program_list(progs: &[Program]) -> String {
    progs
        .iter()
        .map(|p| {
            if p.script {
                format!("{} /bin/sh /difftest/{}.sh\n", p.name, p.name)
            } else {
                format!("{} /difftest/{}\n", p.name, p.name)
            }
        })
        .collect()
}

/// Applet paths busybox installs (`bin/ls`, `sbin/ifconfig`, ...).
fn busybox_applets(busybox: &Path) -> Result<Vec<String>, String> {
    let o = Command::new(busybox)
        .arg("--list-full")
        .output()
        .map_err(|e| format!("cannot run {} --list-full: {e}", busybox.display()))?;
    if !o.status.success() {
        return Err(format!("{} --list-full failed", busybox.display()));
    }
    Ok(String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.trim().trim_start_matches('/').to_string())
        .filter(|l| !l.is_empty() && !l.contains(".."))
        .collect())
}

/// Writes the initramfs: busybox and its applet links, `/init`, the
/// runner, the programs (binaries from `bin_dir`, scripts from their
/// sources) and the list.
pub fn build_initramfs(
    progs: &[Program],
    bin_dir: &Path,
    busybox: &Path,
    timeout_ms: u32,
) -> Result<Vec<u8>, String> {
    let err = |e: cpio::Error| format!("initramfs: {e}");
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let mut w = cpio::Writer::new();
    for d in [
        "bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys",
    ] {
        w.dir(d, 0o755).map_err(err)?;
    }
    for d in ["tmp", "scratch"] {
        w.dir(d, 0o1777).map_err(err)?;
    }
    for d in ["root", "etc", "difftest"] {
        w.dir(d, 0o755).map_err(err)?;
    }
    // The console, for /init's first output before devtmpfs is mounted.
    let console = cpio::Header {
        mode: cpio::S_IFCHR | 0o600,
        nlink: 1,
        rdev: (5, 1),
        ..Default::default()
    };
    w.entry("dev/console", console, &[]).map_err(err)?;
    w.file("bin/busybox", 0o755, &read(busybox)?).map_err(err)?;
    let mut dirs = std::collections::BTreeSet::new();
    for applet in busybox_applets(busybox)? {
        if applet == "bin/busybox" {
            continue;
        }
        if let Some((dir, _)) = applet.rsplit_once('/') {
            if !["bin", "sbin", "usr/bin", "usr/sbin"].contains(&dir)
                && dirs.insert(dir.to_string())
            {
                w.dir(dir, 0o755).map_err(err)?;
            }
        }
        w.symlink(&applet, "/bin/busybox").map_err(err)?;
    }
    w.file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")
        .map_err(err)?;
    w.file("etc/group", 0o644, b"root:x:0:\n").map_err(err)?;
    w.file("init", 0o755, init_script(timeout_ms).as_bytes())
        .map_err(err)?;
    w.file(
        "difftest/difftest-run",
        0o755,
        &read(&bin_dir.join("difftest-run"))?,
    )
    .map_err(err)?;
    for p in progs {
        if p.script {
            w.file(&format!("difftest/{}.sh", p.name), 0o755, &read(&p.source)?)
                .map_err(err)?;
        } else {
            w.file(
                &format!("difftest/{}", p.name),
                0o755,
                &read(&bin_dir.join(&p.name))?,
            )
            .map_err(err)?;
        }
    }
    w.file("difftest/list", 0o644, program_list(progs).as_bytes())
        .map_err(err)?;
    Ok(w.finish())
}

/// A guest kernel the suite boots: Linux, or (later) K42-rs.
pub struct Guest<'a> {
    /// Label in progress lines and diffs.
    pub label: &'a str,
    /// The kernel image QEMU loads with `-kernel`.
    pub kernel: &'a Path,
    /// Its command line.
    pub cmdline: &'a str,
}

/// The Linux command line: serial console, no kernel chatter between the
/// runner's lines, and a panic ends QEMU (with `-no-reboot`).
pub const LINUX_CMDLINE: &str = "console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init";

/// Boots `guest` on `initramfs` and parses its serial log. Progress lines
/// name each program as it starts. An error if the guest never reached
/// `/init`; a guest that stopped part-way gives what it ran, with
/// `all_done` false and the unfinished program's status `unfinished`.
pub fn boot(
    guest: &Guest<'_>,
    initramfs: &Path,
    machine: &crate::tests::Machine,
    mem: &str,
    total: usize,
    log_path: &Path,
) -> Result<Parsed, String> {
    let mut cfg = qemu::Config::new(guest.kernel, machine.smp, mem);
    cfg.cmdline = guest.cmdline.to_string();
    cfg.extra = machine.qemu.iter().map(|s| s.to_string()).collect();
    // Guest memory backed by the host from the start, for both kernels:
    // otherwise a frame's first use is a host page fault (tens of
    // microseconds without KVM), which the benchmarks would charge to
    // whichever kernel touches more fresh frames.
    cfg.extra.push("-mem-prealloc".into());
    cfg.extra.push("-initrd".into());
    cfg.extra.push(initramfs.display().to_string());
    cfg.timeout = Some(BOOT_TIMEOUT);
    cfg.idle_timeout = Some(IDLE_TIMEOUT);
    let started = Instant::now();
    let mut n = 0;
    let label = guest.label;
    let out = cfg.run_with(Io::Captured, &mut |line| {
        if let Some(name) = line
            .strip_prefix(MARK)
            .and_then(|r| r.strip_prefix(" begin "))
        {
            n += 1;
            crate::step(format!("[{label}] program {n}/{total}: {name}"));
        } else if line == format!("{MARK} ready") {
            crate::step(format!(
                "[{label}] reached /init after {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        }
    })?;
    let _ = std::fs::write(log_path, &out.log);
    let parsed = parse_serial(&out.log);
    let how = match out.status {
        Status::Exited(c) => format!("QEMU exited with status {c}"),
        Status::TimedOut(d) => format!("stopped after {} s", d.as_secs()),
    };
    if !parsed.ready {
        return Err(format!(
            "{label} never reached /init ({how}); last line: {}; log: {}",
            out.last_line(),
            log_path.display()
        ));
    }
    if !parsed.all_done {
        // Kept, not an error here: on K42-rs the programs that ran are
        // still worth comparing. The caller decides.
        crate::step(format!(
            "[{label}] the runner did not finish its list ({how}, {} of {total} programs began); last line: {}; log: {}",
            parsed.outcomes.len(),
            out.last_line(),
            log_path.display()
        ));
        return Ok(parsed);
    }
    crate::step(format!(
        "[{label}] {} programs in {:.1} s",
        parsed.outcomes.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(parsed)
}

/// Runs the suite on K42-rs: the kernel booted with `difftest` runs each
/// program of `/difftest/list` through its system library and frames the
/// output as the Linux runner does (`kernel/src/difftest.rs`). The
/// initramfs is K42-rs's own (the system library) followed by the suite's
/// (QEMU takes one `-initrd`; the kernel reads concatenated archives).
pub fn run_k42(
    initramfs: &Path,
    machine: &crate::tests::Machine,
    serve_boot: bool,
    total: usize,
    log: &Path,
) -> Result<Outcomes, String> {
    let kernel = crate::kernel_image::build(false)?;
    let own = kernel.with_file_name(crate::kernel_image::INITRAMFS);
    let mut bytes = std::fs::read(&own).map_err(|e| format!("{}: {e}", own.display()))?;
    bytes.extend(std::fs::read(initramfs).map_err(|e| format!("{}: {e}", initramfs.display()))?);
    let combined = log.with_file_name("k42-difftest.cpio");
    std::fs::write(&combined, bytes).map_err(|e| format!("{}: {e}", combined.display()))?;
    let guest = Guest {
        label: "k42-rs",
        kernel: &kernel,
        // The suite's own runner, as on Linux; kernel warnings (the
        // system library's "unimplemented call") stay off the console,
        // where they would land inside the runner's frames.
        cmdline: if serve_boot {
            "difftest difftest.runner loglevel=error serve=boot"
        } else {
            "difftest difftest.runner loglevel=error"
        },
    };
    boot(&guest, &combined, machine, "256M", total, log).map(|p| p.outcomes)
}

/// Machines for the differential tests and benchmarks besides the kernel
/// tests' own: two processors, for scaling figures on a two-core host.
static MORE_MACHINES: [crate::tests::Machine; 1] = [crate::tests::Machine {
    label: "smp2",
    smp: 2,
    qemu: &[],
}];

fn machine(label: &str) -> Result<&'static crate::tests::Machine, String> {
    let all = || crate::tests::MACHINES.iter().chain(&MORE_MACHINES);
    all().find(|m| m.label == label).ok_or_else(|| {
        let names: Vec<_> = all().map(|m| m.label).collect();
        format!("unknown machine '{label}'; one of: {}", names.join(", "))
    })
}

fn print_outcomes(o: &Outcomes, millis: &BTreeMap<String, u64>) {
    for (name, out) in o {
        match millis.get(name) {
            Some(ms) => println!("==== {name} ({}, {ms} ms)", out.status),
            None => println!("==== {name} ({})", out.status),
        }
        print!("{}", out.output);
        if !out.output.is_empty() && !out.output.ends_with('\n') {
            println!("\\ no newline at end of output");
        }
    }
}

/// `cargo xtask difftest`.
pub fn run(args: DifftestArgs) -> Result<(), String> {
    let machine = machine(&args.machine)?;
    crate::prereq::ensure_qemu()?;
    crate::prereq::ensure_musl_gcc()?;
    let busybox = crate::prereq::static_busybox()?;
    let linux = crate::prereq::linux_kernel()?;
    let work = crate::target_dir().join("k42/difftest");
    let (src_dir, timeout_ms, what) = if args.bench {
        ("tests/linux-bench", BENCH_TIMEOUT_MS, "benchmarks")
    } else {
        ("tests/difftest/progs", PROGRAM_TIMEOUT_MS, "programs")
    };
    let progs = discover(&crate::root().join(src_dir), args.filter.as_deref())?;
    if progs.is_empty() {
        return Err(format!("no {what} match the filter"));
    }
    crate::step(format!("building {} {what} with musl-gcc", progs.len()));
    let bin_dir = work.join("bin");
    build_all(&progs, &bin_dir)?;
    let image = build_initramfs(&progs, &bin_dir, &busybox, timeout_ms)?;
    let initramfs = work.join(if args.bench {
        "bench.cpio"
    } else {
        "initramfs.cpio"
    });
    std::fs::write(&initramfs, &image).map_err(|e| e.to_string())?;
    crate::step(format!(
        "initramfs: {} ({} KiB, busybox from {})",
        initramfs.display(),
        image.len() / 1024,
        busybox.display()
    ));
    if args.shell {
        let mut cfg = qemu::Config::new(&linux, machine.smp, "256M");
        cfg.cmdline = format!("{LINUX_CMDLINE} difftest.shell");
        cfg.extra = machine.qemu.iter().map(|s| s.to_string()).collect();
        cfg.extra
            .extend(["-initrd".to_string(), initramfs.display().to_string()]);
        crate::step(format!(
            "booting Linux ({}) into busybox sh",
            linux.display()
        ));
        return cfg.run(Io::Interactive).map(|_| ());
    }
    let guest = Guest {
        label: "linux",
        kernel: &linux,
        cmdline: LINUX_CMDLINE,
    };
    crate::step(format!(
        "booting Linux ({}) on {} (-smp {}), QEMU {}",
        linux.display(),
        machine.label,
        machine.smp,
        qemu::version()
    ));
    let log = work.join(if args.bench {
        "bench-linux.log"
    } else {
        "linux.log"
    });
    let first = boot(&guest, &initramfs, machine, "256M", progs.len(), &log)?;
    if !first.all_done {
        return Err(format!(
            "Linux did not run the whole list; log: {}",
            log.display()
        ));
    }

    let result = if args.bench {
        bench_k42(&progs, &bin_dir, &busybox, machine, &work, &first.outcomes)
    } else if args.linux_only {
        print_outcomes(&first.outcomes, &first.millis);
        let mut slow: Vec<(&String, &u64)> = first.millis.iter().collect();
        slow.sort_by(|a, b| b.1.cmp(a.1));
        let slowest: Vec<String> = slow
            .iter()
            .take(3)
            .map(|(n, ms)| format!("{n} {ms} ms"))
            .collect();
        println!("slowest: {}", slowest.join(", "));
        let ok = first
            .outcomes
            .values()
            .filter(|o| o.status == "exit:0")
            .count();
        println!(
            "{} programs ran on Linux: {ok} exited 0, {} did not",
            first.outcomes.len(),
            first.outcomes.len() - ok
        );
        Ok(())
    } else {
        let (second, labels) = if args.self_check {
            let log2 = work.join("linux-2.log");
            (
                boot(&guest, &initramfs, machine, "256M", progs.len(), &log2)?,
                ("linux run 1", "linux run 2"),
            )
        } else {
            let k42 = run_k42(
                &initramfs,
                machine,
                args.serve_boot,
                progs.len(),
                &work.join("k42.log"),
            );
            match k42 {
                Ok(outcomes) => (
                    Parsed {
                        outcomes,
                        ready: true,
                        all_done: true,
                        millis: BTreeMap::new(),
                    },
                    ("linux", "k42-rs"),
                ),
                Err(e) => {
                    println!(
                        "{} programs ran on Linux; K42-rs side: {e}",
                        first.outcomes.len()
                    );
                    return Err(e);
                }
            }
        };
        let c = compare(&first.outcomes, &second.outcomes, labels);
        for (name, diff) in &c.differed {
            println!("==== {name} differs\n{diff}");
        }
        println!("{}", c.summary());
        if c.differed.is_empty() {
            Ok(())
        } else {
            Err(format!("{} programs differ", c.differed.len()))
        }
    };
    if args.keep {
        crate::step(format!(
            "kept: {} and the serial logs in {}",
            initramfs.display(),
            work.display()
        ));
    } else if result.is_ok() {
        let _ = std::fs::remove_file(&initramfs);
    }
    result
}

/// The suite as part of `cargo xtask test`: builds it, runs it on Linux
/// and on K42-rs on machine `label` (`smp1`, `smp4`), and compares.
/// Returns the comparison, or why it could not run.
pub fn suite(label: &str) -> Result<Comparison, String> {
    let machine = machine(label)?;
    crate::prereq::ensure_qemu()?;
    crate::prereq::ensure_musl_gcc()?;
    let busybox = crate::prereq::static_busybox()?;
    let linux = crate::prereq::linux_kernel()?;
    let work = crate::target_dir().join("k42/difftest");
    let progs = discover(&crate::root().join("tests/difftest/progs"), None)?;
    build_all(&progs, &work.join("bin"))?;
    let image = build_initramfs(&progs, &work.join("bin"), &busybox, PROGRAM_TIMEOUT_MS)?;
    let initramfs = work.join("initramfs.cpio");
    std::fs::write(&initramfs, &image).map_err(|e| e.to_string())?;
    let guest = Guest {
        label: "linux",
        kernel: &linux,
        cmdline: LINUX_CMDLINE,
    };
    let log = work.join("linux.log");
    let linux_run = boot(&guest, &initramfs, machine, "256M", progs.len(), &log)?;
    if !linux_run.all_done {
        return Err(format!(
            "Linux did not run the whole list; log: {}",
            log.display()
        ));
    }
    let k42 = run_k42(
        &initramfs,
        machine,
        false,
        progs.len(),
        &work.join("k42.log"),
    )?;
    Ok(compare(&linux_run.outcomes, &k42, ("linux", "k42-rs")))
}

/// `tests/difftest/known-differences.txt`: program → why it still differs.
pub fn known_differences() -> BTreeMap<String, String> {
    let path = crate::root().join("tests/difftest/known-differences.txt");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(n, why)| (n.trim().to_string(), why.trim().to_string()))
        .collect()
}

/// The K42-rs side of `bench --vs-linux`: the same programs, each also
/// built against the direct-branch header, run back to back in one boot
/// (`bench_null`, then `bench_null-direct`, ...); prints the table beside
/// Linux's figures (`linux`). An error if a direct build that should
/// have taken the vector did not ([`check_direct`]).
fn bench_k42(
    progs: &[Program],
    bin_dir: &Path,
    busybox: &Path,
    machine: &crate::tests::Machine,
    work: &Path,
    linux: &Outcomes,
) -> Result<(), String> {
    let direct = direct_programs(progs);
    build_direct(&direct, bin_dir)?;
    let mut both: Vec<Program> = progs.iter().cloned().chain(direct).collect();
    both.sort_by(|a, b| a.name.cmp(&b.name));
    let image = build_initramfs(&both, bin_dir, busybox, BENCH_TIMEOUT_MS)?;
    let initramfs = work.join("bench-k42.cpio");
    std::fs::write(&initramfs, &image).map_err(|e| e.to_string())?;
    crate::step(format!(
        "booting K42-rs on the same benchmarks, through trap reflection and the direct branch ({} programs)",
        both.len()
    ));
    let mut run = BenchRun {
        linux: bench_rows(linux),
        ..BenchRun::default()
    };
    // Every processor serves dispatchers: the scaling figures need it.
    match run_k42(
        &initramfs,
        machine,
        false,
        both.len(),
        &work.join("bench-k42.log"),
    ) {
        Ok(o) => {
            let (plain, direct) = split_direct(&o);
            run.trap = bench_rows(&plain);
            run.direct = direct_rows(&direct);
        }
        Err(e) => crate::step(format!("K42-rs: {e}")),
    }
    let _ = std::fs::remove_file(&initramfs);
    print!("{}", bench_table_vs(&run));
    check_direct(&run.direct)
}

/// The rows of the Linux-vs-K42-rs table, in the issue's order: the key a
/// benchmark prints (`bench: KEY cycles=N iters=N`) and the row's label.
pub const BENCH_ROWS: [(&str, &str); 14] = [
    ("null", "null syscall (getppid)"),
    ("enosys", "invalid syscall (ENOSYS)"),
    ("getpid", "getpid"),
    ("fork", "fork+exit+wait"),
    ("execve", "execve"),
    ("pipe_rtt", "pipe round trip"),
    ("page_fault", "page fault (fresh anon page)"),
    ("mmap", "mmap+munmap"),
    ("open_close", "open+close"),
    ("read_4k", "read 4 KiB"),
    ("ctx_switch", "context switch (pipe ping-pong)"),
    ("futex_rtt", "futex round trip"),
    ("fault_scaling_1", "page fault, 1 process"),
    ("fault_scaling", "page fault, 1 process per cpu"),
];

/// The rows whose measured calls can all take the direct branch: on
/// K42-rs their direct builds must have used the vector.
pub const DIRECT_ROWS: [&str; 3] = ["null", "enosys", "getpid"];

/// One benchmark's figure: cycles per operation, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum BenchFigure {
    /// Cycles (`rdtsc`) per operation.
    Cycles(f64),
    /// The program failed or printed no figure: its status.
    Failed(String),
}

/// A benchmark built against the direct-branch header
/// (`user/syslib/include/k42-syslib.h`, `-DBENCH_DIRECT`): its figure
/// and which way its measured calls went (the `path=` of its line).
#[derive(Debug, Clone, PartialEq)]
pub enum DirectFigure {
    /// Every measured call went through the library's vector: cycles per
    /// operation, and those of the same program's runs through the trap,
    /// alternated with them (`trap_cycles=`; `None` where it has none).
    Direct { cycles: f64, trap: Option<f64> },
    /// Some measured calls went through the vector and some trapped (the
    /// calls that may wait): cycles per operation (and through the trap,
    /// as for `Direct`), the counts, and why the first trapped.
    Mixed {
        cycles: f64,
        trap: Option<f64>,
        direct: u64,
        trapped: u64,
        why: String,
    },
    /// No measured call went through the vector: why (`fork`, `waits`:
    /// calls the direct path cannot make; `no-vector`: there was none).
    Trapped(String),
    /// The program failed or printed no figure (or not a direct build's
    /// line): why.
    Failed(String),
}

/// The figures of one `--vs-linux` run.
#[derive(Debug, Default)]
pub struct BenchRun {
    /// Linux, the plain builds.
    pub linux: BTreeMap<String, BenchFigure>,
    /// K42-rs, the plain builds: every call a reflected trap.
    pub trap: BTreeMap<String, BenchFigure>,
    /// K42-rs, the direct builds.
    pub direct: BTreeMap<String, DirectFigure>,
}

/// The name of a benchmark's direct build (`bench_null-direct`): built
/// with `-DBENCH_DIRECT`, run on K42-rs only.
pub const DIRECT_SUFFIX: &str = "-direct";

/// The direct builds of the C programs in `progs`: the same sources,
/// named with [`DIRECT_SUFFIX`].
pub fn direct_programs(progs: &[Program]) -> Vec<Program> {
    progs
        .iter()
        .filter(|p| !p.script)
        .map(|p| Program {
            name: format!("{}{DIRECT_SUFFIX}", p.name),
            source: p.source.clone(),
            script: false,
        })
        .collect()
}

/// Builds the direct builds (`direct_programs`) into `out_dir`: each
/// source with `-DBENCH_DIRECT` and the system library's headers.
fn build_direct(direct: &[Program], out_dir: &Path) -> Result<(), String> {
    let syslib = crate::root().join("user/syslib/include");
    direct.iter().try_for_each(|p| {
        let own = p.source.parent().unwrap_or(Path::new("."));
        build_c_with(
            &p.source,
            &out_dir.join(&p.name),
            &[own, &syslib],
            &["-DBENCH_DIRECT"],
        )
    })
}

/// Splits outcomes into the plain builds' and the direct builds' (those
/// named with [`DIRECT_SUFFIX`], which is taken off).
pub fn split_direct(outcomes: &Outcomes) -> (Outcomes, Outcomes) {
    let mut plain = Outcomes::new();
    let mut direct = Outcomes::new();
    for (name, o) in outcomes {
        match name.strip_suffix(DIRECT_SUFFIX) {
            Some(base) => direct.insert(base.to_string(), o.clone()),
            None => plain.insert(name.clone(), o.clone()),
        };
    }
    (plain, direct)
}

/// One `bench: KEY name=value ...` line: the key and its fields.
fn bench_line(line: &str) -> Option<(&str, BTreeMap<&str, &str>)> {
    let mut words = line.strip_prefix("bench: ")?.split_whitespace();
    let key = words.next()?;
    Some((key, words.filter_map(|w| w.split_once('=')).collect()))
}

/// The `cycles=` of a bench line's fields, if it is a number.
fn cycles(fields: &BTreeMap<&str, &str>) -> Option<f64> {
    fields.get("cycles")?.parse::<f64>().ok()
}

/// The key a program owns (its name is `bench_KEY`).
fn own_key(name: &str) -> String {
    name.strip_prefix("bench_").unwrap_or(name).to_string()
}

/// Reads `bench: KEY cycles=N ...` lines out of the benchmark programs'
/// outcomes. A program that did not exit 0 gives `Failed` for every key
/// it owns (its name is `bench_KEY`).
pub fn bench_rows(outcomes: &Outcomes) -> BTreeMap<String, BenchFigure> {
    let mut rows = BTreeMap::new();
    for (name, o) in outcomes {
        let mut any = false;
        for (key, fields) in o.output.lines().filter_map(bench_line) {
            if let Some(c) = cycles(&fields) {
                rows.insert(key.to_string(), BenchFigure::Cycles(c));
                any = true;
            }
        }
        if o.status != "exit:0" || !any {
            rows.insert(own_key(name), BenchFigure::Failed(o.status.clone()));
        }
    }
    rows
}

/// Reads the direct builds' lines (`... path=P direct=N trapped=N
/// [why=W]`, see `tests/linux-bench/bench.h`) out of their outcomes (named
/// without the suffix, as [`split_direct`] gives them).
pub fn direct_rows(outcomes: &Outcomes) -> BTreeMap<String, DirectFigure> {
    let mut rows = BTreeMap::new();
    for (name, o) in outcomes {
        let mut any = false;
        for (key, fields) in o.output.lines().filter_map(bench_line) {
            let Some(c) = cycles(&fields) else { continue };
            let count = |f: &str| fields.get(f).and_then(|v| v.parse::<u64>().ok());
            let why = fields.get("why").map_or("no calls", |w| w).to_string();
            let trap = fields
                .get("trap_cycles")
                .and_then(|v| v.parse::<f64>().ok());
            let figure = match (count("direct"), count("trapped")) {
                (Some(0), Some(_)) => DirectFigure::Trapped(why),
                (Some(_), Some(0)) => DirectFigure::Direct { cycles: c, trap },
                (Some(direct), Some(trapped)) => DirectFigure::Mixed {
                    cycles: c,
                    trap,
                    direct,
                    trapped,
                    why,
                },
                _ => DirectFigure::Failed("no path in its line".into()),
            };
            rows.insert(key.to_string(), figure);
            any = true;
        }
        if o.status != "exit:0" || !any {
            rows.insert(own_key(name), DirectFigure::Failed(o.status.clone()));
        }
    }
    rows
}

/// The check of a K42-rs run's direct builds: each of [`DIRECT_ROWS`]
/// that has a figure went through the vector (a build that found no
/// vector, or trapped, would give the trap's figure in the direct
/// column).
pub fn check_direct(direct: &BTreeMap<String, DirectFigure>) -> Result<(), String> {
    let wrong: Vec<String> = DIRECT_ROWS
        .iter()
        .filter_map(|&k| match direct.get(k) {
            Some(DirectFigure::Trapped(why)) => Some(format!("{k} trapped ({why})")),
            Some(DirectFigure::Mixed { why, .. }) => Some(format!("{k} partly trapped ({why})")),
            _ => None,
        })
        .collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "direct builds that did not take the vector on K42-rs: {}",
            wrong.join(", ")
        ))
    }
}

/// A ratio of two figures, to two places.
fn ratio(num: Option<f64>, den: Option<f64>) -> String {
    match (num, den) {
        (Some(n), Some(d)) if d > 0.0 => format!("{:.2}", n / d),
        _ => "-".into(),
    }
}

/// The table `cargo xtask bench --vs-linux` prints: Linux, K42-rs through
/// trap reflection and through the direct branch, and the ratios: each
/// K42-rs column to Linux, and direct to trap (the paper's 44%). Direct
/// to trap compares the direct build's runs with its own runs through the
/// trap, alternated in one process (`trap_cycles`, see
/// `tests/linux-bench/bench.h`); where it has none (execve), with the
/// trap column, and a note says so. A direct figure some of whose calls
/// trapped (those that may wait) is marked `mixed`, its ratios `*`, and
/// explained under the table; a direct build none of whose calls could
/// take the vector says why instead of a figure. Under the table: the
/// direct branch against reflection for the null call, beside the
/// paper's figure.
pub fn bench_table_vs(run: &BenchRun) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<32} {:>11} {:>12} {:>15} {:>10} {:>12} {:>11}",
        "benchmark (cycles/op)",
        "Linux",
        "K42-rs trap",
        "K42-rs direct",
        "trap/Linux",
        "direct/Linux",
        "direct/trap"
    );
    let cell = |f: Option<&BenchFigure>| match f {
        Some(BenchFigure::Cycles(c)) => format!("{c:.0}"),
        Some(BenchFigure::Failed(s)) => format!("failed ({s})"),
        None => "not run".into(),
    };
    let figure = |f: Option<&BenchFigure>| match f {
        Some(BenchFigure::Cycles(c)) => Some(*c),
        _ => None,
    };
    let known: Vec<&str> = BENCH_ROWS.iter().map(|r| r.0).collect();
    let mut extra: Vec<&String> = run
        .linux
        .keys()
        .chain(run.trap.keys())
        .chain(run.direct.keys())
        .filter(|k| !known.contains(&k.as_str()))
        .collect();
    extra.sort();
    extra.dedup();
    let all = BENCH_ROWS
        .iter()
        .map(|&(k, l)| (k.to_string(), l.to_string()))
        .chain(extra.into_iter().map(|k| (k.clone(), k.clone())));
    let mut notes = Vec::new();
    let mut unpaired = Vec::new();
    for (key, label) in all {
        let linux = figure(run.linux.get(&key));
        let trap = figure(run.trap.get(&key));
        let (direct_cell, direct, paired, mark) = match run.direct.get(&key) {
            Some(DirectFigure::Direct { cycles, trap }) => {
                (format!("{cycles:.0}"), Some(*cycles), *trap, "")
            }
            Some(DirectFigure::Mixed {
                cycles,
                trap,
                direct,
                trapped,
                why,
            }) => {
                notes.push(format!(
                    "* {label}: {trapped} of {} measured calls trapped ({why})",
                    direct + trapped
                ));
                (format!("{cycles:.0} mixed"), Some(*cycles), *trap, "*")
            }
            Some(DirectFigure::Trapped(why)) => (format!("traps ({why})"), None, None, ""),
            Some(DirectFigure::Failed(s)) => (format!("failed ({s})"), None, None, ""),
            None => ("not run".into(), None, None, ""),
        };
        if direct.is_some() && paired.is_none() && trap.is_some() {
            unpaired.push(label.clone());
        }
        let mark = |r: String| if r == "-" { r } else { r + mark };
        let _ = writeln!(
            out,
            "{label:<32} {:>11} {:>12} {direct_cell:>15} {:>10} {:>12} {:>11}",
            cell(run.linux.get(&key)),
            cell(run.trap.get(&key)),
            ratio(trap, linux),
            mark(ratio(direct, linux)),
            mark(ratio(direct, paired.or(trap))),
        );
    }
    for n in notes {
        let _ = writeln!(out, "{n}");
    }
    if !unpaired.is_empty() {
        let _ = writeln!(
            out,
            "direct/trap against the trap column (no trap runs of its own): {}",
            unpaired.join(", ")
        );
    }
    // Fault scaling: the cost of a fault with one process over its cost
    // with one process per processor (1.00 is perfect).
    let scaling = |m: &BTreeMap<String, BenchFigure>| match (
        figure(m.get("fault_scaling_1")),
        figure(m.get("fault_scaling")),
    ) {
        (Some(one), Some(all)) if all > 0.0 => format!("{:.2}", one / all),
        _ => "-".into(),
    };
    if run.linux.contains_key("fault_scaling") || run.trap.contains_key("fault_scaling") {
        let _ = writeln!(
            out,
            "page faults, one process per processor, scaling (cost at 1 / cost at all): Linux {}, K42-rs {}",
            scaling(&run.linux),
            scaling(&run.trap)
        );
    }
    if let Some(DirectFigure::Direct { cycles: d, trap }) = run.direct.get("null") {
        let t = trap.or(figure(run.trap.get("null"))).unwrap_or(0.0);
        let d = *d;
        if t > 0.0 {
            let _ = writeln!(
                out,
                "direct branch against trap reflection (null syscall): {:.2} of the time, {:.0}% faster (paper §10: 44% faster)",
                d / t,
                100.0 * (1.0 - d / t)
            );
        }
    }
    out
}

#[cfg(test)]
mod unit {
    use super::*;

    fn o(output: &str, status: &str) -> Outcome {
        Outcome {
            output: output.into(),
            status: status.into(),
        }
    }

    #[test]
    fn parses_frames_statuses_and_newlines() {
        let log = "\
[    0.000] Linux version 6.1\n\
@@difftest@@ ready\n\
@@difftest@@ begin alpha\n\
one\n\
\n\
two\n\
@@difftest@@ end alpha status=exit:0 bytes=9 newline=yes ms=12\n\
noise between programs\n\
@@difftest@@ begin beta\n\
no newline\n\
@@difftest@@ end beta status=signal:11 bytes=10 newline=no\n\
@@difftest@@ begin gamma\n\
@@difftest@@ end gamma status=exit:3 bytes=0 newline=yes\n\
@@difftest@@ begin delta\n\
partial\n";
        let p = parse_serial(log);
        assert!(p.ready);
        assert!(!p.all_done);
        assert_eq!(p.outcomes["alpha"], o("one\n\ntwo\n", "exit:0"));
        assert_eq!(p.outcomes["beta"], o("no newline", "signal:11"));
        assert_eq!(p.outcomes["gamma"], o("", "exit:3"));
        assert_eq!(p.outcomes["delta"], o("partial\n", "unfinished"));
        assert_eq!(p.outcomes.len(), 4);
        assert_eq!(p.millis["alpha"], 12);
        assert!(!p.millis.contains_key("beta"));
        assert!(parse_serial(&format!("{log}@@difftest@@ all done\n")).all_done);
    }

    #[test]
    fn mismatched_frames_are_reported_not_merged() {
        let log = "@@difftest@@ begin a\nx\n@@difftest@@ begin b\ny\n@@difftest@@ end c status=exit:0 bytes=0 newline=yes\n";
        let p = parse_serial(log);
        assert_eq!(p.outcomes["a"], o("x\n", "unfinished"));
        assert_eq!(p.outcomes["b"], o("y\n", "unfinished"));
        assert_eq!(p.outcomes["c"].status, "end without begin");
        // A marker needs its space: "@@difftest@@x" is program output.
        let p = parse_serial("@@difftest@@ begin a\n@@difftest@@x\n@@difftest@@ end a status=exit:0 bytes=13 newline=yes\n");
        assert_eq!(p.outcomes["a"].output, "@@difftest@@x\n");
    }

    fn map(items: &[(&str, Outcome)]) -> Outcomes {
        items
            .iter()
            .map(|(n, o)| (n.to_string(), o.clone()))
            .collect()
    }

    #[test]
    fn comparison_counts_and_diffs() {
        let linux = map(&[
            ("same", o("a\nb\n", "exit:0")),
            ("text", o("1\n2\n3\n", "exit:0")),
            ("status", o("x\n", "exit:0")),
            ("gone", o("", "exit:0")),
        ]);
        let k42 = map(&[
            ("same", o("a\nb\n", "exit:0")),
            ("text", o("1\nTWO\n3\n", "exit:0")),
            ("status", o("x\n", "signal:11")),
            ("extra", o("", "exit:0")),
        ]);
        let c = compare(&linux, &k42, ("linux", "k42-rs"));
        assert_eq!(c.matched, ["same"]);
        let names: Vec<_> = c.differed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["extra", "gone", "status", "text"]);
        assert_eq!(c.summary(), "1 matched, 4 differed");
        let text = &c.differed[3].1;
        assert_eq!(
            text,
            "--- linux\n+++ k42-rs\n@@ -1,4 +1,4 @@\n 1\n-2\n+TWO\n 3\n [status exit:0]\n"
        );
        let status = &c.differed[2].1;
        assert!(
            status.contains("-[status exit:0]\n+[status signal:11]\n"),
            "{status}"
        );
        assert!(c.differed[0].1.contains("only on k42-rs"));
        assert!(c.differed[1].1.contains("only on linux"));
    }

    #[test]
    fn identical_maps_all_match() {
        let m = map(&[("a", o("x", "exit:0")), ("b", o("y\n", "exit:1"))]);
        let c = compare(&m, &m.clone(), ("l", "k"));
        assert_eq!(c.summary(), "2 matched, 0 differed");
        assert!(c.differed.is_empty());
    }

    #[test]
    fn missing_final_newline_is_a_difference() {
        let a = map(&[("p", o("x\n", "exit:0"))]);
        let b = map(&[("p", o("x", "exit:0"))]);
        let c = compare(&a, &b, ("l", "k"));
        assert_eq!(c.differed.len(), 1);
        assert!(
            c.differed[0].1.contains("+\\ no newline at end of output"),
            "{}",
            c.differed[0].1
        );
    }

    #[test]
    fn diff_hunks_keep_three_lines_of_context_and_split_far_changes() {
        let a: String = (1..=30).map(|i| format!("{i}\n")).collect();
        let b: String = (1..=30)
            .map(|i| match i {
                5 => "five\n".to_string(),
                25 => "twenty-five\n".to_string(),
                _ => format!("{i}\n"),
            })
            .collect();
        let d = unified_diff(&a, &b, ("a", "b"));
        let hunks: Vec<_> = d.lines().filter(|l| l.starts_with("@@")).collect();
        assert_eq!(hunks, ["@@ -2,7 +2,7 @@", "@@ -22,7 +22,7 @@"]);
        assert!(d.contains(" 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"), "{d}");
        // Insertions at the start and deletions at the end.
        let d = unified_diff("x\ny\n", "new\nx\n", ("a", "b"));
        assert_eq!(d, "--- a\n+++ b\n@@ -1,2 +1,2 @@\n+new\n x\n-y\n");
        // Empty against something.
        let d = unified_diff("", "only\n", ("a", "b"));
        assert_eq!(d, "--- a\n+++ b\n@@ -0,0 +1,1 @@\n+only\n");
    }

    #[test]
    fn list_and_init_name_every_program() {
        let progs = vec![
            Program {
                name: "file_rw".into(),
                source: "x/file_rw.c".into(),
                script: false,
            },
            Program {
                name: "sh_pipes".into(),
                source: "x/sh_pipes.sh".into(),
                script: true,
            },
        ];
        assert_eq!(
            program_list(&progs),
            "file_rw /difftest/file_rw\nsh_pipes /bin/sh /difftest/sh_pipes.sh\n"
        );
        let init = init_script(1234);
        assert!(init.starts_with("#!/bin/sh\n"));
        assert!(
            init.contains("\n    exec setsid cttyhack sh -l\n"),
            "{init}"
        );
        assert!(init.contains("/difftest/difftest-run /difftest/list 1234\n"));
        assert!(init.contains("mount -t devtmpfs"));
        assert!(init.trim_end().ends_with("poweroff -f"));
    }

    #[test]
    fn the_suite_has_fifty_uniquely_named_programs() {
        let progs = discover(&crate::root().join("tests/difftest/progs"), None).unwrap();
        assert!(progs.len() >= 50, "only {} programs", progs.len());
        assert!(progs.iter().any(|p| p.script));
        let f = discover(&crate::root().join("tests/difftest/progs"), Some("pipe_")).unwrap();
        assert!(!f.is_empty() && f.iter().all(|p| p.name.contains("pipe_")));
    }

    #[test]
    fn bench_lines_become_rows_and_failures_are_named() {
        let outcomes = map(&[
            (
                "bench_getpid",
                o(
                    "warm-up\nbench: getpid cycles=512.5 iters=10000\n",
                    "exit:0",
                ),
            ),
            (
                "bench_fork",
                o("bench: fork cycles=90000 iters=100\n", "exit:0"),
            ),
            ("bench_execve", o("partial\n", "signal:11")),
            (
                "bench_odd",
                o(
                    "bench: custom cycles=7 iters=1\nbench: broken cycles=x\n",
                    "exit:0",
                ),
            ),
        ]);
        let rows = bench_rows(&outcomes);
        assert_eq!(rows["getpid"], BenchFigure::Cycles(512.5));
        assert_eq!(rows["fork"], BenchFigure::Cycles(90000.0));
        assert_eq!(rows["execve"], BenchFigure::Failed("signal:11".into()));
        assert_eq!(rows["custom"], BenchFigure::Cycles(7.0));
        assert!(!rows.contains_key("broken"));
        let t = bench_table_vs(&BenchRun {
            linux: rows,
            ..BenchRun::default()
        });
        let line = |label: &str| {
            t.lines()
                .find(|l| l.starts_with(label))
                .unwrap()
                .to_string()
        };
        assert!(
            line("getpid").contains(" 512 ") || line("getpid").contains(" 513 "),
            "{t}"
        );
        assert!(line("execve").contains("failed (signal:11)"), "{t}");
        assert!(line("null syscall").contains("not run"), "{t}");
        assert!(line("custom").contains(" 7 "), "{t}");
        assert_eq!(t.lines().count(), 1 + BENCH_ROWS.len() + 1);
    }

    #[test]
    fn fault_scaling_gets_a_line_under_the_table() {
        let prog = |one: u32, all: u32| {
            o(
                &format!(
                    "bench: fault_scaling_1 cycles={one} ns=1 iters=1\n\
                     bench: fault_scaling cycles={all} ns=1 iters=2 procs=2 scaling=0\n"
                ),
                "exit:0",
            )
        };
        let linux = bench_rows(&map(&[("bench_fault_scaling", prog(1000, 1100))]));
        let trap = bench_rows(&map(&[("bench_fault_scaling", prog(9000, 10000))]));
        let t = bench_table_vs(&BenchRun {
            linux,
            trap,
            ..BenchRun::default()
        });
        assert!(
            t.contains("scaling (cost at 1 / cost at all): Linux 0.91, K42-rs 0.90"),
            "{t}"
        );
        assert!(t
            .lines()
            .any(|l| l.starts_with("page fault, 1 process per cpu")));
        // Without the figures, no line.
        assert!(!bench_table_vs(&BenchRun::default()).contains("scaling"));
    }

    fn direct_line(key: &str, cycles: u32, direct: u64, trapped: u64, why: &str) -> String {
        let trap = if direct > 0 {
            format!(" trap_cycles={}", cycles * 4)
        } else {
            String::new()
        };
        let path = match (direct, trapped) {
            (_, 0) => "direct",
            (0, _) => "trap",
            _ => "mixed",
        };
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(" why={why}")
        };
        format!(
            "bench: {key} cycles={cycles} ns=1 iters=10{trap} path={path} direct={direct} trapped={trapped}{why}\n"
        )
    }

    #[test]
    fn direct_builds_are_split_off_and_say_which_way_they_went() {
        let outcomes = map(&[
            (
                "bench_null",
                o("bench: null cycles=9000 iters=10\n", "exit:0"),
            ),
            (
                "bench_null-direct",
                o(&direct_line("null", 300, 30, 0, ""), "exit:0"),
            ),
            (
                "bench_pipe_rtt-direct",
                o(&direct_line("pipe_rtt", 2000, 600, 600, "waits"), "exit:0"),
            ),
            (
                "bench_fork-direct",
                o(&direct_line("fork", 90000, 0, 300, "fork"), "exit:0"),
            ),
            (
                "bench_getpid-direct",
                o(&direct_line("getpid", 7000, 0, 30, "no-vector"), "exit:0"),
            ),
            (
                "bench_mmap-direct",
                o("bench: mmap cycles=5 iters=10\n", "exit:0"),
            ),
            (
                "bench_execve-x-direct",
                o(
                    "bench: execve_x cycles=9 iters=1 path=direct direct=1 trapped=0\n",
                    "exit:0",
                ),
            ),
            ("bench_execve-direct", o("", "signal:11")),
        ]);
        let (plain, direct) = split_direct(&outcomes);
        assert_eq!(plain.keys().collect::<Vec<_>>(), ["bench_null"]);
        assert!(direct.contains_key("bench_null") && direct.contains_key("bench_fork"));
        let d = direct_rows(&direct);
        assert_eq!(
            d["null"],
            DirectFigure::Direct {
                cycles: 300.0,
                trap: Some(1200.0)
            }
        );
        assert_eq!(
            d["pipe_rtt"],
            DirectFigure::Mixed {
                cycles: 2000.0,
                trap: Some(8000.0),
                direct: 600,
                trapped: 600,
                why: "waits".into()
            }
        );
        assert_eq!(d["fork"], DirectFigure::Trapped("fork".into()));
        assert_eq!(d["getpid"], DirectFigure::Trapped("no-vector".into()));
        assert!(
            matches!(&d["mmap"], DirectFigure::Failed(w) if w.contains("no path")),
            "a plain build's line is no direct figure"
        );
        assert_eq!(d["execve"], DirectFigure::Failed("signal:11".into()));
        assert_eq!(
            d["execve_x"],
            DirectFigure::Direct {
                cycles: 9.0,
                trap: None
            },
            "no trap runs of its own"
        );
        // The check: null went through the vector; getpid found none.
        let err = check_direct(&d).unwrap_err();
        assert!(err.contains("getpid trapped (no-vector)"), "{err}");
        assert!(!err.contains("null"), "{err}");
        let mut ok = d.clone();
        ok.remove("getpid");
        assert_eq!(check_direct(&ok), Ok(()));
        ok.insert(
            "enosys".into(),
            DirectFigure::Mixed {
                cycles: 1.0,
                trap: None,
                direct: 1,
                trapped: 1,
                why: "waits".into(),
            },
        );
        assert!(check_direct(&ok)
            .unwrap_err()
            .contains("enosys partly trapped"));
    }

    #[test]
    fn the_table_has_the_direct_column_and_its_ratios() {
        let cycles = |v: &[(&str, f64)]| {
            v.iter()
                .map(|&(k, c)| (k.to_string(), BenchFigure::Cycles(c)))
                .collect::<BTreeMap<_, _>>()
        };
        let run = BenchRun {
            linux: cycles(&[
                ("null", 1000.0),
                ("pipe_rtt", 200_000.0),
                ("fork", 2e6),
                ("execve", 1e7),
            ]),
            trap: cycles(&[
                ("null", 8000.0),
                ("pipe_rtt", 3e6),
                ("fork", 1e7),
                ("execve", 2e8),
            ]),
            direct: [
                (
                    "null",
                    DirectFigure::Direct {
                        cycles: 2000.0,
                        trap: Some(10_000.0),
                    },
                ),
                (
                    "execve",
                    DirectFigure::Direct {
                        cycles: 1e8,
                        trap: None,
                    },
                ),
                (
                    "pipe_rtt",
                    DirectFigure::Mixed {
                        cycles: 1.5e6,
                        trap: Some(2e6),
                        direct: 400,
                        trapped: 400,
                        why: "waits".into(),
                    },
                ),
                ("fork", DirectFigure::Trapped("fork".into())),
            ]
            .into_iter()
            .map(|(k, f)| (k.to_string(), f))
            .collect(),
        };
        let t = bench_table_vs(&run);
        let line = |label: &str| t.lines().find(|l| l.starts_with(label)).unwrap();
        let cells = |label: &str| {
            line(label)
                .split_whitespace()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
        };
        // null: direct 2000, trap/Linux 8.00, direct/Linux 2.00, and
        // direct/trap against its own trap runs (10 000): 0.20.
        assert!(line("null syscall").contains(" 2000 "), "{t}");
        assert_eq!(cells("null syscall"), ["0.20", "2.00", "8.00"], "{t}");
        // execve: no trap runs of its own, so against the trap column.
        assert_eq!(cells("execve"), ["0.50", "10.00", "20.00"], "{t}");
        assert!(
            t.contains("direct/trap against the trap column (no trap runs of its own): execve\n"),
            "{t}"
        );
        // pipe: a mixed figure, its ratios marked and explained.
        assert!(line("pipe round trip").contains("1500000 mixed"), "{t}");
        assert_eq!(cells("pipe round trip"), ["0.75*", "7.50*", "15.00"], "{t}");
        assert!(
            t.contains("* pipe round trip: 400 of 800 measured calls trapped (waits)"),
            "{t}"
        );
        // fork: no direct figure, and why.
        assert!(line("fork+exit+wait").contains("traps (fork)"), "{t}");
        assert_eq!(cells("fork+exit+wait"), ["-", "-", "5.00"], "{t}");
        assert!(line("getpid").contains("not run"), "{t}");
        // Beside the paper: 2000 / 10 000 = 0.20 of the time, 80% faster.
        assert!(
            t.contains("(null syscall): 0.20 of the time, 80% faster (paper §10: 44% faster)"),
            "{t}"
        );
        assert_eq!(t.lines().count(), 1 + BENCH_ROWS.len() + 3);
    }

    /// The direct-branch header's routing, on this host with a stand-in
    /// for the library's vector: calls the direct path can make go to
    /// it, fork-like calls and waits trap, `K42_SYSCALL_TRAP` traps, and
    /// the counts say so. Skipped without musl-gcc.
    #[test]
    fn the_header_sends_the_vector_only_what_it_can_take() {
        if Command::new("musl-gcc").arg("--version").output().is_err() {
            eprintln!("note: musl-gcc is not installed (apt-get install musl-tools); skipping");
            return;
        }
        let dir = std::env::temp_dir().join(format!("xtask-header-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("route.c");
        std::fs::write(
            &src,
            r#"#include "k42-syslib.h"
#include <stdio.h>
#include <unistd.h>
static long seen[8], n;
static long fake(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	seen[n++ & 7] = nr;
	return nr == SYS_getpid ? 4242 : -ENOENT;
}
int main(void)
{
	unsigned int word = 1;
	if (k42_direct_init())
		return 2;
	k42_direct = fake;
	long pid = K42_SYSCALL(SYS_getpid);
	long open = K42_SYSCALL(SYS_open, "/nonexistent", 0);
	int open_errno = errno;
	K42_SYSCALL(SYS_futex, &word, 1 /* FUTEX_WAKE */, 1);
	long wait = K42_SYSCALL(SYS_futex, &word, 0 /* FUTEX_WAIT */, 2, 0);
	int wait_errno = errno;
	K42_SYSCALL(SYS_wait4, -1, 0, 0, 0);
	K42_SYSCALL(SYS_sched_yield);
	long ppid = K42_SYSCALL_TRAP(SYS_getppid);
	printf("pid=%ld open=%ld/%d wait=%ld/%d ppid_ok=%d\n", pid, open, open_errno, wait,
	       wait_errno, ppid == getppid());
	printf("direct=%lu trapped=%lu why=%s seen=%ld,%ld,%ld n=%ld\n", k42_calls.direct,
	       k42_calls.trapped, k42_calls.why, seen[0], seen[1], seen[2], n);
	return 0;
}
"#,
        )
        .unwrap();
        let include = crate::root().join("user/syslib/include");
        build_c(&src, &dir.join("route"), &[&include]).unwrap();
        let out = Command::new(dir.join("route")).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        // getpid (39), open (2) and the futex wake (202) went to the
        // vector, its -ENOENT became -1 and errno 2; the futex wait
        // trapped (EAGAIN, 11: the word is not 2), as did wait4,
        // sched_yield and the getppid sent to the trap.
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "pid=4242 open=-1/2 wait=-1/11 ppid_ok=1\n\
             direct=3 trapped=4 why=waits seen=39,2,202 n=3\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A benchmark built against the direct-branch header, run on this
    /// (Linux) host: no vector, so every call traps and the line says so;
    /// the plain build's line has no path. Skipped without musl-gcc.
    #[test]
    fn a_direct_build_falls_back_to_the_trap_on_linux() {
        if Command::new("musl-gcc").arg("--version").output().is_err() {
            eprintln!("note: musl-gcc is not installed (apt-get install musl-tools); skipping");
            return;
        }
        let dir = std::env::temp_dir().join(format!("xtask-direct-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let bench = crate::root().join("tests/linux-bench");
        let progs = discover(&bench, Some("bench_getpid")).unwrap();
        let direct = direct_programs(&progs);
        assert_eq!(direct[0].name, "bench_getpid-direct");
        build_c(&progs[0].source, &dir.join(&progs[0].name), &[&bench]).unwrap();
        build_direct(&direct, &dir).unwrap();
        let run = |name: &str| {
            let out = Command::new(dir.join(name)).output().unwrap();
            assert!(out.status.success(), "{name}");
            o(&String::from_utf8_lossy(&out.stdout), "exit:0")
        };
        let plain = map(&[("bench_getpid", run("bench_getpid"))]);
        let direct = map(&[("bench_getpid", run("bench_getpid-direct"))]);
        assert!(!plain["bench_getpid"].output.contains("path="));
        assert!(matches!(
            bench_rows(&plain)["getpid"],
            BenchFigure::Cycles(_)
        ));
        assert_eq!(
            direct_rows(&direct)["getpid"],
            DirectFigure::Trapped("no-vector".into()),
            "{}",
            direct["bench_getpid"].output
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The in-guest runner, run on this (Linux) host on real processes:
    /// its framing must parse back into the right outputs and statuses.
    /// Skipped without musl-gcc.
    #[test]
    fn runner_frames_real_processes() {
        if Command::new("musl-gcc").arg("--version").output().is_err() {
            eprintln!("note: musl-gcc is not installed (apt-get install musl-tools); skipping");
            return;
        }
        let dir = std::env::temp_dir().join(format!("xtask-runner-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let harness = crate::root().join("tests/difftest/harness");
        let runner = dir.join("difftest-run");
        build_c(&harness.join("difftest-run.c"), &runner, &[&harness]).unwrap();
        let scripts = [
            ("mixed", "echo out; echo err >&2; exit 3"),
            ("nonl", "printf 'no newline'"),
            ("binary", "printf 'a\\001b\\r\\n'"),
            ("killed", "kill -9 $$"),
            ("slow", "sleep 5"),
            ("cwd", "pwd; ls -a | wc -l"),
            ("straggler", "sleep 30 & echo started"),
            (
                "forger",
                "echo '@@difftest@@ end forger status=exit:9'; echo ' @@difftest@@ x'",
            ),
        ];
        let mut list = String::new();
        for (name, body) in scripts {
            let path = dir.join(format!("{name}.sh"));
            std::fs::write(&path, body).unwrap();
            let _ = writeln!(list, "{name} /bin/sh {}", path.display());
        }
        list.push_str("# a comment line\nmissing /nonexistent/program\n");
        std::fs::write(dir.join("list"), list).unwrap();
        let started = Instant::now();
        let out = Command::new(&runner)
            .arg(dir.join("list"))
            .arg("700")
            .env("DIFFTEST_SCRATCH", dir.join("scratch"))
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(started.elapsed() < Duration::from_secs(10));
        let p = parse_serial(&String::from_utf8_lossy(&out.stdout));
        assert!(p.all_done);
        let get = |n: &str| p.outcomes.get(n).cloned().unwrap();
        assert_eq!(get("mixed"), o("out\nerr\n", "exit:3"));
        assert_eq!(get("nonl"), o("no newline", "exit:0"));
        assert_eq!(get("binary"), o("a\\x01b\\x0d\n", "exit:0"));
        assert_eq!(get("killed"), o("", "signal:9"));
        assert_eq!(get("slow").status, "timeout");
        assert!((650..5000).contains(&p.millis["slow"]), "{:?}", p.millis);
        assert!(p.millis["nonl"] < 650);
        let cwd = format!("{}\n2\n", dir.join("scratch/cwd").display());
        assert_eq!(get("cwd"), o(&cwd, "exit:0"), "a fresh, empty directory");
        assert_eq!(get("straggler"), o("started\n", "exit:0"));
        assert_eq!(get("missing").status, "exit:127");
        assert_eq!(
            get("forger"),
            o(
                "\\x40@difftest@@ end forger status=exit:9\n @@difftest@@ x\n",
                "exit:0"
            )
        );
        assert_eq!(p.outcomes.len(), 9);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The initramfs holds what /init needs; read back with the reader the
    /// kernel will use. Skipped without a static busybox.
    #[test]
    fn initramfs_layout() {
        let Ok(busybox) = crate::prereq::static_busybox_if_present() else {
            eprintln!("note: no static /bin/busybox (apt-get install busybox-static); skipping");
            return;
        };
        let dir = std::env::temp_dir().join(format!("xtask-initramfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("difftest-run"), b"runner").unwrap();
        std::fs::write(dir.join("file_rw"), b"\x7fELF prog").unwrap();
        std::fs::write(dir.join("sh_x.sh"), b"echo hi\n").unwrap();
        let progs = [
            Program {
                name: "file_rw".into(),
                source: dir.join("file_rw.c"),
                script: false,
            },
            Program {
                name: "sh_x".into(),
                source: dir.join("sh_x.sh"),
                script: true,
            },
        ];
        let a = build_initramfs(&progs, &dir, &busybox, 500).unwrap();
        let get = |p: &str| {
            cpio::find(&a, p)
                .unwrap()
                .unwrap_or_else(|| panic!("no {p}"))
        };
        assert_eq!(get("/init").data, init_script(500).as_bytes());
        assert_eq!(get("/init").permissions(), 0o755);
        assert_eq!(get("/bin/sh").kind(), cpio::Kind::Symlink);
        assert_eq!(get("/bin/sh").data, b"/bin/busybox");
        assert_eq!(
            get("/bin/busybox").data.len() as u64,
            std::fs::metadata(&busybox).unwrap().len()
        );
        assert_eq!(get("/dev/console").rdev, (5, 1));
        assert_eq!(get("/scratch").permissions(), 0o1777);
        assert_eq!(get("/difftest/difftest-run").data, b"runner");
        assert_eq!(get("/difftest/file_rw").data, b"\x7fELF prog");
        assert_eq!(get("/difftest/sh_x.sh").data, b"echo hi\n");
        assert_eq!(get("/difftest/list").data, program_list(&progs).as_bytes());
        for applet in [
            "bin/mount",
            "sbin/poweroff",
            "bin/cttyhack",
            "usr/bin/setsid",
        ] {
            assert_eq!(get(applet).kind(), cpio::Kind::Symlink, "{applet}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

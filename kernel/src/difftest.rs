//! The K42-rs side of `cargo xtask difftest`: runs the differential
//! suite's Linux programs through the system library and frames their
//! output exactly as the suite's runner does on Linux
//! (`tests/difftest/harness/difftest-run.c`), so xtask compares the two.
//!
//! Booted with `difftest` on the command line and an initramfs holding
//! both K42-rs's archive (the system library) and the suite's (xtask
//! concatenates them), the kernel reads `/difftest/list` (`name path
//! [args]` per line), runs each program as a Linux process on this
//! processor with a 5 s limit, prints `@@difftest@@ begin NAME`, the
//! program's console output (a line starting with the marker has its `@`
//! escaped as `\x40`), and `@@difftest@@ end NAME status=exit:N|signal:N|
//! timeout bytes=N newline=yes|no ms=N`, then `@@difftest@@ all done`,
//! and powers off.
//!
//! Each program gets a fresh set of system services (so a file system
//! holding just the boot image's files, `ramfs`'s import) and, as the
//! Linux runner gives it, its own directory `/scratch/NAME` as the working
//! directory, stdin at end of file (`/dev/null`), umask 022 and the
//! runner's environment: a tiny start-up script of busybox's shell
//! ([`STARTER`]) makes the directory, sets them and `exec`s the program,
//! so the program runs as that same process (a Linux program's working
//! directory and descriptors are its system library's, which carries them
//! across exec). Without busybox the program starts directly, in `/` with
//! the console for stdin. What still differs from the Linux runner:
//! stdout and stderr are the console (a terminal), not a pipe.

use alloc::string::String;
use alloc::vec::Vec;

use crate::{dispatch, println, process};

const MARK: &str = "@@difftest@@";
const LIMIT_NS: u64 = 5_000_000_000;

/// Busybox, which runs [`STARTER`].
const BUSYBOX: &str = "/bin/busybox";

/// What the Linux runner (`difftest-run.c`) does between its `fork` and
/// `execve`, as a `sh -c` script: `$1` is the program's name, `$2` its
/// path, the rest its arguments.
const STARTER: &str = "n=$1; shift; umask 022; mkdir -p /scratch/$n && cd /scratch/$n && \
    exec env -i PATH=/bin:/difftest HOME=/ LC_ALL=C TZ=UTC TERM=dumb \"$@\" </dev/null";

/// Starts program `path` (`argv[0]`) called `name` through [`STARTER`]
/// when busybox is there, else as it is.
fn start(
    name: &str,
    path: &str,
    argv: &[&[u8]],
) -> Result<alloc::sync::Arc<dispatch::Dispatcher>, process::SpawnError> {
    if process::program(BUSYBOX).is_err() {
        return process::start(path, argv, process::Personality::Linux);
    }
    let mut v: Vec<&[u8]> = alloc::vec![b"sh", b"-c", STARTER.as_bytes(), b"difftest-start"];
    v.push(name.as_bytes());
    v.extend_from_slice(argv);
    process::start(BUSYBOX, &v, process::Personality::Linux)
}

/// The suite's own runner, which the Linux side runs too.
const RUNNER: &str = "/difftest/difftest-run";

/// Per program, at most (the runner's limit for each, and some room).
const RUNNER_MS_PER_PROGRAM: u64 = 20_000;

/// With `difftest.runner` on the command line (and busybox there): the
/// suite's own runner (`tests/difftest/harness/difftest-run.c`) runs the
/// whole list as on Linux -- each program forked into its own process
/// group and directory under `/scratch`, stdin from `/dev/null`, stdout and
/// stderr through one pipe, a time limit, the frames printed by the runner
/// itself -- with one set of system services for the run. The kernel only
/// starts it, waits, and powers off.
fn run_with_runner(programs: usize) -> ! {
    println!("{MARK} ready");
    let limit = crate::time::now_ns() + programs as u64 * RUNNER_MS_PER_PROGRAM * 1_000_000;
    let script = alloc::format!(
        "umask 022; mkdir -p /scratch /tmp; exec {RUNNER} /difftest/list {}",
        RUNNER_MS_PER_PROGRAM - 5_000
    );
    let outcome = crate::services::with_system(|| {
        let argv: [&[u8]; 3] = [b"sh", b"-c", script.as_bytes()];
        match process::start(BUSYBOX, &argv, process::Personality::Linux) {
            Ok(d) => {
                dispatch::run_loop(&|| d.status().is_some() || crate::time::now_ns() > limit);
                let s = d.status();
                dispatch::kill_process(&d.process, 0);
                match s {
                    Some(0) => Ok(()),
                    Some(s) => Err(alloc::format!("the runner ended with status {s}")),
                    None => Err(String::from("the runner ran out of time")),
                }
            }
            Err(e) => Err(alloc::format!("{BUSYBOX}: {e}")),
        }
    });
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => println!("k42-rs difftest: {e}"),
        Err(e) => println!("k42-rs difftest: no system services: {e}"),
    }
    println!("{MARK} all done");
    crate::arch::power::power_off()
}

/// Runs the suite and powers off.
pub fn run() -> ! {
    dispatch::serve_as_asked();
    let list = process::initramfs()
        .and_then(|a| cpio::find(a, "/difftest/list").ok().flatten())
        .map(|e| String::from_utf8_lossy(e.data).into_owned())
        .unwrap_or_default();
    let runner = process::program(RUNNER).is_ok() && process::program(BUSYBOX).is_ok();
    if runner && crate::cmdline().has("difftest.runner") {
        run_with_runner(list.lines().count())
    }
    println!("{MARK} ready");
    for line in list.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (Some(name), Some(path)) = (words.first(), words.get(1)) else {
            continue;
        };
        let argv: Vec<&[u8]> = words[1..].iter().map(|w| w.as_bytes()).collect();
        run_one(name, path, &argv);
    }
    println!("{MARK} all done");
    crate::arch::power::power_off()
}

fn run_one(name: &str, path: &str, argv: &[&[u8]]) {
    let t0 = crate::time::now_ns();
    // A fresh file system per program, as the Linux runner gives each a
    // fresh directory. The program's output is kept and printed after it
    // ended, framed, so that kernel log lines meanwhile stay outside.
    let run = || {
        process::capture();
        let status: String = match start(name, path, argv) {
            Ok(d) => {
                dispatch::run_loop(&|| {
                    d.status().is_some() || crate::time::now_ns() > t0 + LIMIT_NS
                });
                let s = d.status();
                dispatch::kill_process(&d.process, 0);
                match s {
                    Some(s) if s >= 128 => alloc::format!("signal:{}", s - 128),
                    Some(s) => alloc::format!("exit:{s}"),
                    None => "timeout".into(),
                }
            }
            Err(e) => {
                let mut out = process::take_captured();
                out.push_str(&alloc::format!("k42-rs: {path}: {e}\n"));
                return ("exit:127".into(), out);
            }
        };
        (status, process::take_captured())
    };
    let (status, out) = crate::services::with_system(run).unwrap_or_else(|e| {
        (
            "exit:127".into(),
            alloc::format!("k42-rs: no system services: {e}\n"),
        )
    });
    println!("{MARK} begin {name}");
    let ms = (crate::time::now_ns() - t0) / 1_000_000;
    for l in out.split_inclusive('\n') {
        match l.strip_prefix('@') {
            Some(rest) if l.starts_with(MARK) => crate::print!("\\x40{rest}"),
            _ => crate::print!("{l}"),
        }
    }
    let newline = if out.is_empty() || out.ends_with('\n') {
        "yes"
    } else {
        "no"
    };
    if !out.is_empty() && !out.ends_with('\n') {
        println!();
    }
    println!(
        "{MARK} end {name} status={status} bytes={} newline={newline} ms={ms}",
        out.len()
    );
}

ktest::ktest! {
    /// The starter gives a program the Linux runner's world: its own
    /// directory `/scratch/NAME`, stdin at end of file, umask 022, the
    /// runner's environment and nothing else.
    fn difftest_starter_gives_the_linux_runners_world() {
        if process::program(BUSYBOX).is_err() {
            println!("    (no {BUSYBOX} in the initramfs; skipped)");
            return;
        }
        let run = |name: &str, argv: &[&[u8]]| {
            crate::services::with_system(|| {
                process::capture();
                let path = core::str::from_utf8(argv[0]).unwrap();
                let d = start(name, path, argv).unwrap();
                dispatch::run_loop(&|| d.status().is_some());
                (d.status(), process::take_captured())
            })
            .unwrap()
        };
        let script: &[u8] = b"pwd; umask; cat; echo end of file; ls -d /scratch/*";
        assert_eq!(
            run("where", &[b"/bin/sh", b"-c", script]),
            (Some(0), "/scratch/where\n0022\nend of file\n/scratch/where\n".into())
        );
        assert_eq!(
            run("env", &[b"/bin/env"]),
            (
                Some(0),
                "PATH=/bin:/difftest\nHOME=/\nLC_ALL=C\nTZ=UTC\nTERM=dumb\n".into()
            )
        );
        assert_eq!(run("fails", &[b"/bin/false"]).0, Some(1));
    }
}

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
//! Where the Linux runner gives each program a fresh directory, stdin
//! from `/dev/null` and a real file system, K42-rs gives what its system
//! library has so far: that difference is what the comparison measures.

use alloc::string::String;
use alloc::vec::Vec;

use crate::{dispatch, println, process};

const MARK: &str = "@@difftest@@";
const LIMIT_NS: u64 = 5_000_000_000;

/// Runs the suite and powers off.
pub fn run() -> ! {
    let list = process::initramfs()
        .and_then(|a| cpio::find(a, "/difftest/list").ok().flatten())
        .map(|e| String::from_utf8_lossy(e.data).into_owned())
        .unwrap_or_default();
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
        let status: String = match process::start(path, argv, process::Personality::Linux) {
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

//! The kernel console: a small monitor on the serial port.
//!
//! `cargo xtask run` starts `/init` of the initramfs first (busybox's
//! shell; [`run`]) and lands here when it ends, or at once with `monitor`
//! on the kernel command line. Commands:
//!
//! ```text
//! help       this list
//! cpus       processors: APIC id, ticks, interrupts
//! mem        the memory map, free frames, heap use
//! uptime     time since boot
//! tests      the in-kernel tests in this image
//! trace      trace [<classes>|off|stats|flush]: the event log (to COM2)
//! poweroff   ACPI power-off (QEMU exits with status 0)
//! ```
#![deny(unsafe_code)]

use crate::arch::{percpu, power, serial::COM1_UART};
use crate::{print, println};
use alloc::string::String;
use core::sync::atomic::Ordering;

const PROMPT: &str = "k42> ";

struct Command {
    name: &'static str,
    help: &'static str,
    run: fn(),
}

const COMMANDS: &[Command] = &[
    Command {
        name: "help",
        help: "list commands",
        run: help,
    },
    Command {
        name: "cpus",
        help: "processors: APIC id, ticks, interrupts",
        run: cpus,
    },
    Command {
        name: "mem",
        help: "memory map, free frames, heap use",
        run: mem,
    },
    Command {
        name: "uptime",
        help: "time since boot",
        run: uptime,
    },
    Command {
        name: "tests",
        help: "the in-kernel tests in this image",
        run: tests,
    },
    Command {
        name: "trace",
        help: "trace [<classes>|off|stats|flush]: the event log (to COM2)",
        run: || crate::trace::command(""),
    },
    Command {
        name: "ls",
        help: "the files of the initramfs",
        run: ls,
    },
    Command {
        name: "run",
        help: "run <program> [args]: run a program from the initramfs to its end",
        run: || println!("  usage: run <program> [args], e.g. run /bin/native-tests hello"),
    },
    Command {
        name: "linux",
        help: "linux <program> [args]: run a Linux program (with the system library)",
        run: || println!("  usage: linux <program> [args], e.g. linux /bin/linux-hello"),
    },
    Command {
        name: "poweroff",
        help: "power off (QEMU exits with status 0)",
        run: poweroff,
    },
];

fn help() {
    for c in COMMANDS {
        println!("  {:<10} {}", c.name, c.help);
    }
}

fn cpus() {
    println!("  cpu  apic  ticks      interrupts");
    for pc in percpu::all() {
        println!(
            "  {:<4} {:<5} {:<10} {}",
            pc.id(),
            pc.apic_id,
            pc.ticks.load(Ordering::Relaxed),
            pc.interrupts.load(Ordering::Relaxed)
        );
    }
    println!("  {} online", percpu::online());
}

fn mem() {
    if let Some(map) = crate::memory_map() {
        for r in map.regions() {
            println!("  {r}");
        }
    }
    let (free, total) = crate::mm::frames::stats();
    let cached = crate::mm::user::memory().frames_cached().unwrap_or(0) as u64;
    println!(
        "  frames: {} free of {} ({} MiB free), {} more in the processors' caches",
        free,
        total,
        (free + cached) * 4 / 1024,
        cached
    );
    let heap = crate::mm::heap::kalloc();
    for node in 0..heap.nodes() {
        if let Some(s) = heap.node_stats(node) {
            println!("  heap node {node}: {s:?}");
        }
    }
    for pc in percpu::all() {
        if let Some(s) = heap.cpu_stats(pc.id()) {
            println!(
                "  heap cpu{}: node {} allocs {} frees {} remote frees {} spans {}",
                pc.id(),
                s.node,
                s.allocs,
                s.frees,
                s.remote_cpu_frees + s.remote_node_frees,
                s.spans
            );
        }
    }
}

fn uptime() {
    let ns = crate::time::now_ns();
    println!(
        "  up {}.{:03} s",
        ns / 1_000_000_000,
        (ns / 1_000_000) % 1000
    );
}

fn tests() {
    for (i, t) in crate::ktests::registry().iter().enumerate() {
        println!("  {i:>3} {}", t.name);
    }
}

fn ls() {
    let Some(archive) = crate::process::initramfs() else {
        println!("  no initramfs");
        return;
    };
    for entry in cpio::Reader::new(archive) {
        match entry {
            Ok(e) => println!("  {:>8}  /{}", e.data.len(), e.name),
            Err(e) => {
                println!("  initramfs: {e}");
                return;
            }
        }
    }
}

/// `run <program> [args]` and `linux <program> [args]`: the program runs
/// as a process on this processor (a dispatcher of the kernel scheduler)
/// until it ends.
fn run_program(args: &str, personality: crate::process::Personality) {
    let argv: alloc::vec::Vec<&[u8]> = args.split_whitespace().map(str::as_bytes).collect();
    let Some(path) = args.split_whitespace().next() else {
        return;
    };
    // A Linux program gets the console as its controlling terminal (^C).
    let ran = match personality {
        crate::process::Personality::Linux => crate::syscall::terminal::run_on_console(path, &argv),
        _ => crate::process::start_and_wait(path, &argv, personality),
    };
    match ran {
        Ok(status) => println!("  {path}: exit status {status}"),
        Err(crate::process::SpawnError::NotFound(_)) => {
            println!("  {path}: no such file in the initramfs (try 'ls')")
        }
        Err(e) => println!("  {path}: {e}"),
    }
}

/// `/init` of the initramfs as a Linux process on the console (a `#!`
/// script through its interpreter, as exec runs it), until it ends; then
/// the monitor. Nothing without an `/init`.
fn run_init() {
    let Some(Ok(Some(init))) = crate::process::initramfs().map(|a| cpio::find(a, "/init")) else {
        return;
    };
    let interpreter = init.data.strip_prefix(b"#!").and_then(|line| {
        let line = line.split(|&b| b == b'\n').next()?;
        let line = core::str::from_utf8(line).ok()?.trim();
        line.split_whitespace().next()
    });
    let path = interpreter.unwrap_or("/init");
    let mut argv: alloc::vec::Vec<&[u8]> = alloc::vec![path.as_bytes()];
    if interpreter.is_some() {
        argv.push(b"/init");
    }
    match crate::syscall::terminal::run_on_console(path, &argv) {
        Ok(status) => println!("/init ended with status {status}"),
        Err(e) => println!("/init: {path}: {e}"),
    }
}

fn poweroff() {
    println!("  powering off");
    power::power_off();
}

fn execute(line: &str) {
    let word = line.trim();
    if word.is_empty() {
        return;
    }
    if let Some(("trace", args)) = word.split_once(' ') {
        return crate::trace::command(args.trim());
    }
    if let Some(("run", args)) = word.split_once(' ') {
        return run_program(args.trim(), crate::process::Personality::Native);
    }
    if let Some(("linux", args)) = word.split_once(' ') {
        return run_program(args.trim(), crate::process::Personality::Linux);
    }
    match COMMANDS.iter().find(|c| c.name == word) {
        Some(c) => (c.run)(),
        None => println!("  unknown command '{word}'; type 'help'"),
    }
}

/// Reads commands from the serial port forever.
pub fn run() -> ! {
    // Alive as long as the monitor: Linux programs find their files there.
    let _services = match crate::services::start_system() {
        Ok(s) => {
            println!("system services: name server, console, ramfs");
            Some(s)
        }
        Err(e) => {
            println!("system services did not start ({e}): Linux programs run without files");
            None
        }
    };
    // Programs started from here may read what is typed.
    crate::syscall::console_read::open_input();
    if !crate::cmdline().has("monitor") {
        crate::dispatch::serve_as_asked();
        run_init();
    }
    println!("K42-rs monitor. Type 'help' for commands.");
    print!("{PROMPT}");
    let mut line = String::new();
    let mut last_cr = false;
    loop {
        while let Some(b) = COM1_UART.try_get() {
            match b {
                b'\n' if last_cr => {}
                b'\r' | b'\n' => {
                    println!();
                    execute(&line);
                    line.clear();
                    print!("{PROMPT}");
                }
                0x08 | 0x7f if line.pop().is_some() => print!("\x08 \x08"),
                0x03 => {
                    line.clear();
                    print!("^C\n{PROMPT}");
                }
                0x20..=0x7e if line.len() < 256 => {
                    line.push(b as char);
                    print!("{}", b as char);
                }
                _ => {}
            }
            last_cr = b == b'\r';
        }
        crate::trace::poll();
        crate::clustered::quiescent();
        crate::trace::idle_wait();
    }
}

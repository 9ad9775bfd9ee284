//! End to end on the host: load a real static executable with this crate,
//! build its initial stack, then, in a forked child, map exactly those pages
//! at exactly those addresses, switch to the new stack and jump to the
//! entry point. The program runs on the host Linux kernel's system calls, so
//! its output and exit status prove the plan, the relocations and the
//! stack (argc/argv/envp/auxv, AT_RANDOM, AT_PHDR for TLS) are right.
//!
//! Linux x86-64 only. Programs are built at test time with `musl-gcc` and
//! `gcc` (skipped with a message if missing); `/bin/busybox` is used if it is
//! the static Debian build.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Space;
use elf_loader::{build_stack, load, LoadOptions, StackParams};

const PROGRAM: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static const char *table[] = { "alpha", "beta", "gamma" };
__thread int counter = 41;
int main(int argc, char **argv) {
    counter++;
    printf("%s %d %d %s %s\n", table[argc % 3], counter, argc, argv[argc - 1], getenv("GREETING"));
    return (int)strlen(table[1]);
}
"#;

/// Compiles PROGRAM; `None` (with a message) if the compiler or libc is missing.
fn compile(cc: &str, name: &str, flags: &[String]) -> Option<Vec<u8>> {
    if Command::new(cc).arg("--version").output().is_err() {
        eprintln!("SKIP: {cc} not found (apt-get install musl-tools gcc)");
        return None;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("elf-loader-exec");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("prog.c");
    std::fs::write(&src, PROGRAM).unwrap();
    let out = dir.join(name);
    let ok = Command::new(cc)
        .arg("-O1")
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .args(flags)
        .status()
        .unwrap()
        .success();
    if !ok {
        eprintln!("SKIP: {cc} {flags:?} failed");
        return None;
    }
    Some(std::fs::read(out).unwrap())
}

/// `crt1` is `rcrt1.o` (relocates itself, as static-PIE start-up must) or
/// `Scrt1.o` (does not: only the loader's relocations make it work).
fn musl_static_pie_flags(crt1: &str) -> Vec<String> {
    let lib = "/usr/lib/x86_64-linux-musl";
    let gcc_file = |f: &str| {
        let out = Command::new("gcc")
            .arg(format!("-print-file-name={f}"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    [
        "-static-pie",
        "-fPIE",
        "-nostartfiles",
        "-Wl,--no-dynamic-linker",
        "-Wl,-static",
        "-Wl,-pie",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("{lib}/{crt1}"),
        format!("{lib}/crti.o"),
        gcc_file("crtbeginS.o"),
        gcc_file("crtendS.o"),
        format!("{lib}/crtn.o"),
    ])
    .collect()
}

const STACK_TOP: u64 = 0x3000_0000_0000;
const STACK_SIZE: usize = 1 << 20;

/// Runs `image` with `argv` in a child; returns (stdout, exit status).
fn run(image: &[u8], pie_base: u64, argv: &[&[u8]]) -> (String, i32) {
    let opts = LoadOptions {
        pie_base,
        ..Default::default()
    };
    let mut space = Space::default();
    let plan = load(image, &opts, &mut space).unwrap();
    let mut stack = vec![0u8; STACK_SIZE];
    let params = StackParams {
        argv,
        envp: &[b"GREETING=hello-from-the-loader", b"PATH=/bin"],
        random: *b"not random at al",
        uid: 1000,
        euid: 1000,
        gid: 1000,
        egid: 1000,
        execfn: Some(argv[0]),
        ..Default::default()
    };
    let initial = build_stack(&mut stack, STACK_TOP, &plan.aux, &params).unwrap();
    // Everything the child needs, prepared before fork: it must not allocate.
    let pages: Vec<(u64, &[u8; 4096], i32)> = space
        .pages
        .iter()
        .map(|(&addr, (bytes, prot))| {
            let p = (if prot.read { libc::PROT_READ } else { 0 })
                | (if prot.write { libc::PROT_WRITE } else { 0 })
                | (if prot.execute { libc::PROT_EXEC } else { 0 });
            (addr, &**bytes, p)
        })
        .collect();

    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid array of two ints.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: fork has no preconditions; the child below only makes
    // async-signal-safe calls (mmap, mprotect, dup2, close, _exit) and copies
    // memory that was allocated before the fork.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: in the child; see above. The fixed mappings use
        // MAP_FIXED_NOREPLACE so they never replace a mapping of this process.
        unsafe {
            libc::dup2(fds[1], 1);
            libc::close(fds[0]);
            let map = |addr: u64, len: usize| {
                let p = libc::mmap(
                    addr as *mut libc::c_void,
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                    -1,
                    0,
                );
                if p as u64 != addr {
                    libc::_exit(101);
                }
            };
            for &(addr, bytes, _) in &pages {
                map(addr, 4096);
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, 4096);
            }
            for &(addr, _, prot) in &pages {
                if libc::mprotect(addr as *mut libc::c_void, 4096, prot) != 0 {
                    libc::_exit(102);
                }
            }
            let bottom = STACK_TOP - STACK_SIZE as u64;
            map(bottom, STACK_SIZE);
            std::ptr::copy_nonoverlapping(stack.as_ptr(), bottom as *mut u8, STACK_SIZE);
            // The process entry state of the SysV ABI: rsp at argc, rdx = 0
            // (no exit hook to register), rbp = 0 (outermost frame).
            core::arch::asm!(
                "mov rsp, rsi",
                "xor edx, edx",
                "xor ebp, ebp",
                "jmp rdi",
                in("rdi") plan.entry,
                in("rsi") initial.rsp,
                options(noreturn)
            );
        }
    }
    // SAFETY: closing our copy of the write end, a descriptor we own.
    unsafe { libc::close(fds[1]) };
    // SAFETY: `fds[0]` is the read end of the pipe we created and now own.
    let mut out = std::fs::File::from(unsafe {
        <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[0])
    });
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let start = Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break;
        }
        if start.elapsed() > Duration::from_secs(10) {
            // SAFETY: our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("program did not finish in 10 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let output = reader.join().unwrap();
    assert!(
        libc::WIFEXITED(status),
        "program killed by signal {} (output {output:?})",
        libc::WTERMSIG(status)
    );
    let code = libc::WEXITSTATUS(status);
    assert!(
        !(output.is_empty() && (101..=102).contains(&code)),
        "the child could not set up the address space (exit {code}): an address in use?"
    );
    (output, code)
}

fn check_program(image: &[u8], pie_base: u64) {
    let (out, code) = run(image, pie_base, &[b"prog", b"one", b"two"]);
    assert_eq!(out, "alpha 42 3 two hello-from-the-loader\n");
    assert_eq!(code, 4);
}

#[test]
fn musl_static_runs() {
    if let Some(image) = compile("musl-gcc", "musl-static", &["-static".into()]) {
        check_program(&image, 0);
    }
}

#[test]
fn musl_static_pie_runs() {
    if let Some(image) = compile(
        "musl-gcc",
        "musl-static-pie",
        &musl_static_pie_flags("rcrt1.o"),
    ) {
        check_program(&image, 0x2000_0000_0000);
    }
}

/// A static-PIE image whose start-up code does not relocate: it runs only
/// because the loader applied its relocations.
#[test]
fn static_pie_without_self_relocation_runs() {
    if let Some(image) = compile(
        "musl-gcc",
        "musl-static-pie-norel",
        &musl_static_pie_flags("Scrt1.o"),
    ) {
        let plan = elf_loader::LoadPlan::new(&image, &LoadOptions::default()).unwrap();
        assert!(plan.relocations > 10, "{} relocations", plan.relocations);
        check_program(&image, 0x2200_0000_0000);
    }
}

#[test]
fn glibc_static_runs() {
    if let Some(image) = compile("gcc", "glibc-static", &["-static".into()]) {
        check_program(&image, 0);
    }
}

#[test]
fn glibc_static_pie_runs() {
    if let Some(image) = compile("gcc", "glibc-static-pie", &["-static-pie".into()]) {
        check_program(&image, 0x2100_0000_0000);
    }
}

#[test]
fn busybox_runs() {
    let Ok(image) = std::fs::read("/bin/busybox") else {
        eprintln!("SKIP: /bin/busybox not found (apt-get install busybox-static)");
        return;
    };
    if elf_loader::LoadPlan::new(&image, &LoadOptions::default()).is_err() {
        eprintln!("SKIP: /bin/busybox is not the static build");
        return;
    }
    let (out, code) = run(&image, 0, &[b"echo", b"hello", b"from busybox"]);
    assert_eq!((out.as_str(), code), ("hello from busybox\n", 0));
    let (out, code) = run(&image, 0, &[b"sh", b"-c", b"echo $GREETING; exit 7"]);
    assert_eq!((out.as_str(), code), ("hello-from-the-loader\n", 7));
}

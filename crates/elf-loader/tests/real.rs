//! Real static executables: Debian's busybox-static (glibc) and musl-gcc
//! `-static` / `-static-pie` builds of a tiny C program made at test time.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Space;
use elf_loader::{load, ImageKind, LoadOptions, LoadPlan};

/// Checks everything a loaded image must satisfy, whatever it is.
fn check_loaded(image: &[u8], plan: &LoadPlan, space: &Space) {
    for s in &plan.segments {
        // File bytes in place, then zeros up to the end of the last page
        // (except where relocations wrote).
        let got = space.read(s.vaddr, s.file_size as usize).unwrap();
        let want = &image[s.file_range()];
        let differing = got.iter().zip(want).filter(|(a, b)| a != b).count();
        assert!(
            differing <= plan.relocations * 8,
            "segment {} differs in {differing} bytes",
            s.index
        );
        let bss = space
            .read(
                s.vaddr + s.file_size,
                (s.page_end() - s.vaddr - s.file_size) as usize,
            )
            .unwrap();
        assert!(bss.iter().all(|&b| b == 0) || plan.relocations > 0);
    }
    // AT_PHDR points at a copy of the program headers.
    let phoff = u64::from_le_bytes(image[32..40].try_into().unwrap()) as usize;
    let phbytes = 56 * plan.aux.phnum as usize;
    assert_eq!(
        space.read(plan.aux.phdr, phbytes).unwrap(),
        &image[phoff..phoff + phbytes]
    );
    // The entry point is executable.
    assert!(space.pages[&(plan.entry & !4095)].1.execute);
}

#[test]
fn busybox_static_glibc() {
    let path = Path::new("/bin/busybox");
    let Ok(image) = std::fs::read(path) else {
        eprintln!("SKIP: /bin/busybox not found (apt-get install busybox-static)");
        return;
    };
    match LoadPlan::new(&image, &LoadOptions::default()) {
        Err(elf_loader::Error::DynamicallyLinked) => {
            eprintln!("SKIP: /bin/busybox is dynamically linked (install busybox-static)");
        }
        Err(e) => panic!("busybox refused: {e}"),
        Ok(_) => {
            let mut space = Space::default();
            let plan = load(&image, &LoadOptions::default(), &mut space).unwrap();
            assert_eq!(plan.kind, ImageKind::Static);
            assert!(plan.segments.len() >= 2);
            assert!(plan
                .segments
                .iter()
                .any(|s| s.prot.execute && !s.prot.write));
            assert!(plan
                .segments
                .iter()
                .all(|s| !(s.prot.write && s.prot.execute)));
            assert!(plan.tls.is_some(), "glibc static binaries have PT_TLS");
            assert!(!plan.executable_stack);
            check_loaded(&image, &plan, &space);
        }
    }
}

const PROGRAM: &str = r#"
#include <stdio.h>
#include <string.h>
static const char *table[] = { "alpha", "beta", "gamma" };  /* needs relocations when PIE */
__thread int counter = 41;
int main(int argc, char **argv) {
    counter++;
    printf("%s %d %d %s\n", table[argc % 3], counter, argc, argv[argc - 1]);
    return (int)strlen(table[1]);
}
"#;

/// Builds PROGRAM with `cc` and `flags`; None (with a message) if `cc` is missing.
fn build(cc: &str, name: &str, flags: &[&str]) -> Option<PathBuf> {
    if Command::new(cc).arg("--version").output().is_err() {
        eprintln!("SKIP: {cc} not found (apt-get install musl-tools / gcc)");
        return None;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("elf-loader-real");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("prog.c");
    std::fs::write(&src, PROGRAM).unwrap();
    let out = dir.join(name);
    let status = Command::new(cc)
        .arg("-O1")
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .args(flags)
        .status()
        .unwrap();
    if !status.success() {
        eprintln!("SKIP: {cc} {flags:?} failed (static libc missing?)");
        return None;
    }
    Some(out)
}

/// Debian's musl-gcc specs always ask for the dynamic linker and start with
/// `Scrt1.o`, so a static-PIE build names musl's self-relocating `rcrt1.o`
/// and the C runtime objects itself.
fn musl_static_pie_flags() -> Vec<String> {
    let lib = "/usr/lib/x86_64-linux-musl";
    let gcc_file = |f: &str| {
        let out = Command::new("gcc")
            .arg(format!("-print-file-name={f}"))
            .output()
            .ok()?;
        Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
    };
    let (Some(begin), Some(end)) = (gcc_file("crtbeginS.o"), gcc_file("crtendS.o")) else {
        return Vec::new();
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
        format!("{lib}/rcrt1.o"),
        format!("{lib}/crti.o"),
        begin,
        end,
        format!("{lib}/crtn.o"),
    ])
    .collect()
}

fn check_static_pie(image: &[u8]) -> LoadPlan {
    let opts = LoadOptions {
        pie_base: 0x7f00_1234_0000,
        ..Default::default()
    };
    let mut space = Space::default();
    let plan = load(image, &opts, &mut space).unwrap();
    assert_eq!(plan.kind, ImageKind::StaticPie);
    assert_eq!(plan.bias, 0x7f00_1234_0000);
    assert!(
        plan.relocations >= 3,
        "the string table needs relocating: {}",
        plan.relocations
    );
    // Every relocated word now points into the loaded image.
    let lo = plan.segments[0].page_start();
    let hi = plan.brk_start;
    plan.for_each_relocation(image, |r| {
        let v = space.u64_at(r.vaddr);
        assert_eq!(v, r.value);
        assert!((lo..hi).contains(&v), "{v:#x} outside {lo:#x}..{hi:#x}");
        Ok(())
    })
    .unwrap();
    check_loaded(image, &plan, &space);
    plan
}

#[test]
fn musl_static() {
    let Some(path) = build("musl-gcc", "prog-musl-static", &["-static"]) else {
        return;
    };
    let image = std::fs::read(&path).unwrap();
    let mut space = Space::default();
    let plan = load(&image, &LoadOptions::default(), &mut space).unwrap();
    assert_eq!(plan.kind, ImageKind::Static);
    assert_eq!(plan.relocations, 0);
    assert!(plan.tls.is_some());
    check_loaded(&image, &plan, &space);
}

#[test]
fn musl_static_pie() {
    let flags = musl_static_pie_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let Some(path) = build("musl-gcc", "prog-musl-static-pie", &flags) else {
        return;
    };
    let image = std::fs::read(&path).unwrap();
    let plan = check_static_pie(&image);
    assert!(plan.tls.is_some());
}

#[test]
fn glibc_static_pie() {
    let Some(path) = build("gcc", "prog-glibc-static-pie", &["-static-pie"]) else {
        return;
    };
    let image = std::fs::read(&path).unwrap();
    let plan = check_static_pie(&image);
    assert!(
        plan.deferred_relocations > 0,
        "glibc uses IFUNCs (IRELATIVE), left to its start-up"
    );
}

#[test]
fn glibc_static() {
    let Some(path) = build("gcc", "prog-glibc-static", &["-static"]) else {
        return;
    };
    let image = std::fs::read(&path).unwrap();
    let mut space = Space::default();
    let plan = load(&image, &LoadOptions::default(), &mut space).unwrap();
    assert_eq!(plan.kind, ImageKind::Static);
    check_loaded(&image, &plan, &space);
}

#[test]
fn glibc_dynamic_is_refused() {
    // Any dynamically linked binary on the machine will do.
    for p in ["/bin/ls", "/usr/bin/env", "/bin/sh"] {
        if let Ok(image) = std::fs::read(p) {
            if image.get(..4) == Some(b"\x7fELF") {
                assert_eq!(
                    LoadPlan::new(&image, &LoadOptions::default()),
                    Err(elf_loader::Error::DynamicallyLinked),
                    "{p}"
                );
                return;
            }
        }
    }
    eprintln!("SKIP: no dynamically linked ELF binary found");
}

#[test]
fn shared_library_is_refused() {
    // A shared object has no PT_INTERP but is no executable: its entry is
    // not code, or it needs symbol relocations.
    let Some(path) = build("gcc", "libprog.so", &["-shared", "-fPIC"]) else {
        return;
    };
    let image = std::fs::read(&path).unwrap();
    let err = LoadPlan::new(&image, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            elf_loader::Error::EntryNotExecutable { .. }
                | elf_loader::Error::UnsupportedRelocation { .. }
        ),
        "{err:?}"
    );
}

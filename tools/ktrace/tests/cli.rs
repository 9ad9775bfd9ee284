//! The `ktrace` binary end to end: commands run, damaged files give a
//! clear error with the offset and the rest is still shown.
use std::process::Command;

fn ktrace(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ktrace"))
        .args(args)
        .output()
        .expect("ktrace runs")
}

fn tmp(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("ktrace-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).display().to_string()
}

#[test]
fn every_command_runs_on_a_sample() {
    let file = tmp("sample.ktrace");
    assert!(ktrace(&["sample", &file, "--cpus", "3", "--rounds", "5"])
        .status
        .success());
    for cmd in [
        vec!["dump"],
        vec!["stats"],
        vec!["locks"],
        vec!["export", "--perfetto"],
        vec!["html"],
    ] {
        let mut args = cmd.clone();
        args.push(&file);
        let out = ktrace(&args);
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.is_empty(), "{cmd:?}");
    }
    let json = tmp("out.json");
    assert!(ktrace(&["export", "--perfetto", &file, "-o", &json])
        .status
        .success());
    assert!(std::fs::read_to_string(&json)
        .unwrap()
        .contains("traceEvents"));
}

#[test]
fn damaged_file_names_the_offset_and_still_dumps() {
    let file = tmp("cut.ktrace");
    assert!(ktrace(&["sample", &file, "--cpus", "2", "--rounds", "40"])
        .status
        .success());
    let bytes = std::fs::read(&file).unwrap();
    let trace = ktrace::decode::Trace::parse(&bytes);
    let last = trace.blocks.last().unwrap().offset as usize;
    std::fs::write(&file, &bytes[..last + 100]).unwrap();
    let out = ktrace(&["dump", &file]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("at byte offset {last}")), "{err}");
    assert!(err.contains("truncated"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).lines().count() > 10);

    let out = ktrace(&["stats", "/nonexistent/trace"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));

    let junk = tmp("junk");
    std::fs::write(&junk, b"hello, not a trace").unwrap();
    let out = ktrace(&["dump", &junk]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at byte offset 0"));
}

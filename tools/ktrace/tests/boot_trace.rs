//! A trace of a real boot decodes fully: no damage, every event declared
//! in the metadata, every processor's blocks present, time monotonic per
//! processor.
//!
//! The trace comes from `cargo xtask trace` (kernel side); point
//! `KTRACE_BOOT_TRACE` at the file. Skipped, with a message, without it.
use ktrace::decode::Trace;

#[test]
fn boot_trace_decodes_fully() {
    let Some(path) = std::env::var_os("KTRACE_BOOT_TRACE") else {
        eprintln!("SKIPPED: set KTRACE_BOOT_TRACE to a trace of a kernel boot");
        return;
    };
    let bytes = std::fs::read(&path).expect("KTRACE_BOOT_TRACE is readable");
    let t = Trace::parse(&bytes);
    assert!(t.errors.is_empty(), "decode errors: {:#?}", t.errors);
    assert!(!t.events.is_empty(), "no events");
    assert!(!t.meta.is_empty(), "no metadata record");
    let undeclared: Vec<_> = t.events.iter().filter(|e| e.info.is_none()).collect();
    assert!(
        undeclared.is_empty(),
        "{} undeclared events",
        undeclared.len()
    );
    for cpu in 0..t.header.cpus {
        let ts: Vec<u64> = t
            .events
            .iter()
            .filter(|e| e.cpu == cpu)
            .map(|e| e.ts)
            .collect();
        assert!(
            ts.windows(2).all(|w| w[0] <= w[1]),
            "cpu {cpu}: time goes backwards"
        );
    }
}

//! A trace of a real boot decodes fully: no damage, every event declared
//! in the metadata, every processor's blocks present, time monotonic per
//! processor, the kernel's clock named, and the events every boot has
//! (timer interrupts, locks) present.
//!
//! The trace comes from the kernel: `cargo xtask trace -- boot` (all
//! classes on) writes `target/k42/trace/boot-smp4.ktrace`, and
//! `cargo xtask test` records one and runs this test on it. Point
//! `KTRACE_BOOT_TRACE` at the file (an absolute path: cargo runs the test
//! in tools/ktrace). Skipped, with a message, without it.
use ktrace::decode::Trace;
use ktrace::Class;
use std::collections::BTreeMap;

#[test]
fn boot_trace_decodes_fully() {
    let Some(path) = std::env::var_os("KTRACE_BOOT_TRACE") else {
        eprintln!("SKIPPED: set KTRACE_BOOT_TRACE to a trace of a kernel boot");
        return;
    };
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("KTRACE_BOOT_TRACE={}: {e}", path.to_string_lossy()));
    let t = Trace::parse(&bytes);
    assert!(t.errors.is_empty(), "decode errors: {:#?}", t.errors);
    assert!(!t.events.is_empty(), "no events");
    assert!(!t.meta.is_empty(), "no metadata record");
    assert!(
        t.header.ticks_per_second > 0,
        "the kernel did not name its clock rate"
    );
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
    // A boot is short: nothing wraps, so each processor's blocks are
    // 0, 1, 2, ... with none missing.
    let mut seqs: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for b in &t.blocks {
        seqs.entry(b.cpu).or_default().push(b.seq);
    }
    for (cpu, s) in &seqs {
        let expected: Vec<u64> = (0..s.len() as u64).collect();
        assert_eq!(s, &expected, "cpu {cpu}: blocks missing or out of order");
    }
    assert!(
        t.blocks.iter().all(|b| b.lost_events == 0),
        "events were lost during boot"
    );
    // Every boot takes timer interrupts and locks on the boot processor.
    for class in [Class::INTERRUPT, Class::LOCK] {
        assert!(
            t.events.iter().any(|e| e.cpu == 0 && e.class == class),
            "no events of class {} on cpu 0",
            class.0
        );
    }
}

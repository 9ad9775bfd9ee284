//! The in-kernel test runner.
//!
//! Booted with `ktest` on the command line, the kernel runs every test in
//! the `.ktest` section (see the `ktest` crate) on the boot processor with
//! all processors online, reporting each over the serial port, then exits
//! QEMU with [`ktest::protocol::EXIT_PASS`]. `ktest.start=N` skips the
//! first N tests: the host harness boots again from the test after one
//! that panicked or hung.
//!
//! Tests that check the harness itself (a deliberate panic, a deliberate
//! hang) only run with `ktest.selfcheck=panic` or `ktest.selfcheck=hang`.

use crate::println;
use core::sync::atomic::{AtomicUsize, Ordering};
use ktest::protocol::{EXIT_PASS, PREFIX};
use ktest::Test;

const NONE: usize = usize::MAX;
static CURRENT: AtomicUsize = AtomicUsize::new(NONE);

/// All tests in the image, in link order.
pub fn registry() -> &'static [Test] {
    unsafe extern "C" {
        static __ktest_start: u8;
        static __ktest_stop: u8;
    }
    // SAFETY: the linker script brackets the `.ktest` section, which holds
    // only `Test` records placed by `ktest!`, with these symbols.
    unsafe { section(&raw const __ktest_start, &raw const __ktest_stop) }
}

/// All benchmarks in the image (`.kbench`, placed by `ktest::kbench!`).
pub fn benches() -> &'static [Test] {
    unsafe extern "C" {
        static __kbench_start: u8;
        static __kbench_stop: u8;
    }
    // SAFETY: as in `registry`, for the `.kbench` section.
    unsafe { section(&raw const __kbench_start, &raw const __kbench_stop) }
}

/// # Safety
/// `[start, stop)` must hold only `Test` records.
unsafe fn section(start: *const u8, stop: *const u8) -> &'static [Test] {
    let s = start.cast::<Test>();
    let e = stop.cast::<Test>();
    // SAFETY: guaranteed by the caller; the section is read-only and 'static.
    unsafe { core::slice::from_raw_parts(s, e.offset_from(s) as usize) }
}

/// Runs every benchmark (kernel booted with `kbench`), or those whose
/// name contains `kbench.only=`'s value, and exits QEMU.
pub fn run_benches() -> ! {
    let only = crate::cmdline().get("kbench.only").unwrap_or("");
    let benches: alloc::vec::Vec<_> = benches().iter().filter(|b| b.name.contains(only)).collect();
    println!(
        "kbench: begin {} cpus={}",
        benches.len(),
        crate::arch::percpu::online()
    );
    for b in benches {
        println!("kbench: run {}", b.name);
        (b.func)();
    }
    println!("kbench: end");
    crate::arch::power::qemu_exit(EXIT_PASS)
}

fn is_selfcheck(t: &Test) -> bool {
    t.name.contains("::selfcheck_")
}

/// Tests named `numa_*` need a NUMA machine; other boots skip them.
fn is_numa_only(t: &Test) -> bool {
    t.name.contains("::numa_")
}

/// Runs the tests from index `start` and exits QEMU.
#[inline(never)]
pub fn run(start: usize) -> ! {
    let tests = registry();
    let selfcheck = crate::cmdline().get("ktest.selfcheck");
    let only = crate::cmdline().get(ktest::protocol::CMDLINE_ONLY);
    println!("{PREFIX}begin {} from {start}", tests.len());
    for (i, t) in tests.iter().enumerate().skip(start) {
        if is_selfcheck(t) && !selfcheck.is_some_and(|k| t.name.ends_with(k)) {
            continue;
        }
        if only.is_some_and(|o| !t.name.contains(o)) {
            continue;
        }
        if is_numa_only(t) && crate::mm::heap::kalloc().nodes() < 2 {
            continue;
        }
        CURRENT.store(i, Ordering::SeqCst);
        println!("{PREFIX}run {i} {}", t.name);
        // Reclaimed objects of earlier tests go now (not in interrupts).
        crate::clustered::quiescent();
        crate::trace::test_begin(i, t.name);
        let t0 = crate::time::now_ns();
        (t.func)();
        let us = (crate::time::now_ns() - t0) / 1000;
        crate::trace::test_end(i);
        println!("{PREFIX}pass {i} {us}us");
        CURRENT.store(NONE, Ordering::SeqCst);
    }
    println!("{PREFIX}end");
    crate::trace::flush();
    crate::arch::power::qemu_exit(EXIT_PASS)
}

/// Called on the panic path: marks the running test, if any, as failed.
pub fn report_failure(summary: core::fmt::Arguments<'_>) {
    let i = CURRENT.load(Ordering::SeqCst);
    if i != NONE {
        // One line: the harness reads the message up to the newline. No
        // allocation: the heap lock may be held by the panicking code.
        struct OneLine;
        impl core::fmt::Write for OneLine {
            fn write_str(&mut self, s: &str) -> core::fmt::Result {
                for part in s.split_inclusive('\n') {
                    let text = part.trim_end_matches('\n');
                    crate::console::PanicWriter.write_str(text)?;
                    if text.len() != part.len() {
                        crate::console::PanicWriter.write_str(" | ")?;
                    }
                }
                Ok(())
            }
        }
        use core::fmt::Write;
        let _ = write!(OneLine, "{PREFIX}fail {i} {summary}");
        let _ = crate::console::PanicWriter.write_str("\n");
    }
}

ktest::ktest! {
    /// Harness self-check: this test panics on purpose.
    fn selfcheck_panic() {
        panic!("deliberate panic to check the test harness");
    }

    /// Harness self-check: this test never returns.
    fn selfcheck_hang() {
        loop {
            crate::arch::cpu::idle_wait();
        }
    }

    /// The command line reached the kernel intact.
    fn cmdline_reaches_kernel() {
        assert!(crate::cmdline().has(ktest::protocol::CMDLINE_RUN));
    }
}

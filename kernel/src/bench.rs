//! Helpers for in-kernel microbenchmarks (`ktest::kbench!`, run by
//! `cargo xtask bench`). Results are cycles per operation from the TSC:
//! under software emulation only ratios mean anything.

use crate::arch::{cpu, percpu};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Runs `op` `iters` times on each of the first `cpus` processors at once,
/// with interrupts off, starting together; returns the mean cycles per
/// operation.
pub fn parallel(cpus: usize, iters: u64, op: &(dyn Fn() + Sync)) -> u64 {
    let cpus = cpus.min(percpu::online());
    let ready = AtomicUsize::new(0);
    let cycles = AtomicU64::new(0);
    let body = || {
        if percpu::current_id() >= cpus {
            return;
        }
        cpu::without_interrupts(|| {
            ready.fetch_add(1, Ordering::SeqCst);
            while ready.load(Ordering::SeqCst) < cpus {
                cpu::spin_hint();
            }
            let t0 = cpu::rdtsc();
            for _ in 0..iters {
                op();
            }
            cycles.fetch_add(cpu::rdtsc() - t0, Ordering::SeqCst);
        });
    };
    crate::ipi::run_concurrently(&body, body);
    cycles.load(Ordering::SeqCst) / (iters * cpus as u64)
}

/// Processor counts to sweep: 1, 2, 4, ... up to the number online.
pub fn sweep() -> impl Iterator<Item = usize> {
    let n = percpu::online();
    (0..)
        .map(|k| 1usize << k)
        .take_while(move |&c| c < n)
        .chain(core::iter::once(n))
}

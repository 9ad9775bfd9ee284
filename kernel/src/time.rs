//! Time: the TSC is the clock, the per-processor APIC tick is the heartbeat.
//!
//! The TSC frequency comes from the boot-time calibration against the PIT
//! ([`crate::arch::apic::calibrate`]). Each processor's tick
//! ([`crate::arch::apic::TICK_HZ`]) counts in its `PerCpu` record; later
//! issues hang quiescent-state detection and scheduling on it.

use crate::arch::{cpu, percpu};
use core::sync::atomic::{AtomicU64, Ordering};

static TSC_HZ: AtomicU64 = AtomicU64::new(0);
static TSC_BOOT: AtomicU64 = AtomicU64::new(0);
/// Unix time in nanoseconds at boot (clock 0); 0 if unknown.
static EPOCH_NS: AtomicU64 = AtomicU64::new(0);

/// Ties the clock to the wall clock: `unix_secs` (from the RTC) is now.
pub fn set_epoch(unix_secs: u64) {
    let epoch = (unix_secs * 1_000_000_000).saturating_sub(now_ns());
    EPOCH_NS.store(epoch, Ordering::Relaxed);
}

/// Unix time in nanoseconds at boot, the clock's zero (0: no wall clock).
/// Linux programs get it in their auxiliary vector
/// (`process::AT_K42_EPOCH`) for `CLOCK_REALTIME`.
pub fn epoch_ns() -> u64 {
    EPOCH_NS.load(Ordering::Relaxed)
}

/// Records the boot TSC; call first thing.
pub fn mark_boot() {
    TSC_BOOT.store(cpu::rdtsc(), Ordering::Relaxed);
}

/// Sets the calibrated TSC frequency.
pub fn set_tsc_hz(hz: u64) {
    TSC_HZ.store(hz, Ordering::Relaxed);
}

/// The TSC frequency in Hz (0 before calibration).
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// Converts TSC cycles to nanoseconds.
pub fn cycles_to_ns(cycles: u64) -> u64 {
    let hz = tsc_hz();
    if hz == 0 {
        return 0;
    }
    (u128::from(cycles) * 1_000_000_000 / u128::from(hz)) as u64
}

/// Nanoseconds since boot (0 before calibration).
pub fn now_ns() -> u64 {
    cycles_to_ns(cpu::rdtsc().wrapping_sub(TSC_BOOT.load(Ordering::Relaxed)))
}

/// Busy-waits `us` microseconds.
pub fn delay_us(us: u64) {
    let end = now_ns() + us * 1000;
    while now_ns() < end {
        cpu::spin_hint();
    }
}

/// The timer interrupt's work on this processor.
pub fn tick() {
    let ticks = percpu::current().ticks.fetch_add(1, Ordering::Relaxed);
    crate::trace::tick(ticks);
    crate::clustered::quiescent_from_interrupt();
}

ktest::ktest! {
    /// The clock is calibrated, monotonic, and agrees with the tick within
    /// a wide margin (software emulation is not a stopwatch).
    fn clock_is_monotonic_and_agrees_with_tick() {
        assert!(tsc_hz() > 10_000_000, "TSC at {} Hz", tsc_hz());
        let ticks0 = percpu::current().ticks.load(Ordering::Relaxed);
        let t0 = now_ns();
        let mut last = t0;
        while percpu::current().ticks.load(Ordering::Relaxed) < ticks0 + 5 {
            let t = now_ns();
            assert!(t >= last, "clock went backwards");
            last = t;
            cpu::idle_wait();
        }
        let elapsed = now_ns() - t0;
        // 4 to 5 ticks of 10 ms elapsed. A wrong calibration is off by a
        // large factor; a busy host can only delay ticks, so the upper
        // bound is loose.
        assert!(elapsed > 13_000_000 && elapsed < 1_000_000_000, "5 ticks took {elapsed} ns");
    }

    /// Every online processor's tick advances.
    fn timer_ticks_on_every_processor() {
        let before: alloc::vec::Vec<u64> = percpu::all().map(|p| p.ticks.load(Ordering::Relaxed)).collect();
        let start = now_ns();
        loop {
            let all = percpu::all()
                .zip(&before)
                .all(|(p, b)| p.ticks.load(Ordering::Relaxed) >= b + 3);
            if all {
                break;
            }
            assert!(now_ns() - start < 10_000_000_000, "some processor's tick stopped");
            cpu::idle_wait();
        }
    }
}

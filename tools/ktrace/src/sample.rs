//! A small deterministic trace, for golden tests, the HTML check and
//! trying the tool without booting a kernel (`ktrace sample`).
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use ktrace::events::{interrupt, lock, pagefault, sched, syscall, test, KERNEL_EVENTS};
use ktrace::{host, Overflow, Platform, StreamWriter};

/// A platform whose processor is set by hand and whose clock advances by
/// a fixed step per reading: the same calls give the same bytes.
pub struct FakePlatform {
    cpu: AtomicUsize,
    clock: AtomicU64,
}

impl FakePlatform {
    /// Processor 0, clock at `start`.
    pub fn new(start: u64) -> Self {
        FakePlatform {
            cpu: AtomicUsize::new(0),
            clock: AtomicU64::new(start),
        }
    }
    /// Log as processor `cpu` from now on.
    pub fn set_cpu(&self, cpu: usize) {
        self.cpu.store(cpu, Ordering::Relaxed);
    }
    /// Moves the clock forward.
    pub fn advance(&self, ticks: u64) {
        self.clock.fetch_add(ticks, Ordering::Relaxed);
    }
}

impl Platform for FakePlatform {
    fn cpu_id(&self) -> usize {
        self.cpu.load(Ordering::Relaxed)
    }
    fn timestamp(&self) -> u64 {
        self.clock.fetch_add(10, Ordering::Relaxed)
    }
}

/// A trace of `cpus` processors doing `rounds` rounds of scheduling,
/// system calls, page faults, interrupts and lock traffic on two locks,
/// with a 1 GHz clock (ticks are ns). Deterministic.
pub fn sample_trace(cpus: usize, rounds: u64) -> Vec<u8> {
    let cpus = cpus.clamp(1, 64);
    let tracer = host::tracer_with::<_, 4, 512>(cpus, Overflow::Stop, FakePlatform::new(1_000_000));
    tracer.set_mask(u64::MAX);
    let p = tracer.platform();
    let mut scratch = [0u64; 512];
    let mut out = Vec::new();
    let mut daemon = StreamWriter::new(tracer, &mut scratch);
    let Ok(()) = daemon.start(&mut out, KERNEL_EVENTS, 1_000_000_000);
    let (big, small) = (0xffff_8000_0010_0000u64, 0xffff_8000_0010_0040u64);
    p.set_cpu(0);
    lock::name(tracer, big, "page-table");
    lock::name(tracer, small, "run-queue");
    test::message(tracer, "sample workload </script> & friends");
    for cpu in 0..cpus {
        p.set_cpu(cpu);
        sched::name(tracer, 100 + cpu as u64, "worker");
    }
    for r in 0..rounds {
        for cpu in 0..cpus {
            p.set_cpu(cpu);
            let me = 100 + cpu as u64;
            sched::switch(tracer, 1, me);
            syscall::enter(tracer, 39, r, 0, 0);
            if (r + cpu as u64).is_multiple_of(3) {
                pagefault::enter(tracer, 0x4000_0000 + r * 4096, 0x40_1000, 6);
                p.advance(200);
                pagefault::exit(tracer, 0x4000_0000 + r * 4096, true);
            }
            // Processors 1.. find the big lock busy now and then.
            if cpu > 0 && !r.is_multiple_of(2) {
                lock::contended(tracer, big);
                p.advance(50 * cpu as u64);
            }
            lock::acquire(tracer, big);
            p.advance(30);
            lock::release(tracer, big);
            lock::acquire(tracer, small);
            lock::release(tracer, small);
            if r.is_multiple_of(4) {
                interrupt::enter(tracer, 32);
                p.advance(40);
                interrupt::exit(tracer, 32);
            }
            syscall::exit(tracer, 39, r as i64);
            sched::switch(tracer, me, 1);
            p.advance(100);
        }
        let Ok(_) = daemon.poll(&mut out, 1);
    }
    let Ok(_) = daemon.flush(&mut out);
    out
}

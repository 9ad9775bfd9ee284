//! A small deterministic trace, for golden tests, the HTML check and
//! trying the tool without booting a kernel (`ktrace sample`).
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use ktrace::events::{interrupt, lock, pagefault, sched, syscall, test, IDLE, KERNEL_EVENTS};
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

/// A trace of `cpus` processors doing `rounds` rounds of dispatching
/// (switch, wake, block, preempt from the timer interrupt, a migration),
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
    syscall::name(tracer, 39, "ipc_call");
    test::message(tracer, "sample workload </script> & friends");
    // Dispatcher `d<cpu + 1>.0` on each processor, plus a migrant.
    let dispatcher = |cpu: usize| cpu as u64 + 1;
    let migrant = (7u64 << 32) | 9; // d9.7
    for cpu in 0..cpus {
        p.set_cpu(cpu);
        sched::create(tracer, dispatcher(cpu), cpu as u32, 3);
        sched::name(tracer, dispatcher(cpu), "worker");
    }
    for r in 0..rounds {
        for cpu in 0..cpus {
            p.set_cpu(cpu);
            let me = dispatcher(cpu);
            if r % 3 == 1 {
                sched::wake(tracer, me, cpu as u32, true);
            }
            sched::switch(tracer, IDLE, me, 3);
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
            syscall::exit(tracer, 39, r as i64);
            if r.is_multiple_of(4) {
                // The timer ends the slice: a switch inside an interrupt.
                interrupt::enter(tracer, 32);
                p.advance(40);
                sched::preempt(tracer, me, true);
                if cpu == 0 && r == 4 && cpus > 1 {
                    sched::migrate(tracer, migrant, 0, 1);
                }
                sched::switch(tracer, me, IDLE, 5);
                interrupt::exit(tracer, 32);
            } else if r % 4 == 2 {
                // The dispatcher blocks and the processor idles without a
                // switch to `IDLE` being logged (the idle loop's own events
                // end the run).
                sched::block(tracer, me);
                sched::idle_enter(tracer);
                p.advance(70);
                sched::idle_exit(tracer);
            } else {
                sched::block(tracer, me);
                sched::switch(tracer, me, IDLE, 5);
            }
            p.advance(100);
        }
        let Ok(_) = daemon.poll(&mut out, 1);
    }
    let Ok(_) = daemon.flush(&mut out);
    out
}

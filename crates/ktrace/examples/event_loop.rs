//! Logs N events in a loop, for counting instructions per event with
//! `perf stat -e instructions` (compare N = 0 with N = 10_000_000; see
//! docs/perf/trace.md).
//!
//! Usage: `event_loop <N> [enabled|disabled|kernel-like]`; `kernel-like`
//! uses a platform shaped like the kernel's (processor id: a constant
//! load; clock: a plain RDTSC) instead of the hosted one.
use ktrace::events::test;
use ktrace::host::{self, StdPlatform};
use ktrace::{Class, Overflow};

/// One event: out of line, so its code can be read with `objdump`.
#[inline(never)]
fn log_one(tracer: &ktrace::Tracer<'_, StdPlatform, 8, 4096>, i: u64) {
    test::mark(tracer, 1, i);
}

/// The kernel's platform, roughly.
struct KernelLike;

impl ktrace::Platform for KernelLike {
    #[inline(always)]
    fn cpu_id(&self) -> usize {
        0
    }
    #[inline(always)]
    #[allow(unsafe_code)]
    fn timestamp(&self) -> u64 {
        // SAFETY: RDTSC reads a counter and has no memory effects.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
}

#[inline(never)]
fn log_one_kernel_like(tracer: &ktrace::Tracer<'_, KernelLike, 8, 4096>, i: u64) {
    test::mark(tracer, 1, i);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(n) = args.next().and_then(|s| s.parse::<u64>().ok()) else {
        eprintln!("usage: event_loop <N> [enabled|disabled]");
        std::process::exit(2);
    };
    let mode = args.next().unwrap_or_default();
    if mode == "kernel-like" {
        let tracer = host::tracer_with::<_, 8, 4096>(1, Overflow::Wrap, KernelLike);
        tracer.enable(Class::TEST);
        for i in 0..n {
            log_one_kernel_like(tracer, std::hint::black_box(i));
        }
        println!("{} words reserved", tracer.reserved_words(0));
        return;
    }
    let enabled = mode != "disabled";
    let tracer = host::tracer::<8, 4096>(1, Overflow::Wrap);
    StdPlatform::set_cpu(0);
    if enabled {
        tracer.enable(Class::TEST);
    }
    for i in 0..n {
        log_one(tracer, std::hint::black_box(i));
    }
    println!("{} words reserved", tracer.reserved_words(0));
}

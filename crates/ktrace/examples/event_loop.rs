//! Logs N events in a loop, for counting instructions per event (see
//! docs/perf/trace.md: callgrind, N = 0 against N = 1 000 000) and for
//! reading the fast path's code with `objdump`.
//!
//! Usage: `event_loop <N> [mode] [disabled]`, where mode is
//! * `shared` (default): hosted [`StdPlatform`], threads share buffers,
//!   locked atomics, `RDTSCP; LFENCE` clock;
//! * `thread`: hosted [`ThreadPlatform`], a buffer per thread, CPU-local
//!   reservation and commit, plain `RDTSC`;
//! * `kernel-like`: shaped like the kernel's platform (processor id: a
//!   constant; clock: a plain `RDTSC`; single writer);
//! * `kernel-like-locked`: the same with locked atomics.
use ktrace::events::test;
use ktrace::host::{self, StdPlatform, ThreadPlatform};
use ktrace::{Class, Overflow, Platform, Tracer};

/// The kernel's platform, roughly.
struct KernelLike<const LOCAL: bool>;

impl<const LOCAL: bool> Platform for KernelLike<LOCAL> {
    const SINGLE_WRITER: bool = LOCAL;
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
    #[inline(always)]
    fn timestamp_low(&self) -> u32 {
        ktrace::arch::tsc_low()
    }
}

// One event each: out of line, so their code can be read with `objdump`.

#[inline(never)]
fn log_one_shared(tracer: &Tracer<'_, StdPlatform, 8, 4096>, i: u64) {
    test::mark(tracer, 1, i);
}

#[inline(never)]
fn log_one_thread(tracer: &Tracer<'_, ThreadPlatform, 8, 4096>, i: u64) {
    test::mark(tracer, 1, i);
}

#[inline(never)]
fn log_one_kernel_like(tracer: &Tracer<'_, KernelLike<true>, 8, 4096>, i: u64) {
    test::mark(tracer, 1, i);
}

#[inline(never)]
fn log_one_kernel_like_locked(tracer: &Tracer<'_, KernelLike<false>, 8, 4096>, i: u64) {
    test::mark(tracer, 1, i);
}

fn run<P: Platform>(
    tracer: &Tracer<'_, P, 8, 4096>,
    n: u64,
    enabled: bool,
    log: fn(&Tracer<'_, P, 8, 4096>, u64),
) {
    if enabled {
        tracer.enable(Class::TEST);
    }
    for i in 0..n {
        log(tracer, std::hint::black_box(i));
    }
    println!("{} words reserved", tracer.reserved_words(0));
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(n) = args.next().and_then(|s| s.parse::<u64>().ok()) else {
        eprintln!(
            "usage: event_loop <N> [shared|thread|kernel-like|kernel-like-locked] [disabled]"
        );
        std::process::exit(2);
    };
    let rest: Vec<String> = args.collect();
    let enabled = !rest.iter().any(|a| a == "disabled");
    let mode = rest
        .iter()
        .find(|a| *a != "disabled")
        .map_or("shared", String::as_str);
    match mode {
        "shared" => {
            StdPlatform::set_cpu(0);
            run(host::tracer(1, Overflow::Wrap), n, enabled, log_one_shared);
        }
        "thread" => {
            ThreadPlatform::set_buffer(0);
            run(
                host::thread_tracer(1, Overflow::Wrap),
                n,
                enabled,
                log_one_thread,
            );
        }
        "kernel-like" => run(
            host::tracer_with(1, Overflow::Wrap, KernelLike::<true>),
            n,
            enabled,
            log_one_kernel_like,
        ),
        "kernel-like-locked" => run(
            host::tracer_with(1, Overflow::Wrap, KernelLike::<false>),
            n,
            enabled,
            log_one_kernel_like_locked,
        ),
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    }
}

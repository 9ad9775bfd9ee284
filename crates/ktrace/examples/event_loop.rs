//! Logs N events in a loop, for counting instructions per event with
//! `perf stat -e instructions` (compare N = 0 with N = 10_000_000; see
//! docs/perf/trace.md).
//!
//! Usage: `event_loop <N> [enabled|disabled]`
use ktrace::events::test;
use ktrace::host::{self, StdPlatform};
use ktrace::{Class, Overflow};

/// One event: out of line, so its code can be read with `objdump`.
#[inline(never)]
fn log_one(tracer: &ktrace::Tracer<'_, StdPlatform, 8, 4096>, i: u64) {
    test::mark(tracer, 1, i);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(n) = args.next().and_then(|s| s.parse::<u64>().ok()) else {
        eprintln!("usage: event_loop <N> [enabled|disabled]");
        std::process::exit(2);
    };
    let enabled = args.next().as_deref() != Some("disabled");
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

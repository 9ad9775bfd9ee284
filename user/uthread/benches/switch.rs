//! Thread create and switch at user level (issue 8's benchmark).
//!
//! `cargo bench -p uthread -- --measurement-time 2 --warm-up-time 1`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use uthread::{hosted::StdPlatform, Dispatcher};

/// `iters` threads created, run to completion and reaped.
fn create(iters: u64) -> Duration {
    let d = Dispatcher::with_stack_size(StdPlatform::new(), 16 * 1024);
    let start = Instant::now();
    for i in 0..iters {
        d.spawn(move |_| {
            black_box(i);
        })
        .expect("spawn");
        if i % 64 == 63 {
            d.run().expect("run");
        }
    }
    d.run().expect("run");
    start.elapsed()
}

/// Two threads yielding to each other: `iters` yields in all. Each yield is
/// two context switches (thread -> scheduler -> thread).
fn yield_pair(iters: u64) -> Duration {
    let d = Dispatcher::new(StdPlatform::new());
    let half = iters / 2 + 1;
    for _ in 0..2 {
        d.spawn(move |d| {
            for _ in 0..half {
                d.yield_now().expect("yield");
            }
        })
        .expect("spawn");
    }
    let start = Instant::now();
    d.run().expect("run");
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    c.bench_function("uthread/create+run+exit", |b| b.iter_custom(create));
    c.bench_function("uthread/yield (2 switches)", |b| b.iter_custom(yield_pair));
}

criterion_group!(benches, bench);
criterion_main!(benches);

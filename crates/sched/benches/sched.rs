//! Criterion benchmarks of the scheduler's hot paths.
//!
//! Run: `cargo bench -p sched -- --measurement-time 2 --warm-up-time 1`.
//! Results and ratios are recorded in `docs/perf/sched.md`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sched::{Class, Config, DispatcherId, Params, Scheduler, Smp, Weight, MICROSECOND};

/// A scheduler with `n` runnable time-sharing dispatchers of mixed weights,
/// one of them running.
fn loaded(n: u32) -> (Scheduler, u64) {
    let mut s = Scheduler::with_capacity(Config::default(), n as usize + 1).unwrap();
    for i in 0..n {
        let w = Weight::new(u64::from(1 + (i * 37) % 4096)).unwrap();
        let slot = s.create(DispatcherId::new(i, 0), Params::new(Class::TimeSharing, w));
        s.wake(slot).unwrap();
    }
    let now = 0;
    s.schedule(now).unwrap();
    (s, now)
}

/// Preempt the running dispatcher and pick the next: the timer-interrupt
/// path (`tick` + `schedule`), against the number of runnable dispatchers.
fn pick_next(c: &mut Criterion) {
    let mut g = c.benchmark_group("pick_next");
    g.throughput(Throughput::Elements(1));
    for n in [1u32, 16, 256] {
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            let (mut s, mut now) = loaded(n);
            b.iter(|| {
                now += 50 * MICROSECOND;
                black_box(s.tick(now));
                black_box(s.schedule(now))
            });
        });
    }
    g.finish();
}

/// The running dispatcher blocks, is woken (an async message), and the
/// processor picks again.
fn wake_pick(c: &mut Criterion) {
    let mut g = c.benchmark_group("block_wake_pick");
    g.throughput(Throughput::Elements(1));
    for n in [1u32, 16, 256] {
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            let (mut s, mut now) = loaded(n);
            b.iter(|| {
                now += 20 * MICROSECOND;
                let (cur, _) = s.current().unwrap();
                s.block(cur, now).unwrap();
                black_box(s.wake(cur).unwrap());
                black_box(s.schedule(now))
            });
        });
    }
    g.finish();
}

/// The same timer path through `Smp` (the processor's lock, uncontended,
/// and the published load), with 16 runnable dispatchers.
fn smp_pick_next(c: &mut Criterion) {
    let mut g = c.benchmark_group("smp_pick_next");
    g.throughput(Throughput::Elements(1));
    g.bench_function("16", |b| {
        let smp = Smp::new(2, 17, Config::default()).unwrap();
        for i in 0..16u64 {
            let w = Weight::new(1 + (i * 37) % 4096).unwrap();
            let id = smp.create(0, Params::new(Class::TimeSharing, w)).unwrap();
            smp.wake(id).unwrap();
        }
        smp.schedule(0, 0).unwrap();
        let mut now = 0;
        b.iter(|| {
            now += 50 * MICROSECOND;
            black_box(smp.tick(0, now).unwrap());
            black_box(smp.schedule(0, now).unwrap())
        });
    });
    g.finish();
}

/// Moving one runnable dispatcher between two processors (both locks, take,
/// adopt, directory update); each iteration moves one there and one back.
fn steal(c: &mut Criterion) {
    let mut g = c.benchmark_group("steal");
    g.throughput(Throughput::Elements(2));
    for n in [16u32, 256] {
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            let smp = Smp::new(2, n as usize + 1, Config::default()).unwrap();
            for _ in 0..n {
                let id = smp.create(0, Params::default()).unwrap();
                smp.wake(id).unwrap();
            }
            smp.schedule(0, 0).unwrap();
            b.iter(|| {
                assert_eq!(smp.steal(1, 0, 1).unwrap(), 1);
                assert_eq!(smp.steal(0, 1, 1).unwrap(), 1);
            });
        });
    }
    g.finish();
}

criterion_group!(benches, pick_next, smp_pick_next, wake_pick, steal);
criterion_main!(benches);

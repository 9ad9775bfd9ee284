//! Criterion benchmarks: counter scaling (per-processor clustered counter
//! vs a shared `AtomicU64` vs a `Mutex<u64>`) and the cost of a `CoRef`
//! call over a `&dyn` call. See `docs/perf/cobj.md`.
//!
//! `cargo bench -p cobj --bench cobj -- --measurement-time 2 --warm-up-time 1`

mod common;

use cobj::hosted::Hosted;
use cobj::{Config, Runtime, StdRoot};
use common::*;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

/// Thread counts: 1, 2, 4, ... up to the cores we may use (or
/// `COBJ_BENCH_THREADS`).
fn thread_counts() -> Vec<usize> {
    let max = std::env::var("COBJ_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut v = vec![1];
    while v.last().unwrap() * 2 <= max {
        v.push(v.last().unwrap() * 2);
    }
    if *v.last().unwrap() != max {
        v.push(max);
    }
    v
}

/// Runs `op` `iters` times on each of `threads` threads (thread `k` set up
/// by `enter(k)`), and returns the wall time of the slowest.
fn run_threads<G>(
    threads: usize,
    iters: u64,
    enter: impl Fn(usize) -> G + Sync,
    op: impl Fn() + Sync,
) -> Duration {
    let start = Barrier::new(threads);
    let t0 = Mutex::new(None::<Instant>);
    std::thread::scope(|s| {
        for k in 0..threads {
            let (start, t0, enter, op) = (&start, &t0, &enter, &op);
            s.spawn(move || {
                let _guard = enter(k);
                start.wait();
                t0.lock().unwrap().get_or_insert_with(Instant::now);
                for _ in 0..iters {
                    op();
                }
            });
        }
    });
    let t0 = t0.lock().unwrap().unwrap();
    t0.elapsed()
}

fn scaling(c: &mut Criterion) {
    let counts = thread_counts();
    let max = *counts.last().unwrap();
    let rt = Runtime::new(Hosted::new(max).unwrap(), Config { max_objects: 16 }).unwrap();
    let per_cpu = rt.create(StdRoot::<PerCpu>::per_cpu(())).unwrap();
    let atomic = AtomicU64::new(0);
    let mutex = Mutex::new(0u64);

    let mut g = c.benchmark_group("counter_inc");
    for &t in &counts {
        g.throughput(Throughput::Elements(t as u64));
        g.bench_with_input(BenchmarkId::new("percpu_coref", t), &t, |b, &t| {
            b.iter_custom(|iters| {
                run_threads(
                    t,
                    iters,
                    |k| rt.enter(k).unwrap(),
                    || {
                        per_cpu.call(|c| c.inc()).unwrap();
                    },
                )
            })
        });
        g.bench_with_input(BenchmarkId::new("shared_atomic", t), &t, |b, &t| {
            b.iter_custom(|iters| {
                run_threads(
                    t,
                    iters,
                    |_| (),
                    || {
                        black_box(&atomic).fetch_add(1, Ordering::Relaxed);
                    },
                )
            })
        });
        g.bench_with_input(BenchmarkId::new("mutex", t), &t, |b, &t| {
            b.iter_custom(|iters| {
                run_threads(
                    t,
                    iters,
                    |_| (),
                    || {
                        *black_box(&mutex).lock().unwrap() += 1;
                    },
                )
            })
        });
    }
    g.finish();
}

fn call_overhead(c: &mut Criterion) {
    let rt = Runtime::new(Hosted::new(1).unwrap(), Config { max_objects: 16 }).unwrap();
    let _me = rt.enter(0).unwrap();
    let co = rt.create(StdRoot::<PerCpu>::per_cpu(())).unwrap();
    co.call(|c| c.inc()).unwrap();
    let plain = Plain(AtomicU64::new(0));
    let dyn_ref: &dyn Counter = &plain;

    let mut g = c.benchmark_group("call");
    g.bench_function("dyn_ref", |b| b.iter(|| black_box(dyn_ref).inc()));
    g.bench_function("coref", |b| {
        b.iter(|| black_box(&co).call(|c| c.inc()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, call_overhead, scaling);
criterion_main!(benches);

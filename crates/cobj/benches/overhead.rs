//! Best-of-many-short-runs measurements, which are far steadier than means
//! on a shared, loaded machine: the `CoRef` call vs a `&dyn` call, and the
//! counter scaling (per-processor clustered counter vs shared `AtomicU64`
//! vs `Mutex<u64>`) at 1, 2, ... threads.
//!
//! `cargo bench -p cobj --bench overhead` (`COBJ_BENCH_THREADS`)

mod common;

use cobj::hosted::Hosted;
use cobj::{Config, Runtime, StdRoot};
use common::*;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::Instant;

/// Best throughput (ops/s over all threads) of `runs` runs in which each
/// of `threads` threads does `n` ops. A run lasts from the first thread's
/// start to the last thread's end.
fn best_throughput<G>(
    runs: usize,
    threads: usize,
    n: u64,
    enter: impl Fn(usize) -> G + Sync,
    op: impl Fn() + Sync,
) -> f64 {
    let mut best = 0f64;
    let start = Barrier::new(threads + 1);
    let end = Barrier::new(threads + 1);
    let spans = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for k in 0..threads {
            let (start, end, enter, op, spans) = (&start, &end, &enter, &op, &spans);
            s.spawn(move || {
                let _g = enter(k);
                for _ in 0..runs {
                    start.wait();
                    let t0 = Instant::now();
                    for _ in 0..n {
                        op();
                    }
                    spans.lock().unwrap().push((t0, Instant::now()));
                    end.wait();
                }
            });
        }
        for _ in 0..runs {
            start.wait();
            end.wait();
            let mut v = spans.lock().unwrap();
            let first = v.iter().map(|s| s.0).min().unwrap();
            let last = v.iter().map(|s| s.1).max().unwrap();
            v.clear();
            best = best.max((threads as u64 * n) as f64 / (last - first).as_secs_f64());
        }
    });
    best
}

fn min_ns_per_op(runs: usize, n: u64, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = Runtime::new(Hosted::new(1).unwrap(), Config { max_objects: 16 }).unwrap();
    let _me = rt.enter(0).unwrap();
    let co = rt.create(StdRoot::<PerCpu>::per_cpu(())).unwrap();
    co.call(|c| c.inc()).unwrap();
    let plain = Plain(AtomicU64::new(0));
    let dyn_ref: &dyn Counter = &plain;
    let (runs, n) = (200, 200_000);
    let mut dyn_ns = f64::INFINITY;
    let mut co_ns = f64::INFINITY;
    // Interleave the two so both see the same machine.
    for _ in 0..5 {
        dyn_ns = dyn_ns.min(min_ns_per_op(runs, n, || black_box(dyn_ref).inc()));
        co_ns = co_ns.min(min_ns_per_op(runs, n, || {
            black_box(&co).call(|c| c.inc()).unwrap()
        }));
    }
    println!("&dyn call:  {dyn_ns:.2} ns");
    println!("CoRef call: {co_ns:.2} ns");
    println!(
        "overhead:   {:.2} ns per call ({:.2}x)",
        co_ns - dyn_ns,
        co_ns / dyn_ns
    );
    drop(_me);

    let max = std::env::var("COBJ_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let rt = Runtime::new(Hosted::new(max).unwrap(), Config { max_objects: 16 }).unwrap();
    let per_cpu = rt.create(StdRoot::<PerCpu>::per_cpu(())).unwrap();
    let atomic = AtomicU64::new(0);
    let mutex = Mutex::new(0u64);
    let (runs, n) = (100, 100_000);
    println!("threads  percpu_coref  shared_atomic  mutex   (Mops/s, best of {runs} runs)");
    let mut one = 0.0;
    for t in 1..=max {
        let p = best_throughput(
            runs,
            t,
            n,
            |k| rt.enter(k).unwrap(),
            || per_cpu.call(|c| c.inc()).unwrap(),
        );
        let a = best_throughput(
            runs,
            t,
            n,
            |_| (),
            || {
                black_box(&atomic).fetch_add(1, Ordering::Relaxed);
            },
        );
        let m = best_throughput(
            runs,
            t,
            n,
            |_| (),
            || *black_box(&mutex).lock().unwrap() += 1,
        );
        if t == 1 {
            one = p;
        }
        println!(
            "{t:>7}  {:>12.1}  {:>13.1}  {:>5.1}   percpu: {:.2}x one thread, {:.1}x atomic, {:.1}x mutex",
            p / 1e6,
            a / 1e6,
            m / 1e6,
            p / one,
            p / a,
            p / m
        );
    }
}

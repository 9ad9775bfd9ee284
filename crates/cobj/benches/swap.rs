//! Hot-swap latency under load (p50, p99) and the throughput dip while
//! swapping. Plain `main` (not criterion): worker processors increment a
//! per-processor counter and count their calls; a swapper processor swaps
//! it to a fresh per-processor implementation (so the implementation's own
//! speed does not change), back to back and then every 10 ms. At the end it
//! swaps to the shared implementation, for comparison.
//!
//! `cargo bench -p cobj --bench swap` (`COBJ_SWAPS`, `COBJ_BENCH_THREADS`,
//! `COBJ_YIELD_EVERY`: workers yield at every n-th quiescent point).

mod common;

use cobj::hosted::Hosted;
use cobj::{Config, Runtime, StdRoot};
use common::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` / test discovery.
    }
    let workers = env("COBJ_BENCH_THREADS", 2);
    let swaps = env("COBJ_SWAPS", 200);
    // Workers yield at every this-many-th quiescent point (0: never).
    let yield_every = env("COBJ_YIELD_EVERY", 0) as u64;
    let rt = Runtime::new(
        Hosted::new(workers + 1).unwrap(),
        Config { max_objects: 16 },
    )
    .unwrap();
    let obj = rt.create(StdRoot::<PerCpu>::per_cpu(())).unwrap();
    let ops = AtomicU64::new(0);
    let stop = AtomicBool::new(false);

    let (latencies, base_rate, swap_rate) = std::thread::scope(|s| {
        for cpu in 0..workers {
            let (rt, obj, ops, stop) = (&rt, &obj, &ops, &stop);
            s.spawn(move || {
                let me = rt.enter(cpu).unwrap();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1024 {
                        obj.call(|c| c.inc()).unwrap();
                    }
                    n += 1024;
                    me.quiescent();
                    if yield_every != 0 && (n / 1024).is_multiple_of(yield_every) {
                        std::thread::yield_now();
                    }
                    if n.is_multiple_of(4096) {
                        ops.fetch_add(4096, Ordering::Relaxed);
                    }
                }
            });
        }
        let me = rt.enter(workers).unwrap();
        let rate = |d: Duration| {
            let (o0, t0) = (ops.load(Ordering::Relaxed), Instant::now());
            while t0.elapsed() < d {
                me.quiescent();
                std::thread::sleep(Duration::from_millis(1));
            }
            (ops.load(Ordering::Relaxed) - o0) as f64 / t0.elapsed().as_secs_f64()
        };
        let base = rate(Duration::from_millis(500));
        let mut lat = Vec::with_capacity(swaps);
        let (o0, t0) = (ops.load(Ordering::Relaxed), Instant::now());
        for i in 0..swaps {
            let t = Instant::now();
            // Per-processor to per-processor: the implementation's own speed
            // does not change, so any dip is the swap's.
            obj.switch(StdRoot::<PerCpu>::per_cpu(())).unwrap();
            lat.push(t.elapsed());
            let _ = i;
            me.quiescent();
        }
        let during = (ops.load(Ordering::Relaxed) - o0) as f64 / t0.elapsed().as_secs_f64();
        // One swap every 10 ms: the average cost of occasional swaps.
        let (o0, t0) = (ops.load(Ordering::Relaxed), Instant::now());
        for i in 0..50 {
            let next = t0 + Duration::from_millis(10 * (i + 1));
            obj.switch(StdRoot::<PerCpu>::per_cpu(())).unwrap();
            while Instant::now() < next {
                me.quiescent();
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        let spaced = (ops.load(Ordering::Relaxed) - o0) as f64 / t0.elapsed().as_secs_f64();
        let after = rate(Duration::from_millis(300));
        obj.switch(StdRoot::<Shared>::shared(())).unwrap();
        let shared = rate(Duration::from_millis(300));
        println!("after the swaps (per-processor): {:.1} Mcalls/s; shared implementation: {:.1} Mcalls/s", after / 1e6, shared / 1e6);
        stop.store(true, Ordering::Relaxed);
        drop(me);
        (lat, base, (during, spaced))
    });
    let (swap_rate, spaced_rate) = swap_rate;
    let mut lat = latencies;
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "swap latency under load ({workers} workers, {} swaps):",
        lat.len()
    );
    println!(
        "  p50 {:?}  p99 {:?}  max {:?}",
        pct(0.5),
        pct(0.99),
        lat.last().unwrap()
    );
    println!("throughput without swaps: {:.1} Mcalls/s", base_rate / 1e6);
    println!(
        "throughput while swapping back to back: {:.1} Mcalls/s ({:.0}% of baseline)",
        swap_rate / 1e6,
        100.0 * swap_rate / base_rate
    );
    println!(
        "throughput with one swap every 10 ms: {:.1} Mcalls/s ({:.0}% of baseline)",
        spaced_rate / 1e6,
        100.0 * spaced_rate / base_rate
    );
}

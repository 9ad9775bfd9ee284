//! `CoRef` call vs `&dyn` call, as the minimum over many short runs: on a
//! shared, loaded machine the minimum is far steadier than the mean.
//!
//! `cargo bench -p cobj --bench overhead`

mod common;

use cobj::hosted::Hosted;
use cobj::{Config, Runtime, StdRoot};
use common::*;
use std::hint::black_box;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

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
}

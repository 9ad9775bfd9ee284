//! Hosted fault-path cost: zero-fill and copy-on-write faults through
//! Process -> Region -> FCM -> SoftHat, and their scaling over threads
//! faulting in separate regions, in one shared region, or in one
//! partitioned region (a part, and so an FCM, per thread).
//!
//! HOSTED numbers: SoftHat's page tables are B-tree maps under locks and
//! SimFrames is one locked allocator, so absolute times and the shared
//! parts are not the kernel's. The in-kernel cycles come with the kernel
//! wiring.
//!
//! `cargo bench -p mm --bench fault -- --warm-up-time 1 --measurement-time 2`
//! (`MM_BENCH_THREADS=1,2,4` picks the thread counts).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use cobj::hosted::Hosted;
use cobj::{Config, Runtime};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use mm::{
    Access, AddressSpace, MapOptions, Mm, NullDispatcher, Prot, RegionKind, SimFrames, SoftHat,
    PAGE_SIZE,
};

const VA: u64 = 0x4000_0000;
const P: u64 = PAGE_SIZE as u64;
/// Faults per thread per chunk (a fresh region each chunk).
const CHUNK: u64 = 512;
const MAX_THREADS: usize = 4;

struct Bench {
    rt: &'static Runtime<Hosted>,
    mm: Mm<Hosted>,
}

fn bench_machine() -> Bench {
    let rt: &'static Runtime<Hosted> = Box::leak(Box::new(
        Runtime::new(Hosted::new(MAX_THREADS).unwrap(), Config::default()).unwrap(),
    ));
    let frames = Arc::new(SimFrames::new(3 * MAX_THREADS * CHUNK as usize));
    let mm = Mm::new(rt, frames).unwrap();
    Bench { rt, mm }
}

fn space(b: &Bench, replicated: bool) -> AddressSpace<Hosted, SoftHat> {
    b.mm.create_space(
        Arc::new(SoftHat::new(MAX_THREADS)),
        Arc::new(NullDispatcher),
        replicated,
    )
    .unwrap()
}

fn single(c: &mut Criterion) {
    let b = bench_machine();
    let _cpu = b.rt.enter(0).unwrap();
    let mut g = c.benchmark_group("fault");
    g.bench_function("zero_fill", |bch| {
        bch.iter_custom(|iters| {
            let s = space(&b, false);
            let mut t = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(CHUNK);
                s.map_anon(VA, CHUNK * P, Prot::RW, MapOptions::default())
                    .unwrap();
                let t0 = Instant::now();
                for i in 0..n {
                    s.fault(VA + i * P, Access::Write).unwrap();
                }
                t += t0.elapsed();
                s.unmap(VA, CHUNK * P).unwrap();
                // Let destroyed objects be reclaimed (ids are finite).
                b.rt.quiescent();
                left -= n;
            }
            s.destroy().unwrap();
            b.rt.quiescent();
            t
        })
    });
    g.bench_function("copy_on_write", |bch| {
        bch.iter_custom(|iters| {
            let parent = space(&b, false);
            let mut t = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(CHUNK);
                parent
                    .map_anon(VA, CHUNK * P, Prot::RW, MapOptions::default())
                    .unwrap();
                for i in 0..n {
                    parent.fault(VA + i * P, Access::Write).unwrap();
                }
                let child = parent
                    .fork(
                        Arc::new(SoftHat::new(MAX_THREADS)),
                        Arc::new(NullDispatcher),
                    )
                    .unwrap();
                let t0 = Instant::now();
                for i in 0..n {
                    child.fault(VA + i * P, Access::Write).unwrap();
                }
                t += t0.elapsed();
                child.destroy().unwrap();
                parent.unmap(VA, CHUNK * P).unwrap();
                b.rt.quiescent();
                left -= n;
            }
            parent.destroy().unwrap();
            b.rt.quiescent();
            t
        })
    });
    g.finish();
}

/// `threads` threads each take `iters` zero-fill faults; the time is the
/// wall time of the faulting phases (so per-iteration time stays flat under
/// perfect scaling).
fn scaling(c: &mut Criterion) {
    let threads: Vec<usize> = std::env::var("MM_BENCH_THREADS")
        .ok()
        .map(|s| {
            s.split(',')
                .filter_map(|x| x.parse().ok())
                .filter(|n| (1..=MAX_THREADS).contains(n))
                .collect()
        })
        .unwrap_or_else(|| vec![1, 2, 4]);
    let b = bench_machine();
    let mut g = c.benchmark_group("fault_scaling");
    for (name, layout) in [
        ("separate_regions", Layout::Separate),
        ("one_shared_region", Layout::Shared(RegionKind::Default)),
        (
            "one_partitioned_region",
            Layout::Shared(RegionKind::Partitioned(MAX_THREADS)),
        ),
    ] {
        for &n in &threads {
            g.bench_with_input(BenchmarkId::new(name, n), &n, |bch, &n| {
                bch.iter_custom(|iters| run_threads(&b, n, layout, iters))
            });
        }
    }
    g.finish();
}

#[derive(Clone, Copy)]
enum Layout {
    /// A Region (and FCM) per thread.
    Separate,
    /// One Region of this kind, each thread faulting its own slice.
    Shared(RegionKind),
}

fn run_threads(b: &Bench, n: usize, layout: Layout, iters: u64) -> Duration {
    let (shared, kind) = match layout {
        Layout::Separate => (false, RegionKind::Default),
        Layout::Shared(k) => (true, k),
    };
    // A partitioned region is cut into MAX_THREADS parts of CHUNK pages:
    // thread k's slice is part k.
    let slices = match kind {
        RegionKind::Partitioned(_) => MAX_THREADS as u64,
        _ => n as u64,
    };
    let s = {
        let _c = b.rt.enter(0).unwrap();
        space(b, true)
    };
    let barrier = Barrier::new(n);
    let mut total = Duration::ZERO;
    std::thread::scope(|t| {
        let hs: Vec<_> = (0..n)
            .map(|k| {
                let (s, barrier) = (&s, &barrier);
                t.spawn(move || {
                    let me = b.rt.enter(k).unwrap();
                    let mut spent = Duration::ZERO;
                    let mut left = iters;
                    // Separate: each thread its own region; shared: thread 0
                    // maps one region, thread k faults its slice of it.
                    let (base, len) = if shared {
                        (VA, slices * CHUNK * P)
                    } else {
                        (VA + k as u64 * 2 * CHUNK * P, CHUNK * P)
                    };
                    let mine = if shared {
                        base + k as u64 * CHUNK * P
                    } else {
                        base
                    };
                    while left > 0 {
                        let m = left.min(CHUNK);
                        if !shared || k == 0 {
                            let opts = MapOptions {
                                kind,
                                ..Default::default()
                            };
                            s.map_anon(base, len, Prot::RW, opts).unwrap();
                        }
                        barrier.wait();
                        let t0 = Instant::now();
                        for i in 0..m {
                            s.fault(mine + i * P, Access::Write).unwrap();
                        }
                        barrier.wait();
                        spent += t0.elapsed();
                        if !shared || k == 0 {
                            s.unmap(base, len).unwrap();
                        }
                        me.quiescent();
                        barrier.wait();
                        left -= m;
                    }
                    spent
                })
            })
            .collect();
        // Wall time of the faulting phases: thread 0's view (barrier to
        // barrier) is the slowest thread's.
        let spent: Vec<Duration> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        total = spent[0];
    });
    let _c = b.rt.enter(0).unwrap();
    s.destroy().unwrap();
    total
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2)).sample_size(10);
    targets = single, scaling
}
criterion_main!(benches);

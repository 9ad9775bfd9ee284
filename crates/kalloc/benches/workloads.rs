//! Multi-threaded allocator workloads: kalloc against glibc malloc (`System`)
//! and mimalloc, at 1..N threads.
//!
//! ```text
//! cargo bench -p kalloc --bench workloads -- [--threads 1..16] [--workload threadtest,larson,prodcons]
//!                                            [--alloc system,mimalloc,kalloc] [--quick]
//!                                            [--larson-slots 1000] [--footprint]
//! ```
//! (`KALLOC_BENCH_THREADS=1..16` works too.) Each thread does a fixed amount
//! of work, so perfect scaling keeps throughput proportional to threads.
//! Each point is the best of three runs. The allocators are called directly
//! through `GlobalAlloc` (the process allocator stays `System`), each in its
//! own monomorphized copy of the workload.
//!
//! - threadtest (Hoard's): each thread allocates a batch of 64-byte objects,
//!   then frees them all, over and over. Purely thread-local.
//! - larson: each thread replaces random blocks (16..512 B) in an array of
//!   live blocks; after every round the arrays move to the next thread, so
//!   most frees hit memory another thread allocated (a server handing
//!   requests between threads).
//! - prodcons: threads in pairs; the producer allocates (16..256 B) and
//!   sends batches over a channel, the consumer frees them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::{mpsc, Barrier, Mutex};
use std::time::{Duration, Instant};

use kalloc::hosted::KallocSystem;
use mimalloc::MiMalloc;

static KALLOC: KallocSystem = KallocSystem::new();
static MIMALLOC: MiMalloc = MiMalloc;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() as usize) % (hi - lo)
    }
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

struct Scale {
    larson_slots: usize,
    threadtest_rounds: usize,
    larson_rounds: usize,
    prodcons_batches: usize,
}

/// Returns allocs+frees done.
fn threadtest<A: GlobalAlloc + Sync>(a: &'static A, threads: usize, s: &Scale) -> u64 {
    const N: usize = 1000;
    std::thread::scope(|sc| {
        for _ in 0..threads {
            sc.spawn(move || {
                let mut ptrs = vec![std::ptr::null_mut::<u8>(); N];
                for _ in 0..s.threadtest_rounds {
                    for p in ptrs.iter_mut() {
                        // SAFETY: non-zero layout; freed below with the same.
                        *p = unsafe { a.alloc(layout(64)) };
                        // SAFETY: a fresh 64-byte block.
                        unsafe { p.write(1) };
                    }
                    for &p in ptrs.iter() {
                        // SAFETY: allocated above with this layout.
                        unsafe { a.dealloc(black_box(p), layout(64)) };
                    }
                }
            });
        }
    });
    (threads * s.threadtest_rounds * N * 2) as u64
}

fn larson<A: GlobalAlloc + Sync>(a: &'static A, threads: usize, s: &Scale) -> u64 {
    let slots = s.larson_slots;
    const STEPS: usize = 10_000;
    let mut seed = Rng(0x9e37_79b9_7f4a_7c15);
    let arrays: Vec<Mutex<Vec<(usize, usize)>>> = (0..threads)
        .map(|_| {
            Mutex::new(
                (0..slots)
                    .map(|_| {
                        let size = seed.range(16, 512);
                        // SAFETY: non-zero layout.
                        (unsafe { a.alloc(layout(size)) } as usize, size)
                    })
                    .collect(),
            )
        })
        .collect();
    let barrier = Barrier::new(threads);
    std::thread::scope(|sc| {
        for t in 0..threads {
            let (arrays, barrier) = (&arrays, &barrier);
            sc.spawn(move || {
                let mut rng = Rng(0x1234_5678 + t as u64 * 7919);
                for round in 0..s.larson_rounds {
                    {
                        let mut arr = arrays[(t + round) % threads].lock().unwrap();
                        for _ in 0..STEPS {
                            let i = rng.range(0, slots);
                            let (p, size) = arr[i];
                            // SAFETY: a live block with this size.
                            unsafe { a.dealloc(p as *mut u8, layout(size)) };
                            let size = rng.range(16, 512);
                            // SAFETY: non-zero layout.
                            let p = unsafe { a.alloc(layout(size)) };
                            // SAFETY: fresh block of at least 16 bytes.
                            unsafe { p.write(1) };
                            arr[i] = (p as usize, size);
                        }
                    }
                    barrier.wait();
                }
            });
        }
    });
    for arr in arrays {
        for (p, size) in arr.into_inner().unwrap() {
            // SAFETY: live blocks.
            unsafe { a.dealloc(p as *mut u8, layout(size)) };
        }
    }
    (threads * s.larson_rounds * STEPS * 2) as u64
}

fn prodcons<A: GlobalAlloc + Sync>(a: &'static A, threads: usize, s: &Scale) -> u64 {
    const BATCH: usize = 64;
    let produce = |rng: &mut Rng| {
        let mut batch = [(0usize, 0usize); BATCH];
        for slot in batch.iter_mut() {
            let size = rng.range(16, 256);
            // SAFETY: non-zero layout.
            let p = unsafe { a.alloc(layout(size)) };
            // SAFETY: fresh block.
            unsafe { p.write(1) };
            *slot = (p as usize, size);
        }
        batch
    };
    let consume = |batch: [(usize, usize); BATCH]| {
        for (p, size) in batch {
            // SAFETY: live block with this size, handed over.
            unsafe { a.dealloc(p as *mut u8, layout(size)) };
        }
    };
    let pairs = (threads / 2).max(1);
    std::thread::scope(|sc| {
        if threads == 1 {
            let mut rng = Rng(42);
            for _ in 0..s.prodcons_batches {
                consume(produce(&mut rng));
            }
            return;
        }
        for p in 0..pairs {
            let (tx, rx) = mpsc::sync_channel(16);
            sc.spawn(move || {
                let mut rng = Rng(42 + p as u64);
                for _ in 0..s.prodcons_batches {
                    tx.send(produce(&mut rng)).unwrap();
                }
            });
            sc.spawn(move || {
                for batch in rx {
                    consume(batch);
                }
            });
        }
    });
    (pairs * s.prodcons_batches * BATCH * 2) as u64
}

fn run<A: GlobalAlloc + Sync + 'static>(
    a: &'static A,
    workload: &str,
    threads: usize,
    s: &Scale,
) -> f64 {
    let mut best = Duration::MAX;
    let mut ops = 0;
    for _ in 0..3 {
        let start = Instant::now();
        ops = match workload {
            "threadtest" => threadtest(a, threads, s),
            "larson" => larson(a, threads, s),
            "prodcons" => prodcons(a, threads, s),
            other => panic!("unknown workload {other}"),
        };
        best = best.min(start.elapsed());
    }
    ops as f64 / best.as_secs_f64() / 1e6
}

fn parse_range(s: &str) -> Option<(usize, usize)> {
    match s.split_once("..") {
        Some((a, b)) => Some((a.parse().ok()?, b.trim_start_matches('=').parse().ok()?)),
        None => {
            let n = s.parse().ok()?;
            Some((n, n))
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (lo, hi) = value("--threads")
        .or_else(|| std::env::var("KALLOC_BENCH_THREADS").ok())
        .and_then(|s| parse_range(&s))
        .unwrap_or((1, cores));
    let workloads = value("--workload").unwrap_or_else(|| "threadtest,larson,prodcons".into());
    let allocs = value("--alloc").unwrap_or_else(|| "system,mimalloc,kalloc".into());
    let quick = args.iter().any(|a| a == "--quick");
    // Live blocks per larson thread (working set: about 264 bytes each).
    let larson_slots = value("--larson-slots")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let scale = if quick {
        Scale {
            larson_slots,
            threadtest_rounds: 50,
            larson_rounds: 4,
            prodcons_batches: 2000,
        }
    } else {
        Scale {
            larson_slots,
            threadtest_rounds: 400,
            larson_rounds: 20,
            prodcons_batches: 20000,
        }
    };
    println!("# kalloc workloads: threads {lo}..={hi} on {cores} cores; Mops/s (allocs+frees), best of 3");
    for workload in workloads.split(',') {
        println!("\n## {workload}");
        println!(
            "| threads | {} | kalloc/system | kalloc/mimalloc | kalloc scaling |",
            allocs.replace(',', " | ")
        );
        println!(
            "|---|{}---|---|---|",
            "---|".repeat(allocs.split(',').count())
        );
        let mut kalloc_one = None;
        for threads in lo..=hi {
            let mut results = Vec::new();
            for name in allocs.split(',') {
                let mops = match name {
                    "system" => run(&System, workload, threads, &scale),
                    "mimalloc" => run(&MIMALLOC, workload, threads, &scale),
                    "kalloc" => run(&KALLOC, workload, threads, &scale),
                    other => panic!("unknown allocator {other}"),
                };
                results.push((name, mops));
            }
            let get = |n: &str| results.iter().find(|r| r.0 == n).map(|r| r.1);
            let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => format!("{:.2}", a / b),
                _ => "-".into(),
            };
            let k = get("kalloc");
            if threads == lo && lo == 1 {
                kalloc_one = k;
            }
            let scaling = match (k, kalloc_one) {
                (Some(k), Some(one)) => format!("{:.2} x N", k / one / threads as f64),
                _ => "-".into(),
            };
            if args.iter().any(|a| a == "--footprint") {
                let src = KALLOC.page_source();
                eprintln!(
                    "kalloc pages: peak {} KiB mapped, {} KiB still mapped",
                    src.pages_peak() * 4,
                    src.pages_in_use() * 4
                );
            }
            println!(
                "| {threads} | {} | {} | {} | {scaling} |",
                results
                    .iter()
                    .map(|r| format!("{:.1}", r.1))
                    .collect::<Vec<_>>()
                    .join(" | "),
                ratio(k, get("system")),
                ratio(k, get("mimalloc")),
            );
        }
    }
}

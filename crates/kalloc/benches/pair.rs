//! The local fast path: one alloc + free pair, same thread, per allocator.
//!
//! `cargo bench -p kalloc --bench pair -- --measurement-time 2 --warm-up-time 1`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kalloc::hosted::KallocSystem;
use kalloc::Flavour;
use mimalloc::MiMalloc;

static KALLOC: KallocSystem = KallocSystem::new();
static MIMALLOC: MiMalloc = MiMalloc;

fn pair<A: GlobalAlloc>(a: &A, layout: Layout) {
    // SAFETY: non-zero layout; freed at once with the same layout.
    unsafe {
        let p = a.alloc(black_box(layout));
        a.dealloc(black_box(p), layout);
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("alloc_free_pair");
    for size in [16usize, 64, 256, 1024] {
        let layout = Layout::from_size_align(size, 8).unwrap();
        g.bench_with_input(BenchmarkId::new("system", size), &layout, |b, &l| {
            b.iter(|| pair(&System, l))
        });
        g.bench_with_input(BenchmarkId::new("mimalloc", size), &layout, |b, &l| {
            b.iter(|| pair(&MIMALLOC, l))
        });
        g.bench_with_input(BenchmarkId::new("kalloc", size), &layout, |b, &l| {
            b.iter(|| pair(&KALLOC, l))
        });
        g.bench_with_input(BenchmarkId::new("kalloc-local", size), &layout, |b, &l| {
            b.iter(|| {
                let p = KALLOC.allocate(black_box(l), Flavour::LocalStrict).unwrap();
                // SAFETY: just allocated with `l`.
                unsafe { KALLOC.free(black_box(p), l) };
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

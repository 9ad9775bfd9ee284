//! Cost of logging, enabled and disabled, throughput with every processor
//! logging, and the `tracing` crate with a ring-buffer subscriber for
//! comparison. Results and commands: docs/perf/trace.md.
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ktrace::events::test;
use ktrace::host::{self, StdPlatform};
use ktrace::{Class, Overflow};

fn enabled_disabled(c: &mut Criterion) {
    let tracer = host::tracer::<8, 4096>(1, Overflow::Wrap);
    StdPlatform::set_cpu(0);
    let mut g = c.benchmark_group("event");
    g.throughput(Throughput::Elements(1));
    tracer.enable(Class::TEST);
    let mut i = 0u64;
    g.bench_function("enabled", |b| {
        b.iter(|| {
            i += 1;
            test::mark(tracer, 1, black_box(i));
        })
    });
    tracer.set_mask(0);
    g.bench_function("disabled", |b| {
        b.iter(|| {
            i += 1;
            test::mark(tracer, 1, black_box(i));
        })
    });
    tracer.enable(Class::TEST);
    g.bench_function("enabled_string", |b| {
        b.iter(|| test::message(tracer, black_box("page fault resolved")))
    });
    g.finish();
}

fn all_processors(c: &mut Criterion) {
    let n = std::thread::available_parallelism().map_or(2, |n| n.get());
    let tracer = host::tracer::<8, 4096>(n, Overflow::Wrap);
    tracer.enable(Class::TEST);
    const PER_THREAD: u64 = 200_000;
    let mut g = c.benchmark_group("throughput");
    g.throughput(Throughput::Elements(n as u64 * PER_THREAD));
    g.bench_function(format!("{n}_processors"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let barrier = Barrier::new(n);
                let next = AtomicUsize::new(0);
                let start = std::thread::scope(|s| {
                    let hs: Vec<_> = (0..n)
                        .map(|_| {
                            s.spawn(|| {
                                StdPlatform::set_cpu(next.fetch_add(1, Ordering::Relaxed));
                                barrier.wait();
                                let t = Instant::now();
                                for i in 0..PER_THREAD {
                                    test::mark(tracer, 0, i);
                                }
                                t.elapsed()
                            })
                        })
                        .collect();
                    hs.into_iter().map(|h| h.join().unwrap()).max().unwrap()
                });
                total += start;
            }
            total
        })
    });
    g.finish();
}

/// A `tracing` subscriber that stores each event's callsite and `u64`
/// fields into a fixed ring, the nearest equivalent of the log.
struct RingSubscriber {
    words: Vec<AtomicU64>,
    index: AtomicU64,
}

impl RingSubscriber {
    fn push(&self, w: u64) {
        let i = self.index.fetch_add(1, Ordering::Relaxed) as usize & (self.words.len() - 1);
        self.words[i].store(w, Ordering::Relaxed);
    }
}

struct Visit<'a>(&'a RingSubscriber);

impl tracing_core::field::Visit for Visit<'_> {
    fn record_u64(&mut self, _: &tracing_core::Field, value: u64) {
        self.0.push(value);
    }
    fn record_debug(&mut self, _: &tracing_core::Field, _: &dyn std::fmt::Debug) {
        self.0.push(0);
    }
}

impl tracing_core::Subscriber for RingSubscriber {
    fn enabled(&self, _: &tracing_core::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing_core::span::Attributes<'_>) -> tracing_core::span::Id {
        tracing_core::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing_core::span::Id, _: &tracing_core::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing_core::span::Id, _: &tracing_core::span::Id) {}
    fn event(&self, event: &tracing_core::Event<'_>) {
        self.push(event.metadata() as *const _ as u64);
        event.record(&mut Visit(self));
    }
    fn enter(&self, _: &tracing_core::span::Id) {}
    fn exit(&self, _: &tracing_core::span::Id) {}
}

fn tracing_comparison(c: &mut Criterion) {
    let ring = RingSubscriber {
        words: (0..1 << 15).map(|_| AtomicU64::new(0)).collect(),
        index: AtomicU64::new(0),
    };
    tracing::subscriber::set_global_default(ring).unwrap();
    let mut g = c.benchmark_group("event");
    g.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    g.bench_function("tracing_ring_subscriber", |b| {
        b.iter(|| {
            i += 1;
            tracing::event!(tracing::Level::INFO, writer = 1u64, value = black_box(i));
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_secs(1));
    targets = enabled_disabled, all_processors, tracing_comparison
}
criterion_main!(benches);

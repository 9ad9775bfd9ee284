//! Cost of logging, enabled and disabled, throughput with every processor
//! logging, and the `tracing` crate with a ring-buffer subscriber for
//! comparison. Results and commands: docs/perf/trace.md.
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ktrace::events::test;
use ktrace::host::{self, StdPlatform, ThreadPlatform};
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

/// What the kernel's platform looks like: the processor id is one load
/// (a constant here), the clock a plain RDTSC (one writer per buffer), and
/// (`LOCAL`) the CPU-local reservation and commit; without `LOCAL`, the
/// locked atomics, for comparison.
struct KernelLike<const LOCAL: bool>;

impl<const LOCAL: bool> ktrace::Platform for KernelLike<LOCAL> {
    const SINGLE_WRITER: bool = LOCAL;
    #[inline(always)]
    fn cpu_id(&self) -> usize {
        0
    }
    #[inline(always)]
    #[allow(unsafe_code)]
    fn timestamp(&self) -> u64 {
        // SAFETY: RDTSC reads a counter and has no memory effects.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[inline(always)]
    fn timestamp_low(&self) -> u32 {
        ktrace::arch::tsc_low()
    }
}

fn kernel_like(c: &mut Criterion) {
    let local = host::tracer_with::<_, 8, 4096>(1, Overflow::Wrap, KernelLike::<true>);
    let locked = host::tracer_with::<_, 8, 4096>(1, Overflow::Wrap, KernelLike::<false>);
    let thread = host::thread_tracer::<8, 4096>(1, Overflow::Wrap);
    ThreadPlatform::set_buffer(0);
    local.enable(Class::TEST);
    locked.enable(Class::TEST);
    thread.enable(Class::TEST);
    let mut g = c.benchmark_group("event");
    g.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    g.bench_function("enabled_kernel_like_platform", |b| {
        b.iter(|| {
            i += 1;
            test::mark(local, 1, black_box(i));
        })
    });
    g.bench_function("enabled_kernel_like_locked", |b| {
        b.iter(|| {
            i += 1;
            test::mark(locked, 1, black_box(i));
        })
    });
    g.bench_function("enabled_thread_platform", |b| {
        b.iter(|| {
            i += 1;
            test::mark(thread, 1, black_box(i));
        })
    });
    g.finish();
}

/// The two unavoidable costs of an event on this machine, for scale.
#[allow(unsafe_code)]
fn primitives(c: &mut Criterion) {
    let mut g = c.benchmark_group("primitive");
    // SAFETY: RDTSC reads a counter and has no memory effects.
    g.bench_function("rdtsc", |b| {
        b.iter(|| unsafe { core::arch::x86_64::_rdtsc() })
    });
    g.bench_function("host_clock_rdtscp_lfence", |b| b.iter(ktrace::host::clock));
    let a = AtomicU64::new(0);
    g.bench_function("lock_cmpxchg", |b| {
        b.iter(|| {
            let v = a.load(Ordering::Relaxed);
            black_box(a.compare_exchange(v, v + 3, Ordering::Relaxed, Ordering::Relaxed))
        })
    });
    g.bench_function("lock_xadd", |b| {
        b.iter(|| a.fetch_add(3, Ordering::Release))
    });
    g.finish();
}

fn all_processors(c: &mut Criterion) {
    let n = std::thread::available_parallelism().map_or(2, |n| n.get());
    let shared = host::tracer::<8, 4096>(n, Overflow::Wrap);
    let local = host::thread_tracer::<8, 4096>(n, Overflow::Wrap);
    shared.enable(Class::TEST);
    local.enable(Class::TEST);
    const PER_THREAD: u64 = 200_000;
    let mut g = c.benchmark_group("throughput");
    g.throughput(Throughput::Elements(n as u64 * PER_THREAD));
    // Each thread logs into its own processor's buffer: with the locked
    // atomics (`StdPlatform`) and with the CPU-local ones (`ThreadPlatform`).
    let run = |iters: u64, log: &(dyn Fn(u64) + Sync), claim: &(dyn Fn(usize) + Sync)| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let barrier = Barrier::new(n);
            let next = AtomicUsize::new(0);
            total += std::thread::scope(|s| {
                let hs: Vec<_> = (0..n)
                    .map(|_| {
                        s.spawn(|| {
                            claim(next.fetch_add(1, Ordering::Relaxed));
                            barrier.wait();
                            let t = Instant::now();
                            for i in 0..PER_THREAD {
                                log(i);
                            }
                            t.elapsed()
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).max().unwrap()
            });
        }
        total
    };
    g.bench_function(format!("{n}_processors"), |b| {
        b.iter_custom(|iters| run(iters, &|i| test::mark(shared, 0, i), &StdPlatform::set_cpu))
    });
    g.bench_function(format!("{n}_processors_thread_platform"), |b| {
        b.iter_custom(|iters| {
            run(
                iters,
                &|i| test::mark(local, 0, i),
                &ThreadPlatform::set_buffer,
            )
        })
    });
    g.finish();
}

/// A `tracing` subscriber that stores each event into a fixed ring, the
/// nearest equivalent of the log: one `fetch_add` reserves four words,
/// which get a TSC timestamp, the callsite and the two `u64` fields.
/// (Lighter than ktrace's reservation: no per-block commit count, so a
/// reader cannot tell a complete slot from one being written.)
struct RingSubscriber {
    words: Vec<AtomicU64>,
    index: AtomicU64,
}

struct Visit<'a> {
    ring: &'a RingSubscriber,
    at: usize,
}

impl Visit<'_> {
    fn push(&mut self, w: u64) {
        let mask = self.ring.words.len() - 1;
        self.ring.words[self.at & mask].store(w, Ordering::Relaxed);
        self.at += 1;
    }
}

impl tracing_core::field::Visit for Visit<'_> {
    fn record_u64(&mut self, _: &tracing_core::Field, value: u64) {
        self.push(value);
    }
    fn record_debug(&mut self, _: &tracing_core::Field, _: &dyn std::fmt::Debug) {
        self.push(0);
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
    #[allow(unsafe_code)]
    fn event(&self, event: &tracing_core::Event<'_>) {
        // SAFETY: RDTSC reads a counter and has no memory effects.
        let ts = unsafe { core::arch::x86_64::_rdtsc() };
        let at = self.index.fetch_add(4, Ordering::Relaxed) as usize;
        let mut v = Visit { ring: self, at };
        v.push(ts);
        v.push(event.metadata() as *const _ as u64);
        event.record(&mut v);
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
    targets = primitives, enabled_disabled, kernel_like, all_processors, tracing_comparison
}
criterion_main!(benches);

//! Many writers, one consumer: every event comes back exactly once, and
//! each writer's events come back in the order it logged them.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ktrace::decode::Trace;
use ktrace::events::{self, test};
use ktrace::host::{self, StdPlatform};
use ktrace::{Class, Dropped, Layer, Overflow, StreamWriter};

fn per_writer() -> u64 {
    std::env::var("KTRACE_STRESS_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000)
}

/// Checks that writer `w` logged exactly `0..n` in order.
fn check(trace: &Trace, writers: u64, n: u64) {
    assert!(
        trace.errors.is_empty(),
        "{:?}",
        &trace.errors[..trace.errors.len().min(5)]
    );
    let mut seen = vec![Vec::new(); writers as usize];
    // Per processor, file order is buffer order.
    for e in &trace.events {
        assert_eq!(trace.name(e), "test.mark");
        let w = e.values[0].as_u64().unwrap();
        seen[w as usize].push((e.cpu, e.values[1].as_u64().unwrap()));
    }
    for (w, s) in seen.iter().enumerate() {
        let values: Vec<u64> = s.iter().map(|x| x.1).collect();
        assert_eq!(
            values.len() as u64,
            n,
            "writer {w} lost or duplicated events"
        );
        assert!(values.iter().copied().eq(0..n), "writer {w} out of order");
    }
}

/// Four writers sharing two processor buffers (so reservations contend),
/// a consumer streaming concurrently in stop mode, and writers that retry
/// when the buffer is full: nothing may be lost.
#[test]
fn writers_share_buffers_with_live_consumer() {
    const WRITERS: u64 = 4;
    let n = per_writer();
    let tracer = host::tracer::<4, 256>(2, Overflow::Stop);
    tracer.enable(Class::TEST);
    let done = AtomicBool::new(false);
    let next = AtomicUsize::new(0);
    let mut out = Vec::new();
    std::thread::scope(|s| {
        let consumer = s.spawn(|| {
            let mut scratch = [0u64; 256];
            let mut bytes = Vec::new();
            let mut d = StreamWriter::new(tracer, &mut scratch);
            d.start(&mut bytes, events::KERNEL_EVENTS, 0).unwrap();
            while !done.load(Ordering::Acquire) {
                d.poll(&mut bytes, 0).unwrap();
                std::thread::yield_now();
            }
            d.flush(&mut bytes).unwrap();
            bytes
        });
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                s.spawn(|| {
                    let me = next.fetch_add(1, Ordering::Relaxed) as u64;
                    StdPlatform::set_cpu(me as usize % 2);
                    for i in 0..n {
                        // The generated function drops on a full buffer;
                        // this test wants back-pressure, so it uses `log`.
                        loop {
                            match tracer.log(Layer::KERNEL, Class::TEST, 0, 3, |w| {
                                w.put(me);
                                w.put(i);
                            }) {
                                Ok(()) => break,
                                Err(Dropped::Full) => std::thread::yield_now(),
                                Err(e) => panic!("{e:?}"),
                            }
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Release);
        out = consumer.join().unwrap();
    });
    let trace = Trace::parse(&out);
    check(&trace, WRITERS, n);
}

/// Wrap mode with a ring big enough for everything, writers using the
/// generated function, one processor buffer shared by all.
#[test]
fn writers_on_one_buffer_wrap_mode() {
    const WRITERS: u64 = 3;
    // 256 blocks of 1024 words hold 3 x 20 000 events of 3 words twice.
    let n = (per_writer() / 2).min(20_000);
    let tracer = host::tracer::<256, 1024>(1, Overflow::Wrap);
    tracer.enable(Class::TEST);
    std::thread::scope(|s| {
        for me in 0..WRITERS {
            s.spawn(move || {
                StdPlatform::set_cpu(0);
                for i in 0..n {
                    test::mark(tracer, me, i);
                }
            });
        }
    });
    let mut scratch = [0u64; 1024];
    let mut out = Vec::new();
    let mut d = StreamWriter::new(tracer, &mut scratch);
    d.start(&mut out, events::KERNEL_EVENTS, 0).unwrap();
    let stats = d.flush(&mut out).unwrap();
    assert_eq!(stats.lost, 0);
    let trace = Trace::parse(&out);
    check(&trace, WRITERS, n);
    // One buffer, one clock: timestamps never go backwards in it.
    assert!(trace.events.windows(2).all(|w| w[0].ts <= w[1].ts));
}

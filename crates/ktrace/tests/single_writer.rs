//! The single-writer mode (`Platform::SINGLE_WRITER`): reservation and
//! commit without `lock`, atomic only against interrupts on the same
//! processor.
//!
//! * One writer and a simulated interrupt handler on the same thread and
//!   buffer: "interrupts" log from inside the clock read (between loading
//!   the index and the compare-and-swap, so the writer's swap must fail and
//!   retry) and from inside the payload writer (between reservation and
//!   commit), and some of those "interrupts" seal the block, as the
//!   kernel's tick does on request. Every event must come back exactly
//!   once, in order per writer, in time order, and every block must
//!   complete.
//! * Writer threads with a buffer each, a consumer streaming concurrently
//!   from another thread.
//! * Requests: sealing another thread's buffer waits for its owner.
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

use ktrace::decode::Trace;
use ktrace::events::{self, test};
use ktrace::host::{self, ThreadPlatform};
use ktrace::{Class, Layer, Overflow, Platform, Seal, StreamWriter, Tracer};

const BLOCKS: usize = 128;
const BW: usize = 64;
type IrqTracer = Tracer<'static, Irq, BLOCKS, BW>;

/// One processor; its clock read sometimes "takes an interrupt" that logs.
struct Irq;

static IRQ_TRACER: OnceLock<&'static IrqTracer> = OnceLock::new();
static CLOCK: AtomicU64 = AtomicU64::new(1000);

thread_local! {
    static IN_IRQ: Cell<bool> = const { Cell::new(false) };
    static IRQ_SEQ: Cell<u64> = const { Cell::new(0) };
}

/// The interrupt handler's event: writer 1, its own sequence number.
fn interrupt() {
    if IN_IRQ.with(|c| c.replace(true)) {
        return; // no nesting deeper than one level
    }
    let seq = IRQ_SEQ.with(|c| {
        let s = c.get();
        c.set(s + 1);
        s
    });
    let t = IRQ_TRACER.get().expect("tracer set");
    t.log(Layer::KERNEL, Class::TEST, 0, 3, |w| {
        w.put(1);
        w.put(seq);
    })
    .expect("the interrupt's event is logged");
    // Now and then the "interrupt" is the timer tick carrying out a seal
    // request: it pads the current block while the interrupted writer may
    // still be between its reservation and its commit.
    if seq % 11 == 5 {
        assert_eq!(t.seal(0), Seal::Done);
    }
    IN_IRQ.with(|c| c.set(false));
}

impl Platform for Irq {
    const SINGLE_WRITER: bool = true;
    fn cpu_id(&self) -> usize {
        0
    }
    fn timestamp(&self) -> u64 {
        let now = CLOCK.fetch_add(1, Ordering::Relaxed);
        // Every 7th reading: an interrupt after the writer loaded the
        // index and before its compare-and-swap.
        if now % 7 == 3 {
            interrupt();
        }
        now
    }
}

/// Writer `w`'s values, in file order, checking that each event is a
/// `test.mark` with no decode error.
fn values_of(trace: &Trace, writers: usize) -> Vec<Vec<u64>> {
    assert!(
        trace.errors.is_empty(),
        "{:?}",
        &trace.errors[..trace.errors.len().min(5)]
    );
    let mut seen = vec![Vec::new(); writers];
    for e in &trace.events {
        assert_eq!(trace.name(e), "test.mark");
        let w = e.values[0].as_u64().unwrap() as usize;
        seen[w].push(e.values[1].as_u64().unwrap());
    }
    seen
}

#[test]
fn interrupts_between_reserve_and_commit() {
    let tracer: &'static IrqTracer = host::tracer_with(1, Overflow::Wrap, Irq);
    IRQ_TRACER.set(tracer).ok().expect("set once");
    tracer.enable(Class::TEST);
    const N: u64 = 600;
    for i in 0..N {
        tracer
            .log(Layer::KERNEL, Class::TEST, 0, 3, |w| {
                w.put(0);
                // Every 5th event: an interrupt between reservation and
                // commit (its event goes after this one in the buffer, and
                // commits first).
                if i % 5 == 0 {
                    interrupt();
                }
                w.put(i);
            })
            .unwrap();
    }
    let irq_events = IRQ_SEQ.with(|c| c.get());
    assert!(irq_events > N / 4, "only {irq_events} interrupts");
    // Both kinds of interrupt happened at block boundaries too.
    assert!(tracer.reserved_words(0) > 20 * BW as u64);

    let mut scratch = [0u64; BW];
    let mut out = Vec::new();
    let mut d = StreamWriter::new(tracer, &mut scratch);
    d.start(&mut out, events::KERNEL_EVENTS, 0).unwrap();
    let stats = d.flush(&mut out).unwrap();
    // Our own buffer: sealed at once, nothing pending, nothing lost, and
    // every block complete (the commit counts add up).
    assert_eq!((stats.lost, stats.pending), (0, 0));
    assert_eq!(
        stats.written,
        tracer.reserved_words(0) / BW as u64,
        "a block never completed"
    );
    let trace = Trace::parse(&out);
    let seen = values_of(&trace, 2);
    assert!(seen[0].iter().copied().eq(0..N), "writer out of order");
    assert!(
        seen[1].iter().copied().eq(0..irq_events),
        "interrupt events lost, duplicated or reordered"
    );
    // The clock is read inside the reservation loop, so an interrupt's
    // event never ends up after a later-stamped one.
    assert!(trace.events.windows(2).all(|w| w[0].ts <= w[1].ts));
}

/// A thread per buffer, a consumer streaming while they write, `finish`
/// after they are joined: everything exactly once, in order.
#[test]
fn thread_buffers_with_live_consumer() {
    const WRITERS: usize = 3;
    let n: u64 = std::env::var("KTRACE_STRESS_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let tracer = host::thread_tracer::<4, 256>(WRITERS, Overflow::Stop);
    tracer.enable(Class::TEST);
    let done = AtomicBool::new(false);
    let out = std::thread::scope(|s| {
        let consumer = s.spawn(|| {
            let mut scratch = [0u64; 256];
            let mut bytes = Vec::new();
            let mut d = StreamWriter::new(tracer, &mut scratch);
            d.start(&mut bytes, events::KERNEL_EVENTS, 0).unwrap();
            while !done.load(Ordering::Acquire) {
                d.poll(&mut bytes, 0).unwrap();
                std::thread::yield_now();
            }
            let stats = d.finish(&mut bytes).unwrap();
            assert_eq!(stats.pending, 0);
            bytes
        });
        let writers: Vec<_> = (0..WRITERS)
            .map(|me| {
                s.spawn(move || {
                    ThreadPlatform::set_buffer(me);
                    for i in 0..n {
                        // Back-pressure: retry while the consumer is behind.
                        while tracer
                            .log(Layer::KERNEL, Class::TEST, 0, 3, |w| {
                                w.put(me as u64);
                                w.put(i);
                            })
                            .is_err()
                        {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Release);
        consumer.join().unwrap()
    });
    let trace = Trace::parse(&out);
    for (w, v) in values_of(&trace, WRITERS).iter().enumerate() {
        assert!(v.iter().copied().eq(0..n), "writer {w} lost or reordered");
    }
}

/// Sealing another thread's buffer is a request its owner carries out in
/// `serve`; `flush_with` waits for it, `flush` reports it pending.
#[test]
fn seal_requests_wait_for_the_owner() {
    let tracer = host::thread_tracer::<4, 256>(2, Overflow::Wrap);
    tracer.enable(Class::TEST);
    ThreadPlatform::set_buffer(0);
    test::mark(tracer, 0, 0);
    let logged = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            ThreadPlatform::set_buffer(1);
            test::mark(tracer, 1, 0);
            test::mark(tracer, 1, 1);
            logged.store(true, Ordering::Release);
            // The owner's loop: serve requests until told to stop.
            while !stop.load(Ordering::Acquire) {
                std::thread::sleep(std::time::Duration::from_millis(20));
                tracer.serve();
            }
        });
        while !logged.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        let mut scratch = [0u64; 256];
        let mut out = Vec::new();
        let mut d = StreamWriter::new(tracer, &mut scratch);
        d.start(&mut out, events::KERNEL_EVENTS, 0).unwrap();
        // Our buffer is sealed at once, the other thread's is requested.
        assert_eq!(tracer.seal(0), Seal::Done);
        assert_eq!(tracer.seal(1), Seal::Requested);
        assert!(tracer.request_pending(1));
        assert_eq!(tracer.seal(7), Seal::NoSuchCpu);
        let mut tries = 0;
        let stats = d
            .flush_with(&mut out, || {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(5));
                tries < 2000
            })
            .unwrap();
        stop.store(true, Ordering::Release);
        assert_eq!(stats.pending, 0, "the owner never sealed");
        assert!(!tracer.request_pending(1));
        let trace = Trace::parse(&out);
        let seen = values_of(&trace, 2);
        assert_eq!(seen, vec![vec![0], vec![0, 1]]);
    });
}

/// A thread that claimed no buffer is not traced, and a plain `flush`
/// reports a request nobody has served as pending instead of waiting.
#[test]
fn unclaimed_thread_and_unserved_request() {
    let tracer = host::thread_tracer::<4, 256>(2, Overflow::Wrap);
    tracer.enable(Class::TEST);
    std::thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(
                tracer.log(Layer::KERNEL, Class::TEST, 0, 1, |_| {}),
                Err(ktrace::Dropped::BadCpu)
            );
            ThreadPlatform::set_buffer(1);
            test::mark(tracer, 1, 5);
        });
    });
    ThreadPlatform::set_buffer(0);
    let mut scratch = [0u64; 256];
    let mut out = Vec::new();
    let mut d = StreamWriter::new(tracer, &mut scratch);
    d.start(&mut out, events::KERNEL_EVENTS, 0).unwrap();
    let stats = d.flush(&mut out).unwrap();
    assert_eq!(stats.pending, 1);
    // The writer is gone: finish seals for it.
    let stats = d.finish(&mut out).unwrap();
    assert_eq!((stats.pending, stats.written), (0, 1));
    let trace = Trace::parse(&out);
    assert_eq!(values_of(&trace, 2), vec![vec![], vec![5]]);
}

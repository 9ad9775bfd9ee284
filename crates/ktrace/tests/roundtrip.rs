//! Encode/decode round trips: whatever is logged comes back from the
//! stream, field for field and with its full timestamp.
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use ktrace::decode::{Trace, Value};
use ktrace::events::{self, syscall, test};
use ktrace::header::{control, Header};
use ktrace::{host, Class, Layer, Overflow, Platform, StreamWriter};
use proptest::prelude::*;

/// A clock the test moves by hand; the processor is set by hand too.
struct Manual {
    cpu: AtomicUsize,
    now: AtomicU64,
}

impl Platform for Manual {
    fn cpu_id(&self) -> usize {
        self.cpu.load(Ordering::Relaxed)
    }
    fn timestamp(&self) -> u64 {
        self.now.load(Ordering::Relaxed)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Mark(u64, u64),
    Message(String),
    Exit(u64, i64),
    Heartbeat,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u64>(), any::<u64>()).prop_map(|(a, b)| Op::Mark(a, b)),
        ".{0,300}".prop_map(Op::Message),
        (any::<u64>(), any::<i64>()).prop_map(|(a, b)| Op::Exit(a, b)),
        Just(Op::Heartbeat),
    ]
}

fn expected(op: &Op) -> Option<(&'static str, Vec<Value>)> {
    Some(match op {
        Op::Mark(a, b) => ("test.mark", vec![Value::U(*a), Value::U(*b)]),
        Op::Message(s) => {
            let mut end = s.len().min(ktrace::field::MAX_STR_BYTES);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            // Cut at a byte: a split character decodes as U+FFFD.
            let cut = String::from_utf8_lossy(&s.as_bytes()[..s.len().min(256)]).into_owned();
            let _ = end;
            ("test.message", vec![Value::Str(cut)])
        }
        Op::Exit(a, b) => ("syscall.exit", vec![Value::U(*a), Value::I(*b)]),
        Op::Heartbeat => return None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("KTRACE_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(64)))]

    #[test]
    fn header_word_round_trips(ts in any::<u64>(), len in any::<u8>(), layer in 0u8..16,
                               class in 0u8..64, minor in 0u16..(1 << 14)) {
        let w = Header::encode(ts, len, Layer(layer), Class(class), minor);
        let h = Header::decode(w);
        prop_assert_eq!(h.ts_low, ts as u32);
        prop_assert_eq!(h.len, len);
        prop_assert_eq!(h.layer, Layer(layer));
        prop_assert_eq!(h.class, Class(class));
        prop_assert_eq!(h.minor, minor);
        prop_assert_eq!(h.to_word(), w);
    }

    /// Events of random kinds, on two processors, with clock steps up to
    /// 2^31 - 1 ticks (so the low 32 bits wrap many times), through blocks
    /// small enough to force fillers: the decoder returns every event with
    /// its fields and its exact 64-bit timestamp, in order.
    #[test]
    fn events_round_trip(ops in prop::collection::vec((op(), 0u64..(1 << 31), 0usize..2), 1..120),
                         start in any::<u32>()) {
        let p = Manual { cpu: AtomicUsize::new(0), now: AtomicU64::new(start as u64 * 3) };
        let tracer = host::tracer_with::<_, 4, 64>(2, Overflow::Stop, p);
        tracer.set_mask(u64::MAX);
        let mut scratch = [0u64; 64];
        let mut out = Vec::new();
        let mut daemon = StreamWriter::new(tracer, &mut scratch);
        daemon.start(&mut out, events::KERNEL_EVENTS, 0).unwrap();
        let mut want: Vec<(usize, u64, &str, Vec<Value>)> = Vec::new();
        let mut last = [0u64; 2];
        for (op, step, cpu) in &ops {
            let p = tracer.platform();
            p.now.fetch_add(*step, Ordering::Relaxed);
            p.cpu.store(*cpu, Ordering::Relaxed);
            let now = p.now.load(Ordering::Relaxed);
            if now - last[*cpu] >= 1 << 31 {
                // The platform contract: a full timestamp at least every
                // 2^31 ticks on each processor.
                tracer.heartbeat();
            }
            last[*cpu] = now;
            match op {
                Op::Mark(a, b) => test::mark(tracer, *a, *b),
                Op::Message(s) => test::message(tracer, s),
                Op::Exit(a, b) => syscall::exit(tracer, *a, *b),
                Op::Heartbeat => tracer.heartbeat(),
            }
            if let Some((name, values)) = expected(op) {
                want.push((*cpu, now, name, values));
            }
            daemon.poll(&mut out, 0).unwrap();
        }
        daemon.flush(&mut out).unwrap();
        let trace = Trace::parse(&out);
        prop_assert!(trace.errors.is_empty(), "{:?}", trace.errors);
        for cpu in 0..2 {
            let got: Vec<_> = trace.events.iter().filter(|e| e.cpu == cpu as u32)
                .map(|e| (e.ts, trace.name(e), e.values.clone())).collect();
            let exp: Vec<_> = want.iter().filter(|w| w.0 == cpu)
                .map(|w| (w.1, w.2.to_string(), w.3.clone())).collect();
            prop_assert_eq!(got, exp);
        }
    }
}

/// A heartbeat carries the clock across a gap longer than 2^31 ticks.
#[test]
fn heartbeat_covers_long_gaps() {
    let p = Manual {
        cpu: AtomicUsize::new(0),
        now: AtomicU64::new(5),
    };
    let tracer = host::tracer_with::<_, 4, 64>(1, Overflow::Stop, p);
    tracer.set_mask(u64::MAX);
    test::mark(tracer, 0, 0);
    let p = tracer.platform();
    p.now.store(5 + (7 << 32) + 123, Ordering::Relaxed);
    tracer.heartbeat();
    test::mark(tracer, 0, 1);
    let mut scratch = [0u64; 64];
    let mut out = Vec::new();
    let mut d = StreamWriter::new(tracer, &mut scratch);
    d.start(&mut out, events::KERNEL_EVENTS, 0).unwrap();
    d.flush(&mut out).unwrap();
    let t = Trace::parse(&out);
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    let ts: Vec<u64> = t.events.iter().map(|e| e.ts).collect();
    assert_eq!(ts, vec![5, 5 + (7 << 32) + 123]);
}

/// Every block starts with a block-start event, and a filler closes any
/// block that was not filled exactly.
#[test]
fn blocks_are_self_contained() {
    let tracer = host::tracer::<4, 64>(1, Overflow::Stop);
    tracer.set_mask(u64::MAX);
    ktrace::host::StdPlatform::set_cpu(0);
    for i in 0..40 {
        test::mark(tracer, 7, i); // 3 words; 64 is not a multiple of 3
    }
    let mut block = [0u64; 64];
    assert_eq!(
        tracer.read_block(0, 0, &mut block),
        ktrace::BlockRead::Ready
    );
    let first = Header::decode(block[0]);
    assert_eq!(
        (first.class, first.minor),
        (Class::CONTROL, control::BLOCK_START)
    );
    assert_eq!(block[2], 0, "sequence number");
    // 5 words of block start + 19 marks of 3 words = 62: a 2-word filler.
    let filler = Header::decode(block[62]);
    assert!(filler.is_filler(), "{filler:?}");
    let mut next = [0u64; 64];
    assert_eq!(tracer.read_block(0, 1, &mut next), ktrace::BlockRead::Ready);
    assert_eq!(next[2], 1);
    // Block 2 is still open.
    assert_eq!(
        tracer.read_block(0, 2, &mut next),
        ktrace::BlockRead::NotReady
    );
}

/// Stop mode: a full buffer drops and counts events; the count reaches the
/// trace through the next block start.
#[test]
fn stop_mode_counts_lost_events() {
    let tracer = host::tracer::<2, 64>(1, Overflow::Stop);
    ktrace::host::StdPlatform::set_cpu(0);
    tracer.set_mask(u64::MAX);
    for i in 0..100 {
        test::mark(tracer, 0, i);
    }
    // Two blocks hold 2 * 19 marks.
    assert_eq!(tracer.lost_events(0), 100 - 38);
    let mut scratch = [0u64; 64];
    let mut out = Vec::new();
    let mut d = StreamWriter::new(tracer, &mut scratch);
    d.start(&mut out, events::KERNEL_EVENTS, 0).unwrap();
    d.poll(&mut out, 0).unwrap();
    test::mark(tracer, 0, 1000);
    d.flush(&mut out).unwrap();
    let t = Trace::parse(&out);
    assert!(t.errors.is_empty());
    // Block 0 went out, and releasing it let the last mark into block 2.
    assert_eq!(t.events.len(), 39);
    assert_eq!(t.blocks.len(), 3);
    assert_eq!(t.lost_events()[&0], 62);
}

/// Wrap mode: with no consumer the ring keeps the newest blocks; the
/// stream writer reports the overwritten ones and the decoder sees the gap.
#[test]
fn wrap_mode_loses_oldest_blocks() {
    let tracer = host::tracer::<2, 64>(1, Overflow::Wrap);
    ktrace::host::StdPlatform::set_cpu(0);
    tracer.set_mask(u64::MAX);
    for i in 0..19 * 6 {
        test::mark(tracer, 0, i); // exactly six blocks
    }
    let mut scratch = [0u64; 64];
    let mut out = Vec::new();
    let mut d = StreamWriter::new(tracer, &mut scratch);
    d.start(&mut out, events::KERNEL_EVENTS, 0).unwrap();
    let s = d.flush(&mut out).unwrap();
    assert!(s.lost >= 1);
    let t = Trace::parse(&out);
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    let (present, missing) = t.block_counts()[&0];
    assert_eq!(present + missing, 6);
    assert!(present >= 1 && missing >= 4, "{present} {missing}");
    // The newest events survive, in order.
    let last: Vec<u64> = t
        .events
        .iter()
        .map(|e| e.values[1].as_u64().unwrap())
        .collect();
    assert_eq!(*last.last().unwrap(), 19 * 6 - 1);
    assert!(last.windows(2).all(|w| w[1] == w[0] + 1));
}

#[test]
fn disabled_classes_log_nothing() {
    let tracer = host::tracer::<2, 64>(1, Overflow::Stop);
    ktrace::host::StdPlatform::set_cpu(0);
    tracer.enable(Class::SYSCALL);
    test::mark(tracer, 0, 0);
    assert_eq!(tracer.reserved_words(0), 0);
    syscall::exit(tracer, 1, 2);
    assert_eq!(tracer.reserved_words(0), 5 + 3);
    tracer.disable(Class::SYSCALL);
    syscall::exit(tracer, 1, 2);
    assert_eq!(tracer.reserved_words(0), 8);
}

#[test]
fn bad_cpu_and_long_events_are_errors_not_panics() {
    let p = Manual {
        cpu: AtomicUsize::new(9),
        now: AtomicU64::new(0),
    };
    let tracer = host::tracer_with::<_, 2, 64>(2, Overflow::Stop, p);
    tracer.set_mask(u64::MAX);
    test::mark(tracer, 0, 0);
    assert_eq!(
        tracer.log(Layer::KERNEL, Class::TEST, 0, 3, |_| {}),
        Err(ktrace::Dropped::BadCpu)
    );
    // (Bad block shapes do not compile: see the `CpuBuffer` docs.)
    let none = host::tracer::<2, 64>(0, Overflow::Stop);
    none.set_mask(u64::MAX);
    assert_eq!(
        none.log(Layer::KERNEL, Class::TEST, 0, 3, |_| {}),
        Err(ktrace::Dropped::BadCpu)
    );
    let tracer = host::tracer::<2, 16>(1, Overflow::Stop);
    ktrace::host::StdPlatform::set_cpu(0);
    // 12 words + a 5-word block start do not fit a 16-word block.
    assert_eq!(
        tracer.log(Layer::KERNEL, Class::TEST, 0, 12, |_| {}),
        Err(ktrace::Dropped::TooLong)
    );
}

#[test]
fn kernel_metadata_is_consistent() {
    ktrace::meta::validate(events::KERNEL_EVENTS).unwrap();
    assert_eq!(
        events::parse_mask("sched,lock"),
        Ok(Class::SCHEDULER.bit() | Class::LOCK.bit())
    );
    assert_eq!(events::parse_mask("all"), Ok(u64::MAX));
    assert_eq!(events::parse_mask(""), Ok(0));
    assert_eq!(events::parse_mask("sched,bogus"), Err("bogus"));
    // The metadata survives its binary form.
    let mut bytes = Vec::new();
    ktrace::meta::encode(events::KERNEL_EVENTS, &mut |b| bytes.extend_from_slice(b));
    let back = ktrace::decode::parse_metadata(&bytes).unwrap();
    let all: Vec<_> = events::KERNEL_EVENTS
        .iter()
        .flat_map(|t| t.iter())
        .collect();
    assert_eq!(back.len(), all.len());
    for (b, e) in back.iter().zip(all) {
        assert_eq!(
            (b.class, b.minor, b.name.as_str(), b.format.as_str()),
            (e.class, e.minor, e.name, e.format)
        );
        assert_eq!(b.fields.len(), e.fields.len());
    }
}

#[test]
fn validate_catches_bad_formats_and_duplicates() {
    use ktrace::{EventDesc, FieldDesc, FieldKind};
    static F: &[FieldDesc] = &[FieldDesc {
        name: "a",
        kind: FieldKind::U64,
    }];
    let ev = |minor, format| EventDesc {
        class: Class::TEST,
        class_name: "t",
        layer: Layer::KERNEL,
        minor,
        name: "e",
        fields: F,
        format,
    };
    let good = [ev(0, "{a} {a:x}")];
    assert!(ktrace::meta::validate(&[&good]).is_ok());
    assert!(ktrace::meta::validate(&[&[ev(0, "{b}")]]).is_err());
    assert!(ktrace::meta::validate(&[&[ev(0, "{a")]]).is_err());
    assert!(ktrace::meta::validate(&[&[ev(0, "x"), ev(0, "y")]]).is_err());
}

#[test]
fn format_check_is_exact() {
    use ktrace::meta::format_ok;
    assert!(format_ok("{a} and {bb:x}", &["a", "bb"]));
    assert!(format_ok("no fields", &[]));
    assert!(!format_ok("{a}", &["ab"]));
    assert!(!format_ok("{ab}", &["a"]));
    assert!(!format_ok("{a", &["a"]));
    assert!(!format_ok("{a:x", &["a"]));
    assert!(!format_ok("{}", &["a"]));
}

/// Events lost after the last block opened are still reported: the flush
/// opens one more block to carry the count.
#[test]
fn flush_reports_trailing_losses() {
    let tracer = host::tracer::<2, 64>(1, Overflow::Stop);
    ktrace::host::StdPlatform::set_cpu(0);
    tracer.set_mask(u64::MAX);
    for i in 0..50 {
        test::mark(tracer, 0, i); // 38 fit, 12 are lost
    }
    let mut scratch = [0u64; 64];
    let mut out = Vec::new();
    let mut d = StreamWriter::new(tracer, &mut scratch);
    d.start(&mut out, events::KERNEL_EVENTS, 0).unwrap();
    d.flush(&mut out).unwrap();
    let t = Trace::parse(&out);
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    assert_eq!(t.events.len(), 38);
    assert_eq!(t.lost_events()[&0], 12);
}

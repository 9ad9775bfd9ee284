//! Damaged files: each problem is reported with its byte offset, and the
//! rest of the file is still read.
use ktrace::decode::Trace;
use ktrace::events::{self, test};
use ktrace::host::{self, StdPlatform};
use ktrace::stream::{HEADER_BYTES, RECORD_BYTES};
use ktrace::{Class, Overflow, StreamWriter};

/// A trace of 3 full blocks (19 marks each) on one processor, and the
/// offsets of its block records.
fn three_blocks() -> (Vec<u8>, Vec<usize>) {
    let tracer = host::tracer::<4, 64>(1, Overflow::Stop);
    StdPlatform::set_cpu(0);
    tracer.enable(Class::TEST);
    for i in 0..57 {
        test::mark(tracer, 0, i);
    }
    let mut scratch = [0u64; 64];
    let mut out = Vec::new();
    let mut d = StreamWriter::new(tracer, &mut scratch);
    d.start(&mut out, events::KERNEL_EVENTS, 0).unwrap();
    d.flush(&mut out).unwrap();
    let t = Trace::parse(&out);
    assert!(t.errors.is_empty());
    assert_eq!(t.events.len(), 57);
    let offsets = t.blocks.iter().map(|b| b.offset as usize).collect();
    (out, offsets)
}

#[test]
fn corrupt_block_is_skipped_with_its_offset() {
    let (mut bytes, offs) = three_blocks();
    bytes[offs[1] + RECORD_BYTES + 100] ^= 0x55;
    let t = Trace::parse(&bytes);
    assert_eq!(t.errors.len(), 1, "{:?}", t.errors);
    assert_eq!(t.errors[0].offset, offs[1] as u64);
    assert!(
        t.errors[0].to_string().contains("checksum"),
        "{}",
        t.errors[0]
    );
    assert!(t.errors[0]
        .to_string()
        .contains(&format!("offset {}", offs[1])));
    assert_eq!(t.events.len(), 38, "blocks 0 and 2 still decode");
}

#[test]
fn truncated_file_reports_offset_and_keeps_earlier_blocks() {
    let (bytes, offs) = three_blocks();
    let cut = &bytes[..offs[2] + 40];
    let t = Trace::parse(cut);
    assert_eq!(t.errors.len(), 1, "{:?}", t.errors);
    assert_eq!(t.errors[0].offset, offs[2] as u64);
    assert!(t.errors[0].message.contains("truncated"), "{}", t.errors[0]);
    assert_eq!(t.events.len(), 38);
    // Cut inside a record header.
    let t = Trace::parse(&bytes[..offs[2] + 6]);
    assert_eq!(t.errors.len(), 1);
    assert_eq!(t.events.len(), 38);
}

#[test]
fn garbage_between_records_is_skipped() {
    let (bytes, offs) = three_blocks();
    let mut damaged = bytes[..offs[1]].to_vec();
    damaged.extend_from_slice(b"line noise from the serial port");
    damaged.extend_from_slice(&bytes[offs[1]..]);
    let t = Trace::parse(&damaged);
    assert_eq!(t.errors.len(), 1, "{:?}", t.errors);
    assert_eq!(t.errors[0].offset, offs[1] as u64);
    assert_eq!(t.events.len(), 57);
}

#[test]
fn bad_header_and_bad_events_are_reported() {
    let (bytes, offs) = three_blocks();
    let mut b = bytes.clone();
    b[0] = b'X';
    let t = Trace::parse(&b);
    assert_eq!(t.errors[0].offset, 0);
    assert!(t.errors[0].message.contains("K42TRACE"));
    assert_eq!(t.events.len(), 57, "records are found by their magic");

    assert!(!Trace::parse(&[]).errors.is_empty());
    assert!(!Trace::parse(&bytes[..HEADER_BYTES - 3]).errors.is_empty());

    // An event whose length runs past its block: re-checksummed so only
    // the event is bad.
    let mut b = bytes.clone();
    let payload = offs[0] + RECORD_BYTES;
    let word = payload + 16 + 5 * 8; // first event after the block start
    b[word + 4] = 200; // length field
    let len = u32::from_le_bytes(b[offs[0] + 8..offs[0] + 12].try_into().unwrap()) as usize;
    let mut fnv = ktrace::stream::Fnv::new();
    fnv.update(&b[payload..payload + len]);
    b[offs[0] + 12..offs[0] + 16].copy_from_slice(&fnv.finish().to_le_bytes());
    let t = Trace::parse(&b);
    assert_eq!(t.errors.len(), 1, "{:?}", t.errors);
    assert_eq!(t.errors[0].offset, word as u64);
    assert_eq!(t.events.len(), 38);
}

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("KTRACE_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(64)))]

    /// Random damage (flipped bytes, a cut, inserted junk) never panics the
    /// reader, every error names an offset inside the file, and every block
    /// the damage did not touch still decodes.
    #[test]
    fn random_damage_is_reported_not_fatal(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..6),
        cut in any::<prop::sample::Index>(),
        junk in prop::collection::vec(any::<u8>(), 0..40),
        at in any::<prop::sample::Index>(),
    ) {
        let (bytes, offs) = three_blocks();
        let mut b = bytes.clone();
        let mut touched = Vec::new();
        for (i, x) in &flips {
            let i = i.index(b.len());
            b[i] ^= x;
            touched.push(i);
        }
        let junk_at = at.index(b.len());
        b.splice(junk_at..junk_at, junk.iter().copied());
        let keep = cut.index(b.len() + 1);
        b.truncate(keep.max(HEADER_BYTES));
        let t = Trace::parse(&b);
        for e in &t.errors {
            prop_assert!((e.offset as usize) <= b.len(), "{e}");
        }
        // Block records entirely before every flip, the junk and the cut.
        let first_damage = touched.iter().copied().chain([junk_at, keep]).min().unwrap();
        let record_len = offs[1] - offs[0];
        let intact = offs.iter().filter(|&&o| o + record_len <= first_damage).count();
        prop_assert!(t.blocks.len() >= intact, "{} < {intact}: {:?}", t.blocks.len(), t.errors);
    }
}

#[test]
fn absurd_string_length_is_an_error() {
    use ktrace::decode::decode_fields;
    use ktrace::FieldKind;
    let fields = vec![("s".to_string(), FieldKind::Str)];
    for len in [u64::MAX, u64::MAX - 7, 1 << 40, 9] {
        let e = decode_fields(&fields, &[len, 0x6162]).unwrap_err();
        assert!(e.contains("runs past the event"), "{e}");
    }
    assert_eq!(
        decode_fields(&fields, &[2, 0x6261]).unwrap(),
        vec![ktrace::decode::Value::Str("ab".into())]
    );
}

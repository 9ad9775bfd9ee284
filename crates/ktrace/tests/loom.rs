//! Loom models of reserve, commit and filler, and of a reader racing a
//! writer that laps it.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p ktrace --test loom --release`
#![cfg(loom)]

use ktrace::header::{control, Class, Header, Layer};
use ktrace::{host, BlockRead, Overflow, Platform, Tracer};
use loom::thread;

/// One processor, a clock that does not matter here.
struct One;

impl Platform for One {
    fn cpu_id(&self) -> usize {
        0
    }
    fn timestamp(&self) -> u64 {
        7
    }
}

const BW: usize = 16;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(
        std::env::var("LOOM_MAX_PREEMPTIONS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3),
    );
    b.check(f);
}

/// Logs `len` words whose payload is all `tag`.
fn log(t: &Tracer<'_, One, 2, BW>, tag: u64, len: usize) -> bool {
    t.log(Layer::KERNEL, Class::TEST, tag as u16, len, |w| {
        for _ in 1..len {
            w.put(tag);
        }
    })
    .is_ok()
}

/// Walks a block: returns the tags of its events, checking that each
/// event's payload is intact and that a block start leads.
fn events_in(block: &[u64]) -> Vec<u64> {
    let h = Header::decode(block[0]);
    assert_eq!((h.class, h.minor), (Class::CONTROL, control::BLOCK_START));
    let mut tags = Vec::new();
    let mut i = control::BLOCK_START_WORDS;
    while i < block.len() {
        let h = Header::decode(block[i]);
        if h.is_filler() {
            break;
        }
        let len = h.len as usize;
        assert!(len > 0 && i + len <= block.len(), "bad length {len} at {i}");
        let tag = h.minor as u64;
        assert!(
            block[i + 1..i + len].iter().all(|&w| w == tag),
            "torn event"
        );
        tags.push(tag);
        i += len;
    }
    tags
}

/// Two writers race for the last space in a block: one of them pads it
/// with a filler and opens the next. A concurrent reader only ever sees a
/// complete block; in the end each event is in exactly one block.
#[test]
fn reserve_commit_filler() {
    model(|| {
        let t = host::tracer_with::<_, 2, BW>(1, Overflow::Stop, One);
        // Block 0: block start (5) + 6 words; 5 words remain, too few for
        // a second 6-word event.
        assert!(log(t, 1, 6));
        let a = thread::spawn(move || assert!(log(t, 2, 6)));
        let b = thread::spawn(move || assert!(log(t, 3, 4)));
        let mut block = [0u64; BW];
        if t.read_block(0, 0, &mut block) == BlockRead::Ready {
            let tags = events_in(&block);
            assert_eq!(tags[0], 1);
        }
        a.join().unwrap();
        b.join().unwrap();
        t.seal(0);
        let mut all = Vec::new();
        for seq in 0..2 {
            if t.read_block(0, seq, &mut block) == BlockRead::Ready {
                all.extend(events_in(&block));
            }
        }
        all.sort_unstable();
        assert_eq!(all, vec![1, 2, 3]);
    });
}

/// A reader copying block 0 while a writer, lapping the ring, reuses its
/// slot: the read is either the old block intact or reported overwritten.
#[test]
fn reader_never_returns_a_torn_block() {
    model(|| {
        let t = host::tracer_with::<_, 2, BW>(1, Overflow::Wrap, One);
        assert!(log(t, 1, BW - control::BLOCK_START_WORDS));
        assert!(log(t, 2, BW - control::BLOCK_START_WORDS));
        let w = thread::spawn(move || assert!(log(t, 3, 4)));
        let mut block = [0u64; BW];
        match t.read_block(0, 0, &mut block) {
            BlockRead::Ready => assert_eq!(events_in(&block), vec![1]),
            BlockRead::Overwritten => {}
            BlockRead::NotReady => panic!("block 0 was complete"),
        }
        w.join().unwrap();
        assert_eq!(t.read_block(0, 0, &mut block), BlockRead::Overwritten);
    });
}

/// Stop mode: a writer that needs the block a consumer is still reading
/// either waits its turn (drops and counts the event) or, once released,
/// writes a block the consumer has finished copying. Nothing is lost
/// without being counted.
#[test]
fn stop_mode_release() {
    model(|| {
        let t = host::tracer_with::<_, 2, BW>(1, Overflow::Stop, One);
        assert!(log(t, 1, BW - control::BLOCK_START_WORDS));
        assert!(log(t, 2, BW - control::BLOCK_START_WORDS));
        let w = thread::spawn(move || log(t, 3, 4));
        let mut block = [0u64; BW];
        assert_eq!(t.read_block(0, 0, &mut block), BlockRead::Ready);
        assert_eq!(events_in(&block), vec![1], "copied before release");
        t.release(0, 1);
        let logged = w.join().unwrap();
        t.seal(0);
        if logged {
            assert_eq!(t.read_block(0, 2, &mut block), BlockRead::Ready);
            assert_eq!(events_in(&block), vec![3]);
            assert_eq!(t.lost_events(0), 0);
        } else {
            assert_eq!(t.lost_events(0), 1);
        }
    });
}

//! Loom models of the two places where processors meet: the remote-free
//! handoff (`RemoteStack`) and the node layer's spin lock.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p kalloc --test loom --release`
#![cfg(loom)]

use kalloc::loom_support::SpinLock;
use kalloc::{Block, RemoteStack};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

/// A free block with something the freeing processor wrote in it.
#[repr(C)]
struct TestBlock {
    block: Block,
    payload: UnsafeCell<u64>,
}

fn block(payload: u64) -> *mut Block {
    Box::into_raw(Box::new(TestBlock {
        block: Block::new(),
        payload: UnsafeCell::new(payload),
    })) as *mut Block
}

/// Walks a chain taken from the stack, reads each payload (loom flags the
/// read if the producer's write does not happen before it) and frees it.
fn drain(mut b: *mut Block, out: &mut Vec<u64>) {
    while !b.is_null() {
        // SAFETY: blocks in a taken chain are ours; each is a TestBlock.
        unsafe {
            let next = (*b).next();
            let t = b as *mut TestBlock;
            out.push((*t).payload.with(|p| *p));
            drop(Box::from_raw(t));
            b = next;
        }
    }
}

/// Two processors send batches home to a third, which drains concurrently:
/// every block arrives exactly once, with its contents visible.
#[test]
fn remote_free_handoff() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let stack = Arc::new(RemoteStack::new());
        let producers: Vec<_> = [10u64, 20]
            .into_iter()
            .map(|base| {
                let stack = Arc::clone(&stack);
                thread::spawn(move || {
                    // A batch of two, linked first -> last.
                    let last = block(base + 1);
                    let first = block(base);
                    // SAFETY: fresh blocks of ours.
                    unsafe {
                        (*first).set_next(last);
                        // The payload written after linking, before the push.
                        (*(last as *mut TestBlock)).payload.with_mut(|p| *p += 100);
                        stack.push_chain(first, last);
                    }
                })
            })
            .collect();
        // The owner drains while the others push, until all four arrived.
        let mut got = Vec::new();
        while got.len() < 4 {
            drain(stack.take_all(), &mut got);
            thread::yield_now();
        }
        for p in producers {
            p.join().unwrap();
        }
        got.sort_unstable();
        assert_eq!(got, vec![10, 20, 111, 121]);
    });
}

/// The node layer's lock gives mutual exclusion.
#[test]
fn node_lock_excludes() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let lock = Arc::new(SpinLock::new(0u32));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let lock = Arc::clone(&lock);
                thread::spawn(move || {
                    let mut g = lock.lock();
                    let v = *g;
                    *g = v + 1;
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), 2);
    });
}

//! Loom model of the cross-dispatcher wake-up queue: two producers on other
//! processors post tokens while the dispatcher takes its soft-interrupt bits
//! and drains. No token is lost or seen twice, and a token the dispatcher
//! has not seen is always announced by a pending `SOFT_WAKEUP` bit (no lost
//! wake-up).
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p uthread --test loom --release`
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use uthread::{SoftInterrupts, SOFT_WAKEUP};

#[test]
fn remote_queue_loses_no_wakeup() {
    loom::model(|| {
        let soft = Arc::new(SoftInterrupts::new());
        let producers: Vec<_> = [1u64, 2]
            .into_iter()
            .map(|token| {
                let soft = soft.clone();
                thread::spawn(move || soft.loom_post(token).unwrap())
            })
            .collect();
        let mut seen = Vec::new();
        soft.loom_take_and_drain(&mut seen);
        for p in producers {
            p.join().unwrap();
        }
        if seen.len() < 2 {
            let bits = soft.loom_take_and_drain(&mut seen);
            assert_ne!(
                bits & SOFT_WAKEUP,
                0,
                "a queued token without its soft interrupt"
            );
        }
        seen.sort_unstable();
        assert_eq!(seen, vec![1, 2]);
    });
}

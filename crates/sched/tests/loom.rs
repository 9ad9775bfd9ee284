//! Loom models of the race between waking (enqueueing) a dispatcher on one
//! processor and another processor stealing from it. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p sched --test loom --release`.
#![cfg(loom)]

use loom::sync::Arc;
use sched::{Config, Params, Smp, State};

/// Processor 0 has one dispatcher running and one blocked. A waker makes
/// the blocked one runnable while processor 1 balances: whichever order the
/// locks are taken in, the dispatcher ends up runnable in exactly one place,
/// the directory agrees, and the running one never moves.
#[test]
fn wake_races_with_steal() {
    loom::model(|| {
        let smp = Arc::new(Smp::new(2, 4, Config::default()).unwrap());
        let running = smp.create(0, Params::default()).unwrap();
        let other = smp.create(0, Params::default()).unwrap();
        smp.wake(running).unwrap();
        smp.wake(other).unwrap();
        smp.schedule(0, 0).unwrap();
        let target = smp.create(0, Params::default()).unwrap();

        let s1 = smp.clone();
        let waker = loom::thread::spawn(move || {
            s1.wake(target).unwrap();
        });
        let s2 = smp.clone();
        let thief = loom::thread::spawn(move || s2.balance(1).unwrap());
        waker.join().unwrap();
        let moved = thief.join().unwrap();

        assert_eq!(smp.audit().unwrap(), 3);
        assert!(moved <= 1);
        assert_eq!(smp.location(running), Some(0));
        assert_eq!(smp.info(target).unwrap().1.state, State::Runnable);
        let on1 = [other, target]
            .iter()
            .filter(|&&id| smp.location(id) == Some(1))
            .count();
        assert_eq!(on1, moved);
    });
}

/// A lookup (wake) that read the directory before a steal moved its
/// dispatcher retries and finds it at the new place; an exit racing with a
/// steal frees the name exactly once.
#[test]
fn exit_races_with_steal_and_wake() {
    loom::model(|| {
        let smp = Arc::new(Smp::new(2, 4, Config::default()).unwrap());
        let a = smp.create(0, Params::default()).unwrap();
        let b = smp.create(0, Params::default()).unwrap();
        smp.wake(a).unwrap();
        smp.wake(b).unwrap();

        let s1 = smp.clone();
        let exiter = loom::thread::spawn(move || s1.exit(a, 0).is_ok());
        let s2 = smp.clone();
        let thief = loom::thread::spawn(move || s2.steal(1, 0, 2).unwrap());
        let s3 = smp.clone();
        let waker = loom::thread::spawn(move || s3.wake(b).unwrap());
        assert!(exiter.join().unwrap());
        let moved = thief.join().unwrap();
        let w = waker.join().unwrap();
        assert!(!w.wake.woke);
        assert!((1..=2).contains(&moved));
        assert_eq!(smp.audit().unwrap(), 1);
        assert!(smp.info(a).is_err());
        assert!(smp.location(b).is_some());
        // The freed name is reusable, once.
        let c = smp.create(1, Params::default()).unwrap();
        assert_ne!(c, a);
        assert_eq!(smp.audit().unwrap(), 2);
    });
}

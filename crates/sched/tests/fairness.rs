//! Proportional share within a class: over one simulated second, each
//! dispatcher's share of the processor is within 10% of its weight's share.

mod common;

use common::{run, spawn, ts};
use proptest::prelude::*;
use sched::{Config, DispatcherId, Scheduler, SECOND};

/// Runs `weights` for one second and checks every share. A share too small
/// to measure to 10% in whole minimum slices (under 20 slices) is allowed
/// an error of two minimum slices instead (stretched by the warning time
/// when preemption warnings are on).
fn check_shares(weights: &[u64]) {
    check_shares_with(weights, Config::default());
}

fn check_shares_with(weights: &[u64], config: Config) {
    let mut s = Scheduler::new(config).unwrap();
    let ps: Vec<_> = weights.iter().map(|&w| ts(w)).collect();
    let slots = spawn(&mut s, &ps);
    let got = run(&mut s, 0, SECOND, |_, _| {});
    let total: u64 = weights.iter().sum();
    let mut sum = 0;
    for (i, &w) in weights.iter().enumerate() {
        let id = DispatcherId::new(i as u32, 0);
        let t = got.get(&id).copied().unwrap_or(0);
        sum += t;
        let expected = SECOND as f64 * w as f64 / total as f64;
        // The granularity of a share: the shortest run, which a dispatcher
        // that ignores preemption warnings stretches by the warning.
        let grain = (config.min_slice + config.warning) as f64;
        let tolerance = if expected >= 20.0 * grain {
            0.10 * expected
        } else {
            2.0 * grain
        };
        assert!(
            (t as f64 - expected).abs() <= tolerance,
            "weights {weights:?}: dispatcher {i} (weight {w}) ran {t} ns, expected {expected:.0} ± {tolerance:.0}"
        );
        // The scheduler's own accounting agrees with what ran.
        let info = s.info(slots[i]).unwrap();
        assert_eq!(info.runtime, t, "accounting of dispatcher {i}");
    }
    assert_eq!(sum, SECOND, "the processor was never idle");
    s.audit().unwrap();
}

#[test]
fn equal_weights() {
    check_shares(&[1, 1]);
    check_shares(&[4096, 4096, 4096]);
}

#[test]
fn small_mixes() {
    check_shares(&[1, 2, 3, 4]);
    check_shares(&[100, 200, 400, 800, 1600]);
}

#[test]
fn one_versus_4096() {
    check_shares(&[1, 4096]);
    check_shares(&[4096, 1]);
}

#[test]
fn extremes_mixed() {
    check_shares(&[4096, 4096, 1, 1, 1]);
    check_shares(&[7, 4096, 13, 2048]);
    check_shares(&[3000, 4096]);
}

#[test]
fn shares_hold_with_preemption_warnings() {
    // Dispatchers that ignore the warning run 50 µs past each slice end;
    // that time is charged, so the shares still follow the weights.
    let config = Config {
        warning: 50 * sched::MICROSECOND,
        ..Config::default()
    };
    check_shares_with(&[1, 4096], config);
    check_shares_with(&[1, 2, 3, 4], config);
    check_shares_with(&[4096, 4096, 1, 1, 1], config);
}

#[test]
fn many_dispatchers() {
    let weights: Vec<u64> = (0..64).map(|i| 1 + (i * 67) % 512).collect();
    check_shares(&weights);
}

#[test]
fn weight_change_takes_effect() {
    let mut s = Scheduler::new(Config::default()).unwrap();
    let slots = spawn(&mut s, &[ts(100), ts(100)]);
    let first = run(&mut s, 0, SECOND / 2, |_, _| {});
    let a = DispatcherId::new(0, 0);
    let b = DispatcherId::new(1, 0);
    let half = (SECOND / 2) as f64;
    assert!((first[&a] as f64 - half / 2.0).abs() < 0.1 * half / 2.0);
    s.set_params(slots[0], ts(300), SECOND / 2).unwrap();
    let second = run(&mut s, SECOND / 2, SECOND, |_, _| {});
    let share = second[&a] as f64 / (second[&a] + second[&b]) as f64;
    assert!(
        (share - 0.75).abs() < 0.075,
        "share after the change: {share}"
    );
}

#[test]
fn sleeping_earns_no_credit() {
    // B sleeps for half a second while A runs alone; when B wakes it gets
    // its half of the processor, not the whole of it to catch up.
    let mut s = Scheduler::new(Config::default()).unwrap();
    let slots = spawn(&mut s, &[ts(100), ts(100)]);
    s.block(slots[1], 0).unwrap();
    run(&mut s, 0, SECOND / 2, |_, _| {});
    s.wake(slots[1]).unwrap();
    let got = run(&mut s, SECOND / 2, SECOND / 2 + 100_000_000, |_, _| {});
    let b = got[&DispatcherId::new(1, 0)] as f64;
    assert!(
        (b - 50e6).abs() < 5e6,
        "B ran {b} ns of 100 ms after waking"
    );
}

#[test]
fn blocking_dispatcher_is_charged_only_what_it_used() {
    // A blocks after 1 ms of every run (an I/O-bound dispatcher) and wakes
    // 1 ms later; it still gets no more than its weight's share while B
    // wants the processor, and its runtime is exactly what it ran.
    let mut s = Scheduler::new(Config::default()).unwrap();
    let slots = spawn(&mut s, &[ts(100), ts(100)]);
    let a = slots[0];
    let mut asleep_since = None;
    let got = run(&mut s, 0, SECOND, |now, s| {
        if let Some(t) = asleep_since {
            if now >= t + 1_000_000 {
                s.wake(a).unwrap();
                asleep_since = None;
            }
        } else if s.current().map(|c| c.0) == Some(a) {
            s.block(a, now).unwrap();
            asleep_since = Some(now);
        }
    });
    let share = got[&DispatcherId::new(0, 0)] as f64 / SECOND as f64;
    assert!(share <= 0.55, "the sleeper took {share} of the processor");
    assert_eq!(s.info(a).unwrap().runtime, got[&DispatcherId::new(0, 0)]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("SCHED_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
    ))]

    #[test]
    fn random_weight_mixes(weights in prop::collection::vec(1u64..=4096, 2..6)) {
        check_shares(&weights);
    }
}

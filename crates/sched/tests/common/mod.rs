//! Helpers shared by the integration tests: a simulated processor that runs
//! dispatchers exactly until their slice ends (the kernel's one-shot timer).

#![allow(dead_code)]

use std::collections::HashMap;

use sched::{Class, DispatcherId, Params, Scheduler, Slot, Tick, Time, Weight};

pub fn ts(w: u64) -> Params {
    Params::new(Class::TimeSharing, Weight::new(w).unwrap())
}

pub fn params(class: Class, w: u64) -> Params {
    Params::new(class, Weight::new(w).unwrap())
}

/// Creates and wakes dispatchers with these parameters; ids are 0, 1, ...
pub fn spawn(s: &mut Scheduler, ps: &[Params]) -> Vec<Slot> {
    ps.iter()
        .enumerate()
        .map(|(i, &p)| {
            let slot = s.create(DispatcherId::new(i as u32, 0), p);
            s.wake(slot).unwrap();
            slot
        })
        .collect()
}

/// Runs the processor from `from` to `to`: the running dispatcher runs until
/// the one-shot timer fires (its slice end, or a warning's deadline; it
/// ignores warnings), then the timer ticks. `event(now, s)` is called at
/// each timer so a test can block, wake or hand off. Returns the time each
/// dispatcher was on the processor.
pub fn run(
    s: &mut Scheduler,
    from: Time,
    to: Time,
    mut event: impl FnMut(Time, &mut Scheduler),
) -> HashMap<DispatcherId, Time> {
    let mut got = HashMap::new();
    let mut now = from;
    let mut timer = s.schedule(now).map(|d| d.slice_end);
    while now < to {
        let (Some((_, id)), Some(t)) = (s.current(), timer) else {
            // Idle: nothing can wake without an event.
            break;
        };
        let end = t.min(to);
        *got.entry(id).or_insert(0) += end - now;
        now = end;
        event(now, s);
        timer = match s.tick(now) {
            Tick::Continue => s.slice_end().filter(|&e| e > now).or(timer),
            Tick::Warn { deadline } => Some(deadline),
            Tick::Preempt => s.schedule(now).map(|d| d.slice_end),
            Tick::Idle => None,
        };
    }
    got
}

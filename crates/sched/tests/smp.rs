//! Several processors: load balancing, pinning, the directory, a model-based
//! property test of random operations, and a stress test on real threads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use proptest::prelude::*;
use sched::{
    Class, Config, DispatcherId, Error, HandoffMode, Params, Smp, State, Tick, Weight, MICROSECOND,
};

fn ts() -> Params {
    Params::default()
}

fn runnable(smp: &Smp, cpu: usize, n: usize, p: Params) -> Vec<DispatcherId> {
    (0..n)
        .map(|_| {
            let id = smp.create(cpu, p).unwrap();
            smp.wake(id).unwrap();
            id
        })
        .collect()
}

#[test]
fn idle_processor_steals_from_the_busiest() {
    let smp = Smp::new(3, 32, Config::default()).unwrap();
    runnable(&smp, 0, 2, ts());
    let busy = runnable(&smp, 1, 7, ts());
    smp.schedule(0, 0).unwrap();
    let running = smp.schedule(1, 0).unwrap().unwrap().id;
    assert_eq!((smp.load(0), smp.load(1), smp.load(2)), (2, 7, 0));
    // Processor 2 is idle: it takes half the difference from processor 1.
    assert_eq!(smp.balance(2).unwrap(), 3);
    assert_eq!((smp.load(0), smp.load(1), smp.load(2)), (2, 4, 3));
    // The running dispatcher never moves.
    assert_eq!(smp.location(running), Some(1));
    let moved: Vec<_> = busy
        .iter()
        .filter(|&&id| smp.location(id) == Some(2))
        .collect();
    assert_eq!(moved.len(), 3);
    for &&id in &moved {
        assert_eq!(smp.info(id).unwrap().1.state, State::Runnable);
    }
    // Processor 2 runs one of them.
    let d = smp.schedule(2, 0).unwrap().unwrap();
    assert!(moved.contains(&&d.id));
    // Processor 0 (load 2) is two behind processor 1 (load 4): it takes one.
    assert_eq!(smp.balance(0).unwrap(), 1);
    assert_eq!((smp.load(0), smp.load(1), smp.load(2)), (3, 3, 3));
    // Balanced now: nobody moves.
    for cpu in 0..3 {
        assert_eq!(smp.balance(cpu).unwrap(), 0);
    }
    assert_eq!(smp.audit().unwrap(), 9);
}

#[test]
fn pinned_dispatchers_never_move() {
    let smp = Smp::new(2, 32, Config::default()).unwrap();
    let pinned = runnable(&smp, 0, 6, ts().pinned());
    assert_eq!(smp.balance(1).unwrap(), 0);
    assert_eq!(smp.steal(1, 0, 100).unwrap(), 0);
    // Mixed: only the unpinned ones move, however many are asked for.
    let free = runnable(&smp, 0, 4, ts());
    assert_eq!(smp.steal(1, 0, 100).unwrap(), 4);
    for id in pinned {
        assert_eq!(smp.location(id), Some(0));
    }
    for id in free {
        assert_eq!(smp.location(id), Some(1));
    }
    // Blocked dispatchers are not stolen (nothing to run).
    let b = smp.create(0, ts()).unwrap();
    assert_eq!(smp.steal(1, 0, 100).unwrap(), 0);
    assert_eq!(smp.location(b), Some(0));
    smp.audit().unwrap();
}

#[test]
fn higher_classes_are_stolen_first() {
    let smp = Smp::new(2, 32, Config::default()).unwrap();
    runnable(&smp, 0, 3, Params::new(Class::Background, Weight::MIN));
    let rt = runnable(&smp, 0, 1, Params::new(Class::SoftRealTime, Weight::MIN));
    smp.schedule(0, 0).unwrap(); // the RT one runs...
    runnable(&smp, 0, 1, Params::new(Class::SoftRealTime, Weight::MIN));
    assert_eq!(smp.steal(1, 0, 1).unwrap(), 1);
    // ...so the other RT one (queued) is the one that moved.
    assert_eq!(smp.location(rt[0]), Some(0));
    assert_eq!(
        smp.schedule(1, 0).unwrap().unwrap().class,
        Class::SoftRealTime
    );
}

#[test]
fn migration_keeps_accounting_and_fairness() {
    // A dispatcher that ran a lot on processor 0 does not get a fresh start
    // on processor 1: its lag relative to the class clock travels with it.
    let smp = Smp::new(2, 8, Config::default()).unwrap();
    let ids = runnable(&smp, 0, 2, ts());
    let mut now = 0;
    for _ in 0..10 {
        let d = smp.schedule(0, now).unwrap().unwrap();
        now = d.slice_end;
    }
    smp.tick(0, now).unwrap();
    let before: Vec<_> = ids
        .iter()
        .map(|&i| smp.info(i).unwrap().1.runtime)
        .collect();
    assert_eq!(before.iter().sum::<u64>(), now);
    let moved = smp.steal(1, 0, 1).unwrap();
    assert_eq!(moved, 1);
    let after: Vec<_> = ids
        .iter()
        .map(|&i| smp.info(i).unwrap().1.runtime)
        .collect();
    assert_eq!(before, after);
}

#[test]
fn directory_errors() {
    let smp = Smp::new(2, 2, Config::default()).unwrap();
    let a = smp.create(0, ts()).unwrap();
    let b = smp.create(1, ts()).unwrap();
    assert_eq!(smp.create(0, ts()), Err(Error::TooManyDispatchers));
    assert_eq!(smp.create(5, ts()), Err(Error::NoSuchCpu(5)));
    assert_eq!(smp.tick(2, 0), Err(Error::NoSuchCpu(2)));
    assert_eq!(smp.balance(9), Err(Error::NoSuchCpu(9)));
    // Handoff is same-processor only.
    smp.wake(a).unwrap();
    smp.schedule(0, 0).unwrap();
    assert_eq!(
        smp.handoff(0, b, HandoffMode::Stay, 1),
        Err(Error::WrongCpu { on: 1 })
    );
    // A stale name is refused, even after its index is reused.
    smp.exit(b, 2).unwrap();
    assert_eq!(smp.wake(b), Err(Error::NoSuchDispatcher));
    let c = smp.create(1, ts()).unwrap();
    assert_eq!(c.index, b.index);
    assert_ne!(c, b);
    assert_eq!(smp.wake(b), Err(Error::NoSuchDispatcher));
    assert_eq!(smp.info(b), Err(Error::NoSuchDispatcher));
    assert_eq!(
        smp.wake(DispatcherId::new(99, 0)),
        Err(Error::NoSuchDispatcher)
    );
    assert_eq!(
        Smp::new(0, 1, Config::default()).err(),
        Some(Error::BadConfig)
    );
    assert_eq!(smp.audit().unwrap(), 2);
}

#[test]
fn remote_wake_reports_where_to_send_the_ipi() {
    let smp = Smp::new(2, 4, Config::default()).unwrap();
    let bg = smp
        .create(1, Params::new(Class::Background, Weight::MIN))
        .unwrap();
    let rt = smp
        .create(1, Params::new(Class::SoftRealTime, Weight::MIN))
        .unwrap();
    // Processor 1 is idle: waking there needs an IPI.
    let w = smp.wake(bg).unwrap();
    assert_eq!(w.cpu, 1);
    assert!(w.wake.preempt);
    smp.schedule(1, 0).unwrap();
    let w = smp.wake(rt).unwrap();
    assert!(w.wake.preempt);
    assert_eq!(smp.tick(1, 10).unwrap(), Tick::Preempt);
}

// ---- model-based property test -------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Create {
        cpu: usize,
        pinned: bool,
        class: usize,
        weight: u64,
    },
    Wake(usize),
    Block(usize),
    Exit(usize),
    SetParams {
        who: usize,
        class: usize,
        weight: u64,
        pinned: bool,
    },
    Schedule(usize),
    Tick(usize),
    Yield(usize),
    Handoff {
        cpu: usize,
        who: usize,
        block: bool,
    },
    Balance(usize),
    Steal {
        thief: usize,
        victim: usize,
        max: usize,
    },
}

const CPUS: usize = 3;

fn op() -> impl Strategy<Value = Op> {
    let cpu = 0..CPUS;
    prop_oneof![
        (cpu.clone(), any::<bool>(), 0..6usize, 1u64..=4096).prop_map(
            |(cpu, pinned, class, weight)| Op::Create {
                cpu,
                pinned,
                class,
                weight
            }
        ),
        (0..40usize).prop_map(Op::Wake),
        (0..40usize).prop_map(Op::Block),
        (0..40usize).prop_map(Op::Exit),
        (0..40usize, 0..6usize, 1u64..=4096, any::<bool>()).prop_map(
            |(who, class, weight, pinned)| Op::SetParams {
                who,
                class,
                weight,
                pinned
            }
        ),
        cpu.clone().prop_map(Op::Schedule),
        cpu.clone().prop_map(Op::Tick),
        cpu.clone().prop_map(Op::Yield),
        (cpu.clone(), 0..40usize, any::<bool>()).prop_map(|(cpu, who, block)| Op::Handoff {
            cpu,
            who,
            block
        }),
        cpu.clone().prop_map(Op::Balance),
        (cpu.clone(), cpu, 0..4usize).prop_map(|(thief, victim, max)| Op::Steal {
            thief,
            victim,
            max
        }),
    ]
}

/// What the model knows of a dispatcher: blocked or not, pinned to where.
#[derive(Clone, Copy, Debug)]
struct M {
    blocked: bool,
    pinned_to: Option<usize>,
}

fn check(smp: &Smp, model: &HashMap<DispatcherId, M>, dead: &[DispatcherId]) {
    assert_eq!(
        smp.audit().unwrap(),
        model.len(),
        "a dispatcher was lost or duplicated"
    );
    for (&id, m) in model {
        let (cpu, info) = smp.info(id).expect("a live dispatcher is findable");
        assert_eq!(
            info.state == State::Blocked,
            m.blocked,
            "{id}: {info:?} vs {m:?}"
        );
        if let Some(p) = m.pinned_to {
            assert_eq!(cpu, p, "pinned {id} moved");
        }
    }
    for &id in dead {
        assert_eq!(smp.info(id).err(), Some(Error::NoSuchDispatcher));
    }
    // Each processor runs at most its own dispatchers.
    for cpu in 0..CPUS {
        if let Some(id) = smp.current(cpu).unwrap() {
            assert_eq!(smp.location(id), Some(cpu));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("SCHED_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn random_operations_match_the_model(ops in prop::collection::vec(op(), 1..120)) {
        let smp = Smp::new(CPUS, 24, Config::default()).unwrap();
        let mut model: HashMap<DispatcherId, M> = HashMap::new();
        let mut order: Vec<DispatcherId> = Vec::new();
        let mut dead = Vec::new();
        let mut now = 0;
        let pick = |order: &Vec<DispatcherId>, i: usize| {
            (!order.is_empty()).then(|| order[i % order.len()])
        };
        for op in ops {
            now += 7 * MICROSECOND;
            match op {
                Op::Create { cpu, pinned, class, weight } => {
                    let mut p = Params::new(Class::ALL[class], Weight::new(weight).unwrap());
                    p.pinned = pinned;
                    match smp.create(cpu, p) {
                        Ok(id) => {
                            model.insert(id, M { blocked: true, pinned_to: pinned.then_some(cpu) });
                            order.push(id);
                        }
                        Err(e) => prop_assert_eq!(e, Error::TooManyDispatchers),
                    }
                }
                Op::Wake(i) => if let Some(id) = pick(&order, i) {
                    smp.wake(id).unwrap();
                    model.get_mut(&id).unwrap().blocked = false;
                },
                Op::Block(i) => if let Some(id) = pick(&order, i) {
                    smp.block(id, now).unwrap();
                    model.get_mut(&id).unwrap().blocked = true;
                },
                Op::Exit(i) => if let Some(id) = pick(&order, i) {
                    smp.exit(id, now).unwrap();
                    model.remove(&id);
                    order.retain(|&x| x != id);
                    dead.push(id);
                },
                Op::SetParams { who, class, weight, pinned } => if let Some(id) = pick(&order, who) {
                    let mut p = Params::new(Class::ALL[class], Weight::new(weight).unwrap());
                    p.pinned = pinned;
                    let (cpu, _) = smp.set_params(id, p, now).unwrap();
                    model.get_mut(&id).unwrap().pinned_to = pinned.then_some(cpu);
                },
                Op::Schedule(cpu) => { smp.schedule(cpu, now).unwrap(); }
                Op::Tick(cpu) => {
                    if smp.tick(cpu, now).unwrap() == Tick::Preempt {
                        smp.schedule(cpu, now).unwrap();
                    }
                }
                Op::Yield(cpu) => { smp.yield_now(cpu, now).unwrap(); }
                Op::Handoff { cpu, who, block } => if let Some(id) = pick(&order, who) {
                    let caller = smp.current(cpu).unwrap();
                    let mode = if block { HandoffMode::Block } else { HandoffMode::Stay };
                    match smp.handoff(cpu, id, mode, now) {
                        Ok(d) => {
                            prop_assert_eq!(d.id, id);
                            model.get_mut(&id).unwrap().blocked = false;
                            if block {
                                model.get_mut(&caller.unwrap()).unwrap().blocked = true;
                            }
                        }
                        Err(Error::NothingRunning) => prop_assert!(caller.is_none()),
                        Err(Error::SelfHandoff) => prop_assert_eq!(caller, Some(id)),
                        Err(Error::WrongCpu { on }) => prop_assert_ne!(on, cpu),
                        Err(e) => prop_assert!(false, "unexpected {:?}", e),
                    }
                },
                Op::Balance(cpu) => { smp.balance(cpu).unwrap(); }
                Op::Steal { thief, victim, max } => {
                    let n = smp.steal(thief, victim, max).unwrap();
                    prop_assert!(n <= max);
                }
            }
            check(&smp, &model, &dead);
        }
    }
}

// ---- stress on real threads ----------------------------------------------

/// Processors as threads, each running its dispatch loop (tick, schedule,
/// block the current one now and then, yield, balance when idle), plus two
/// threads waking random dispatchers and creating/exiting them. At the end
/// nothing is lost or duplicated, and every processor ran something.
#[test]
fn stress_on_real_threads() {
    let iters: u64 = std::env::var("SCHED_STRESS_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    const N: usize = 4;
    let smp = Arc::new(Smp::new(N, 256, Config::default()).unwrap());
    let ids: Arc<Vec<DispatcherId>> = Arc::new(
        (0..64)
            .map(|i| {
                let mut p = Params::new(
                    Class::ALL[1 + i % 4],
                    Weight::new(1 + i as u64 * 61).unwrap(),
                );
                p.pinned = i % 5 == 0;
                let id = smp.create(i % N, p).unwrap();
                smp.wake(id).unwrap();
                id
            })
            .collect(),
    );
    let clock = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let created = Arc::new(AtomicU64::new(0));
    let exited = Arc::new(AtomicU64::new(0));
    let mut cpus = Vec::new();
    for cpu in 0..N {
        let (smp, ids, clock) = (smp.clone(), ids.clone(), clock.clone());
        cpus.push(std::thread::spawn(move || {
            let mut ran = 0u64;
            let mut x = cpu as u64 * 7919 + 1;
            for _ in 0..iters {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let now = clock.fetch_add(1_000, Ordering::Relaxed);
                match x % 8 {
                    0 => {
                        if let Some(id) = smp.current(cpu).unwrap() {
                            let _ = smp.block(id, now);
                        }
                        smp.schedule(cpu, now).unwrap();
                    }
                    1 => {
                        smp.yield_now(cpu, now).unwrap();
                    }
                    2 => {
                        let target = ids[(x >> 8) as usize % ids.len()];
                        let _ = smp.handoff(cpu, target, HandoffMode::Stay, now);
                    }
                    _ => {
                        if smp.tick(cpu, now).unwrap() != Tick::Continue
                            && smp.schedule(cpu, now).unwrap().is_none()
                        {
                            smp.balance(cpu).unwrap();
                        }
                    }
                }
                ran += u64::from(smp.current(cpu).unwrap().is_some());
            }
            ran
        }));
    }
    let mut helpers = Vec::new();
    for h in 0..2u64 {
        let (smp, ids, stop) = (smp.clone(), ids.clone(), stop.clone());
        let (created, exited) = (created.clone(), exited.clone());
        helpers.push(std::thread::spawn(move || {
            let mut x = 0x9e37_79b9_7f4a_7c15u64 + h;
            let mut mine = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let _ = smp.wake(ids[x as usize % ids.len()]);
                if x.is_multiple_of(16) {
                    if let Ok(id) = smp.create((x >> 20) as usize % N, Params::default()) {
                        created.fetch_add(1, Ordering::Relaxed);
                        let _ = smp.wake(id);
                        mine.push(id);
                    }
                }
                if x % 16 == 1 && !mine.is_empty() {
                    let id = mine.swap_remove((x >> 30) as usize % mine.len());
                    smp.exit(id, 0).unwrap();
                    exited.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::yield_now();
            }
        }));
    }
    let ran: Vec<u64> = cpus.into_iter().map(|t| t.join().unwrap()).collect();
    stop.store(true, Ordering::Relaxed);
    for h in helpers {
        h.join().unwrap();
    }
    let live = 64 + created.load(Ordering::Relaxed) - exited.load(Ordering::Relaxed);
    assert_eq!(smp.audit().unwrap() as u64, live);
    for id in ids.iter() {
        smp.info(*id).unwrap();
    }
    assert!(
        ran.iter().all(|&r| r > 0),
        "a processor never ran anything: {ran:?}"
    );
}

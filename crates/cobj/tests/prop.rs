//! Property tests: random sequences of operations on one counter, checked
//! against a model (the count, the Rep layout, liveness).

mod common;

use cobj::hosted::Hosted;
use cobj::swap::negotiate;
use cobj::{Config, Error, Format, Runtime, StdRoot};
use common::*;
use proptest::prelude::*;

const CPUS: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Inc(usize),
    /// Switch to shape 0 (shared), 1 (per processor), 2 (clusters of 2),
    /// 3 (an implementation with no common format: must fail).
    Switch(u8),
    Monitor,
    Unmonitor,
    Quiescent(usize),
    DestroyAndRecreate,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..CPUS).prop_map(Op::Inc),
        2 => (0u8..4).prop_map(Op::Switch),
        1 => Just(Op::Monitor),
        1 => Just(Op::Unmonitor),
        1 => (0..CPUS).prop_map(Op::Quiescent),
        1 => Just(Op::DestroyAndRecreate),
    ]
}

fn make(shape: u8, drops: &Drops) -> Box<dyn cobj::Root<dyn Counter>> {
    match shape {
        0 => Box::new(StdRoot::<SharedCount>::shared(drops.clone())),
        1 => Box::new(StdRoot::<DistCount>::per_cpu(drops.clone())),
        2 => Box::new(StdRoot::<DistCount>::clustered(drops.clone(), 2).unwrap()),
        _ => Box::new(StdRoot::<Mute>::per_cpu(())),
    }
}

/// Runs `f` as virtual processor `cpu` (on this thread).
fn on<R>(rt: &Runtime<Hosted>, cpu: usize, f: impl FnOnce() -> R) -> R {
    let _me = rt.enter(cpu).unwrap();
    f()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("COBJ_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
    ))]

    #[test]
    fn counter_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        let rt = Runtime::new(Hosted::new(CPUS).unwrap(), Config { max_objects: 8 }).unwrap();
        let drops = Drops::default();
        let mut obj = rt.create_boxed(make(0, &drops)).unwrap();
        let mut count = 0u64;
        let mut monitored: Option<(std::sync::Arc<cobj::MonitorStats>, u64)> = None;
        let mut calls = 0u64;
        for op in ops {
            match op {
                Op::Inc(cpu) => {
                    on(&rt, cpu, || obj.call(|c| c.inc())).unwrap();
                    count += 1;
                    calls += 1;
                }
                Op::Switch(shape) => {
                    let r = obj.switch_boxed(make(shape, &drops));
                    if shape == 3 {
                        prop_assert_eq!(r.unwrap_err().error, Error::NoCommonFormat);
                    } else {
                        prop_assert!(r.is_ok());
                    }
                }
                Op::Monitor => match monitored {
                    None => monitored = Some((obj.monitor().unwrap(), calls)),
                    Some(_) => prop_assert_eq!(obj.monitor().err(), Some(Error::Monitor)),
                },
                Op::Unmonitor => match monitored.take() {
                    Some((stats, from)) => {
                        obj.unmonitor().unwrap();
                        prop_assert_eq!(stats.calls(), calls - from);
                    }
                    None => prop_assert_eq!(obj.unmonitor(), Err(Error::Monitor)),
                },
                Op::Quiescent(cpu) => on(&rt, cpu, || rt.quiescent()),
                Op::DestroyAndRecreate => {
                    let before = drops.get();
                    obj.destroy().unwrap();
                    prop_assert_eq!(on(&rt, 0, || obj.call(|c| c.inc())), Err(Error::Destroyed));
                    rt.synchronize().unwrap();
                    prop_assert!(drops.get() >= before);
                    obj = rt.create_boxed(make(0, &drops)).unwrap();
                    count = 0;
                    monitored = None;
                }
            }
            // Reading the value is a call too.
            let v = on(&rt, 0, || obj.call(|c| c.value())).unwrap();
            calls += 1;
            prop_assert_eq!(v, count);
        }
        drop(obj);
        rt.synchronize().unwrap();
        prop_assert_eq!(rt.live_objects(), 0);
        prop_assert_eq!(rt.pending(), 0);
    }

    #[test]
    fn negotiation_picks_the_first_import_that_is_exported(
        exports in proptest::collection::vec(0usize..6, 0..6),
        imports in proptest::collection::vec(0usize..6, 0..6),
    ) {
        const NAMES: [Format; 6] = [Format("a"), Format("b"), Format("c"), Format("d"), Format("e"), Format("f")];
        let ex: Vec<Format> = exports.iter().map(|&i| NAMES[i]).collect();
        let im: Vec<Format> = imports.iter().map(|&i| NAMES[i]).collect();
        match negotiate(&ex, &im) {
            Some(f) => {
                prop_assert!(ex.contains(&f));
                let pos = im.iter().position(|x| *x == f).unwrap();
                prop_assert!(im[..pos].iter().all(|x| !ex.contains(x)));
            }
            None => prop_assert!(im.iter().all(|x| !ex.contains(x))),
        }
    }
}

//! Unit tests of the call path, the standard Roots, destruction, swapping,
//! monitoring and upgrade, on the hosted platform.

mod common;

use cobj::hosted::Hosted;
use cobj::{Config, Error, Runtime, StdRoot};
use common::*;

fn runtime(ncpus: usize) -> Runtime<Hosted> {
    Runtime::new(Hosted::new(ncpus).unwrap(), Config { max_objects: 64 }).unwrap()
}

/// Runs `f(cpu)` on a thread entered as each virtual processor in turn.
fn on_each(rt: &Runtime<Hosted>, cpus: impl IntoIterator<Item = usize>, f: impl Fn(usize) + Sync) {
    for cpu in cpus {
        std::thread::scope(|s| {
            s.spawn(|| {
                let _me = rt.enter(cpu).unwrap();
                f(cpu)
            });
        });
    }
}

#[test]
fn bad_configuration_is_an_error() {
    assert_eq!(Hosted::new(0).err(), Some(Error::NoProcessors));
    assert_eq!(Hosted::new(65).err(), Some(Error::TooManyProcessors(65)));
    let r = Runtime::new(Hosted::new(2).unwrap(), Config { max_objects: 0 });
    assert_eq!(r.err(), Some(Error::BadCapacity(0)));
    assert!(StdRoot::<DistCount>::clustered(Drops::default(), 0).is_err());
}

#[test]
fn calls_need_a_processor() {
    let rt = runtime(2);
    let c = rt
        .create(StdRoot::<SharedCount>::shared(Drops::default()))
        .unwrap();
    assert_eq!(c.call(|c| c.inc()), Err(Error::NotOnProcessor));
    assert_eq!(rt.enter(7).err(), Some(Error::BadProcessor(7)));
    let me = rt.enter(1).unwrap();
    assert_eq!(rt.enter(0).err(), Some(Error::AlreadyEntered));
    c.call(|c| c.inc()).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| assert_eq!(rt.enter(1).err(), Some(Error::ProcessorTaken(1))));
    });
    drop(me);
    assert_eq!(c.call(|c| c.inc()), Err(Error::NotOnProcessor));
}

#[test]
fn per_cpu_root_makes_one_rep_per_processor_lazily() {
    let rt = runtime(4);
    let c = rt
        .create(StdRoot::<DistCount>::per_cpu(Drops::default()))
        .unwrap();
    on_each(&rt, [0, 2], |cpu| {
        for _ in 0..10 {
            c.call(|c| c.inc()).unwrap();
        }
        assert_eq!(c.call(|c| c.slot()).unwrap(), cpu);
    });
    on_each(&rt, [0], |_| assert_eq!(c.call(|c| c.reps()).unwrap(), 2));
    let mut seen = Vec::new();
    c.visit_reps(|r| seen.push(r.slot())).unwrap();
    assert_eq!(seen, [0, 2], "the Root visits the Reps it made");
    on_each(&rt, [3], |_| {
        // The first call on processor 3 took the miss path and made its Rep.
        assert_eq!(c.call(|c| c.reps()).unwrap(), 3);
        c.call(|c| c.inc()).unwrap();
        assert_eq!(c.call(|c| c.value()).unwrap(), 21);
    });
}

#[test]
fn shared_and_clustered_roots_map_processors() {
    let rt = runtime(6);
    let s = rt
        .create(StdRoot::<SharedCount>::shared(Drops::default()))
        .unwrap();
    let k = rt
        .create(StdRoot::<DistCount>::clustered(Drops::default(), 4).unwrap())
        .unwrap();
    on_each(&rt, 0..6, |cpu| {
        s.call(|c| c.inc()).unwrap();
        k.call(|c| c.inc()).unwrap();
        assert_eq!(s.call(|c| c.slot()).unwrap(), 0);
        assert_eq!(k.call(|c| c.slot()).unwrap(), cpu / 4);
    });
    on_each(&rt, [5], |_| {
        assert_eq!(s.call(|c| (c.reps(), c.value())).unwrap(), (1, 6));
        assert_eq!(k.call(|c| (c.reps(), c.value())).unwrap(), (2, 6));
    });
}

#[test]
fn destroy_fails_later_calls_and_reclaims_after_quiescence() {
    let rt = runtime(2);
    let drops = Drops::default();
    let c = rt
        .create(StdRoot::<DistCount>::per_cpu(drops.clone()))
        .unwrap();
    let id = c.id();
    on_each(&rt, [0, 1], |_| c.call(|c| c.inc()).unwrap());
    c.destroy().unwrap();
    assert_eq!(c.destroy(), Err(Error::Destroyed));
    assert_eq!(drops.get(), 0, "reclaimed before quiescence");
    on_each(&rt, [1], |_| {
        assert_eq!(c.call(|c| c.inc()), Err(Error::Destroyed))
    });
    rt.synchronize().unwrap();
    assert_eq!(drops.get(), 2, "both Reps dropped");
    // The handle still exists, so the id is not reused yet.
    let other = rt
        .create(StdRoot::<SharedCount>::shared(Drops::default()))
        .unwrap();
    assert_ne!(other.id(), id);
    assert_eq!(rt.live_objects(), 1);
    drop(c);
    // Now it may be.
    let mut ids = Vec::new();
    for _ in 0..rt.capacity() - 1 {
        ids.push(
            rt.create(StdRoot::<SharedCount>::shared(Drops::default()))
                .unwrap(),
        );
    }
    assert!(ids.iter().any(|c| c.id() == id));
    assert_eq!(
        rt.create(StdRoot::<SharedCount>::shared(Drops::default()))
            .err(),
        Some(Error::TableFull)
    );
}

#[test]
fn last_handle_destroys() {
    let rt = runtime(2);
    let drops = Drops::default();
    let c = rt
        .create(StdRoot::<SharedCount>::shared(drops.clone()))
        .unwrap();
    let weak = c.downgrade();
    on_each(&rt, [0], |_| c.clone().call(|c| c.inc()).unwrap());
    assert!(weak.upgrade(&rt).is_ok());
    drop(c);
    assert_eq!(weak.upgrade(&rt).err(), Some(Error::Destroyed));
    rt.synchronize().unwrap();
    assert_eq!(drops.get(), 1);
    assert_eq!(rt.live_objects(), 0);
    let rt2 = runtime(1);
    assert_eq!(weak.upgrade(&rt2).err(), Some(Error::WrongRuntime));
}

#[test]
fn object_used_on_one_processor_is_reclaimed_locally() {
    let rt = runtime(2);
    let drops = Drops::default();
    // Processor 1 is online but never reaches a quiescent point: a global
    // marker cannot elapse, a local one can.
    let (hold, release) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let rt = &rt;
        s.spawn(move || {
            let _me = rt.enter(1).unwrap();
            ready_tx.send(()).unwrap();
            release.recv().unwrap();
        });
        ready.recv().unwrap();
        let me = rt.enter(0).unwrap();
        let c = rt
            .create(StdRoot::<DistCount>::per_cpu(drops.clone()))
            .unwrap();
        c.call(|c| c.inc()).unwrap();
        c.destroy().unwrap();
        for _ in 0..3 {
            me.quiescent();
        }
        assert_eq!(drops.get(), 1, "local fast path reclaimed the Rep");
        // A global one waits for processor 1.
        let g = rt
            .create(StdRoot::<SharedCount>::shared(drops.clone()))
            .unwrap();
        g.call(|c| c.inc()).unwrap();
        drop(me);
        g.destroy().unwrap();
        rt.quiescent();
        assert_eq!(drops.get(), 1, "global marker elapsed without processor 1");
        hold.send(()).unwrap();
    });
    rt.synchronize().unwrap();
    assert_eq!(drops.get(), 2);
}

#[test]
fn quiescent_inside_a_call_does_not_reclaim_that_call() {
    let rt = runtime(1);
    let drops = Drops::default();
    let me = rt.enter(0).unwrap();
    let c = rt
        .create(StdRoot::<SharedCount>::shared(drops.clone()))
        .unwrap();
    c.call(|ctr| {
        c.destroy().unwrap();
        for _ in 0..10 {
            me.quiescent();
        }
        assert_eq!(drops.get(), 0, "Rep freed under a running call");
        ctr.inc();
    })
    .unwrap();
    me.quiescent();
    me.quiescent();
    assert_eq!(drops.get(), 1);
    assert_eq!(rt.synchronize(), Ok(()));
    c.call(|_| {
        assert_eq!(rt.synchronize(), Err(Error::InCall));
    })
    .unwrap_err();
}

#[test]
fn switch_transfers_state_between_shapes() {
    let rt = runtime(4);
    let drops = Drops::default();
    let c = rt
        .create(StdRoot::<SharedCount>::shared(drops.clone()))
        .unwrap();
    on_each(&rt, 0..4, |_| c.call(|c| c.inc()).unwrap());
    let old = c
        .switch(StdRoot::<DistCount>::per_cpu(drops.clone()))
        .unwrap();
    drop(old);
    assert_eq!(drops.get(), 1, "the old shared Rep");
    on_each(&rt, 0..4, |cpu| {
        c.call(|c| c.inc()).unwrap();
        assert_eq!(c.call(|c| c.slot()).unwrap(), cpu);
    });
    on_each(&rt, [2], |_| assert_eq!(c.call(|c| c.value()).unwrap(), 8));
    c.switch(StdRoot::<DistCount>::clustered(drops.clone(), 2).unwrap())
        .unwrap();
    c.switch(StdRoot::<SharedCount>::shared(drops.clone()))
        .unwrap();
    on_each(&rt, [3], |_| {
        assert_eq!(c.call(|c| (c.reps(), c.value())).unwrap(), (1, 8))
    });
}

#[test]
fn switch_errors_keep_the_old_object() {
    let rt = runtime(2);
    let c = rt
        .create(StdRoot::<SharedCount>::shared(Drops::default()))
        .unwrap();
    on_each(&rt, [0], |_| c.call(|c| c.inc()).unwrap());
    let err = c.switch(StdRoot::<Mute>::shared(())).unwrap_err();
    assert_eq!(err.error, Error::NoCommonFormat);
    let err = c.switch(StdRoot::<Picky>::shared(())).unwrap_err();
    assert!(matches!(err.error, Error::Transfer(_)), "{err}");
    on_each(&rt, [1], |_| {
        c.call(|c| c.inc()).unwrap();
        assert_eq!(c.call(|c| c.value()).unwrap(), 2);
        let e = c.call(|_| {
            c.switch(StdRoot::<SharedCount>::shared(Drops::default()))
                .unwrap_err()
                .error
        });
        assert_eq!(e, Ok(Error::InCall));
    });
    c.destroy().unwrap();
    let err = c
        .switch(StdRoot::<SharedCount>::shared(Drops::default()))
        .unwrap_err();
    assert_eq!(err.error, Error::Destroyed);
}

#[test]
fn monitor_counts_calls_and_unwraps() {
    let rt = runtime(2);
    let c = rt
        .create(StdRoot::<DistCount>::per_cpu(Drops::default()))
        .unwrap();
    on_each(&rt, [0], |_| c.call(|c| c.inc()).unwrap());
    let stats = c.monitor().unwrap();
    assert_eq!(c.monitor().err(), Some(Error::Monitor));
    on_each(&rt, [0, 1], |_| {
        for _ in 0..5 {
            c.call(|c| c.inc()).unwrap();
        }
    });
    assert_eq!(stats.calls(), 10);
    c.unmonitor().unwrap();
    assert_eq!(c.unmonitor(), Err(Error::Monitor));
    on_each(&rt, [1], |_| {
        c.call(|c| c.inc()).unwrap();
        assert_eq!(c.call(|c| c.value()).unwrap(), 12);
    });
    assert_eq!(stats.calls(), 10, "unwrapped calls are not counted");
}

struct V(u32);

impl cobj::Version<dyn Counter> for V {
    fn number(&self) -> u32 {
        self.0
    }
    fn make_root(&self) -> Box<dyn cobj::Root<dyn Counter>> {
        if self.0 % 2 == 1 {
            Box::new(StdRoot::<SharedCount>::shared(Drops::default()))
        } else {
            Box::new(StdRoot::<DistCount>::per_cpu(Drops::default()))
        }
    }
}

#[test]
fn upgrade_swaps_every_live_instance() {
    let rt = runtime(3);
    let factory = cobj::Factory::new(&rt, V(1)).unwrap();
    let mut objs = Vec::new();
    on_each(&rt, 0..3, |_| {
        // Instances created (and registered) on each processor, then dropped.
        for _ in 0..2 {
            let o = factory.create().unwrap();
            o.call(|c| c.inc()).unwrap();
            assert_eq!(o.call(|c| c.reps()).unwrap(), 1);
        }
    });
    // Every instance above was dropped (destroyed); make live ones.
    let me = rt.enter(0).unwrap();
    for _ in 0..5 {
        objs.push(factory.create().unwrap());
    }
    objs.pop().unwrap().destroy().unwrap();
    assert_eq!(factory.live().unwrap(), 4);
    let report = factory.upgrade(V(2)).unwrap();
    assert_eq!((report.version, report.swapped, report.failed), (2, 4, 0));
    assert_eq!(factory.version().unwrap(), 2);
    drop(me);
    on_each(&rt, 0..3, |_| {
        for o in &objs[..4] {
            o.call(|c| c.inc()).unwrap();
        }
    });
    on_each(&rt, [0], |_| {
        for o in &objs[..4] {
            assert_eq!(
                o.call(|c| (c.reps(), c.value())).unwrap(),
                (3, 3),
                "now per-processor"
            );
        }
    });
    let _me = rt.enter(1).unwrap();
    assert_eq!(factory.upgrade(V(3)).unwrap().swapped, 4);
    assert_eq!(
        factory.create().unwrap().call(|c| c.reps()).unwrap(),
        1,
        "version 3 is shared"
    );
}

#[test]
fn parallel_transfer_workers_run_on_every_processor() {
    let rt = Runtime::new(
        Hosted::new(4).unwrap().parallel_transfer(true),
        Config { max_objects: 8 },
    )
    .unwrap();
    let drops = Drops::default();
    let c = rt
        .create(StdRoot::<DistCount>::per_cpu(drops.clone()))
        .unwrap();
    on_each(&rt, 0..4, |cpu| {
        for _ in 0..=cpu {
            c.call(|c| c.inc()).unwrap();
        }
    });
    c.switch(StdRoot::<DistCount>::clustered(drops.clone(), 2).unwrap())
        .unwrap();
    c.switch(StdRoot::<SharedCount>::shared(drops.clone()))
        .unwrap();
    on_each(&rt, [1], |_| {
        assert_eq!(c.call(|c| (c.reps(), c.value())).unwrap(), (1, 10))
    });
}

#[test]
fn hosted_run_on_runs_for_the_named_processor_without_an_identity() {
    use cobj::Platform;
    let h = Hosted::new(3).unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    h.run_on(2, &|cpu| {
        // A transfer worker has no processor identity of its own.
        seen.lock().unwrap().push((cpu, h.current_cpu()));
    });
    h.run_on_all(&|cpu| seen.lock().unwrap().push((cpu, h.current_cpu())));
    let mut seen = seen.into_inner().unwrap();
    seen.sort();
    assert_eq!(seen, [(0, None), (1, None), (2, None), (2, None)]);
    assert!(!h.cores().is_empty());
    let t0 = h.now();
    std::thread::sleep(std::time::Duration::from_millis(2));
    assert!(h.now() > t0);
}

#[test]
fn an_id_is_reused_only_after_quiescence() {
    let rt = runtime(2);
    // Processor 1 stays online without quiescent points until released.
    let (hold, release) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let rt = &rt;
        s.spawn(move || {
            let _me = rt.enter(1).unwrap();
            ready_tx.send(()).unwrap();
            release.recv().unwrap();
        });
        ready.recv().unwrap();
        let c = rt
            .create(StdRoot::<SharedCount>::shared(Drops::default()))
            .unwrap();
        let id = c.id();
        drop(c); // the last handle: destroyed, reclaimed after quiescence
        let mut others = Vec::new();
        while let Ok(o) = rt.create(StdRoot::<SharedCount>::shared(Drops::default())) {
            assert_ne!(o.id(), id, "id reused before quiescence");
            others.push(o);
        }
        assert_eq!(others.len(), rt.capacity() - 1);
        rt.quiescent();
        assert_eq!(
            rt.create(StdRoot::<SharedCount>::shared(Drops::default()))
                .err(),
            Some(Error::TableFull),
            "processor 1 has not passed a quiescent point"
        );
        hold.send(()).unwrap();
    });
    rt.synchronize().unwrap();
    let again = rt.create(StdRoot::<SharedCount>::shared(Drops::default()));
    // `others` were dropped at the end of the scope and reclaimed too, so
    // any id may come back; the point is that one is available now.
    assert!(again.is_ok());
}

/// Imports the total format by panicking.
struct Panicky;

impl cobj::RepType for Panicky {
    type Interface = dyn Counter;
    type Shared = ();
    fn new(_: &(), _: usize) -> Self {
        Panicky
    }
    fn interface(l: &cobj::Local<Self>) -> &Self::Interface {
        l
    }
    const IMPORTS: &'static [cobj::Format] = &[TOTAL];
    fn import(
        _: &cobj::Local<Self>,
        _: cobj::Format,
        _: cobj::Transfer,
    ) -> Result<(), cobj::TransferError> {
        panic!("import failed hard");
    }
}

impl Counter for cobj::Local<Panicky> {
    fn inc(&self) {}
    fn value(&self) -> u64 {
        0
    }
    fn slot(&self) -> usize {
        0
    }
    fn reps(&self) -> usize {
        0
    }
}

#[test]
fn a_panicking_transfer_leaves_the_old_object_in_place() {
    let rt = runtime(2);
    let c = rt
        .create(StdRoot::<SharedCount>::shared(Drops::default()))
        .unwrap();
    on_each(&rt, [0], |_| c.call(|c| c.inc()).unwrap());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = c.switch(StdRoot::<Panicky>::shared(()));
    }));
    assert!(r.is_err());
    on_each(&rt, [1], |_| {
        c.call(|c| c.inc()).unwrap();
        assert_eq!(c.call(|c| c.value()).unwrap(), 2);
    });
    c.switch(StdRoot::<DistCount>::per_cpu(Drops::default()))
        .unwrap();
}

/// The interrupt-safe hook passes the token but runs no destructor; the
/// reclamation call afterwards does.
#[test]
fn announce_defers_destructors_to_reclaim_elapsed() {
    let rt = runtime(1);
    let drops = Drops::default();
    let c = rt
        .create(StdRoot::<SharedCount>::shared(drops.clone()))
        .unwrap();
    on_each(&rt, [0], |_| c.call(|c| c.inc()).unwrap());
    c.destroy().unwrap();
    drop(c);
    let cpu = rt.enter(0).unwrap();
    for _ in 0..16 {
        rt.quiescent_announce();
    }
    assert_eq!(drops.get(), 0, "no destructor from the interrupt-safe hook");
    rt.reclaim_elapsed();
    assert_eq!(drops.get(), 1, "the grace period passed: reclaimed");
    drop(cpu);
    assert_eq!(rt.live_objects(), 0);
}

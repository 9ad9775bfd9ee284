//! Hosted stress test: virtual processors hammer a counter while it is
//! hot-swapped back and forth (1,000 swaps by default) between the shared,
//! per-processor and clustered implementations, and destroyed and recreated
//! under load. Every increment that returned `Ok` must be counted exactly
//! once: each Rep adds its count to a tally when it is dropped, unless its
//! state was exported to a successor.
//!
//! `COBJ_STRESS_SWAPS` and `COBJ_STRESS_THREADS` make the run larger.

use cobj::hosted::Hosted;
use cobj::{Config, Error, Format, Local, RepType, Runtime, StdRoot, Transfer, TransferError};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

trait Counter: Send + Sync {
    fn inc(&self);
}

const TOTAL: Format = Format("tally-total");

struct Tally {
    n: AtomicU64,
    exported: AtomicBool,
    sink: Arc<AtomicU64>,
}

impl Drop for Tally {
    fn drop(&mut self) {
        if !self.exported.load(Ordering::SeqCst) {
            self.sink
                .fetch_add(self.n.load(Ordering::SeqCst), Ordering::SeqCst);
        }
    }
}

impl RepType for Tally {
    type Interface = dyn Counter;
    type Shared = Arc<AtomicU64>;
    fn new(sink: &Arc<AtomicU64>, _: usize) -> Self {
        Tally {
            n: AtomicU64::new(0),
            exported: AtomicBool::new(false),
            sink: sink.clone(),
        }
    }
    fn interface(l: &Local<Self>) -> &Self::Interface {
        l
    }
    const EXPORTS: &'static [Format] = &[TOTAL];
    const IMPORTS: &'static [Format] = &[TOTAL];
    fn export(l: &Local<Self>, _: Format) -> Option<Transfer> {
        l.exported.store(true, Ordering::SeqCst);
        Some(Box::new(l.n.load(Ordering::SeqCst)))
    }
    fn import(l: &Local<Self>, f: Format, s: Transfer) -> Result<(), TransferError> {
        let v = s
            .downcast::<u64>()
            .map_err(|_| TransferError::BadPayload(f))?;
        l.n.fetch_add(*v, Ordering::SeqCst);
        Ok(())
    }
}

impl Counter for Local<Tally> {
    fn inc(&self) {
        self.n.fetch_add(1, Ordering::Relaxed);
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn root(i: usize, sink: &Arc<AtomicU64>) -> StdRoot<Tally> {
    match i % 3 {
        0 => StdRoot::shared(sink.clone()),
        1 => StdRoot::per_cpu(sink.clone()),
        _ => StdRoot::clustered(sink.clone(), 2).unwrap(),
    }
}

#[test]
fn hammer_swap_destroy_recreate() {
    let threads = env("COBJ_STRESS_THREADS", 4);
    let swaps = env("COBJ_STRESS_SWAPS", 1000);
    let rounds = 5;
    let rt = Runtime::new(
        Hosted::new(threads + 1).unwrap(),
        Config { max_objects: 64 },
    )
    .unwrap();
    let sink = Arc::new(AtomicU64::new(0));
    let counted = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let current: Mutex<Option<cobj::CoRef<dyn Counter, Hosted>>> = Mutex::new(None);
    let generation = AtomicUsize::new(0);

    std::thread::scope(|s| {
        for cpu in 0..threads {
            let (rt, counted, done, current, generation) =
                (&rt, &counted, &done, &current, &generation);
            s.spawn(move || {
                let me = rt.enter(cpu).unwrap();
                let mut mine = 0u64;
                let mut i = 0u64;
                while !done.load(Ordering::SeqCst) {
                    let Some(obj) = current.lock().unwrap().clone() else {
                        me.quiescent();
                        std::thread::yield_now();
                        continue;
                    };
                    let seen = generation.load(Ordering::SeqCst);
                    loop {
                        i += 1;
                        let r = if i.is_multiple_of(7) {
                            // A recursive call into the same object.
                            obj.call(|c| {
                                c.inc();
                                1 + u64::from(obj.call(|c| c.inc()).is_ok())
                            })
                        } else {
                            obj.call(|c| c.inc()).map(|_| 1)
                        };
                        match r {
                            Ok(n) => mine += n,
                            Err(Error::Destroyed) => break,
                            Err(e) => panic!("unexpected {e}"),
                        }
                        if i.is_multiple_of(16) {
                            me.quiescent();
                            if i.is_multiple_of(256) {
                                // More virtual processors than cores: let the
                                // others reach their quiescent points too.
                                std::thread::yield_now();
                            }
                            if generation.load(Ordering::SeqCst) != seen
                                || done.load(Ordering::SeqCst)
                            {
                                break;
                            }
                        }
                    }
                    drop(obj);
                    me.quiescent();
                }
                counted.fetch_add(mine, Ordering::SeqCst);
            });
        }

        // The controller runs as the last virtual processor.
        let me = rt.enter(threads).unwrap();
        let mut swapped = 0;
        for round in 0..rounds {
            let obj = rt.create(root(round, &sink)).unwrap();
            *current.lock().unwrap() = Some(obj.clone());
            generation.fetch_add(1, Ordering::SeqCst);
            let target = swaps * (round + 1) / rounds;
            while swapped < target {
                swapped += 1;
                obj.switch(root(round + swapped, &sink)).unwrap();
                me.quiescent();
            }
            // Destroy while the workers are still calling it.
            obj.destroy().unwrap();
            *current.lock().unwrap() = None;
        }
        done.store(true, Ordering::SeqCst);
        assert_eq!(swapped, swaps);
        drop(me);
    });
    rt.synchronize().unwrap();
    assert_eq!(rt.pending(), 0);
    assert_eq!(rt.live_objects(), 0);
    let counted = counted.load(Ordering::SeqCst);
    eprintln!("counted {counted}");
    assert!(counted > 0, "the workers made no call");
    assert_eq!(
        sink.load(Ordering::SeqCst),
        counted,
        "an increment was lost or counted twice"
    );
}

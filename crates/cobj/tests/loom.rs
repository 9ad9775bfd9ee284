//! Loom models of the miss path, reclamation and a hot swap racing with
//! calls (all of its phases), with two or three threads. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p cobj --test loom --release`.
#![cfg(loom)]

use cobj::{
    Config, CpuId, Format, Local, Platform, RepType, Runtime, StdRoot, Transfer, TransferError,
};
use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use loom::sync::Arc;
use std::cell::Cell;

loom::thread_local! {
    static CPU: Cell<usize> = Cell::new(usize::MAX);
}

/// Loom threads as processors: a thread-local processor id.
struct LoomPlatform(usize);

// SAFETY: each model thread takes a distinct processor id.
unsafe impl Platform for LoomPlatform {
    fn cpu_count(&self) -> usize {
        self.0
    }
    fn current_cpu(&self) -> Option<CpuId> {
        let c = CPU.with(|c| c.get());
        (c != usize::MAX).then_some(c)
    }
    fn run_on(&self, cpu: CpuId, f: &(dyn Fn(CpuId) + Sync)) {
        f(cpu)
    }
    fn relax(&self) {
        loom::thread::yield_now();
    }
}

type Rt = Runtime<LoomPlatform>;

fn runtime(ncpus: usize) -> Arc<Rt> {
    Arc::new(Runtime::new(LoomPlatform(ncpus), Config { max_objects: 2 }).unwrap())
}

/// Runs `f` as processor `cpu`, online for the duration.
fn as_cpu<R>(rt: &Rt, cpu: usize, f: impl FnOnce() -> R) -> R {
    CPU.with(|c| c.set(cpu));
    rt.cpu_online(cpu).unwrap();
    let r = f();
    // SAFETY: this thread makes no more calls as `cpu`.
    unsafe { rt.cpu_offline(cpu).unwrap() };
    CPU.with(|c| c.set(usize::MAX));
    r
}

trait Counter: Send + Sync {
    fn inc(&self);
    fn value(&self) -> u64;
    fn reps(&self) -> usize;
    /// Fails the model if this Rep has been dropped.
    fn check_alive(&self);
}

const TOTAL: Format = Format("total");

struct Count {
    n: AtomicU64,
    dropped: Arc<AtomicBool>,
}

impl Drop for Count {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

impl RepType for Count {
    type Interface = dyn Counter;
    type Shared = Arc<AtomicBool>;
    fn new(dropped: &Arc<AtomicBool>, _: usize) -> Self {
        Count {
            n: AtomicU64::new(0),
            dropped: dropped.clone(),
        }
    }
    fn interface(l: &Local<Self>) -> &Self::Interface {
        l
    }
    const EXPORTS: &'static [Format] = &[TOTAL];
    const IMPORTS: &'static [Format] = &[TOTAL];
    fn export(l: &Local<Self>, _: Format) -> Option<Transfer> {
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

impl Counter for Local<Count> {
    fn inc(&self) {
        self.n.fetch_add(1, Ordering::SeqCst);
    }
    fn value(&self) -> u64 {
        self.reps().map(|r| r.n.load(Ordering::SeqCst)).sum()
    }
    fn reps(&self) -> usize {
        Local::reps(self).count()
    }
    fn check_alive(&self) {
        assert!(
            !self.dropped.load(Ordering::SeqCst),
            "Rep dropped under a running call"
        );
    }
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

/// Two processors take the miss path at once: each installs its own Rep
/// (per-processor Root), or both find the one Rep (shared Root).
#[test]
fn miss_path() {
    for per_cpu in [true, false] {
        model(move || {
            let rt = runtime(2);
            let flag = Arc::new(AtomicBool::new(false));
            let root = if per_cpu {
                StdRoot::<Count>::per_cpu(flag)
            } else {
                StdRoot::<Count>::shared(flag)
            };
            let obj = rt.create(root).unwrap();
            let weak = obj.downgrade();
            let t = {
                let (rt, weak) = (rt.clone(), weak.clone());
                loom::thread::spawn(move || {
                    let obj = weak.upgrade(&*rt).unwrap();
                    as_cpu(&rt, 1, || obj.call(|c| c.inc()).unwrap());
                })
            };
            as_cpu(&rt, 0, || obj.call(|c| c.inc()).unwrap());
            t.join().unwrap();
            let (v, reps) = as_cpu(&rt, 0, || obj.call(|c| (c.value(), c.reps())).unwrap());
            assert_eq!(v, 2);
            assert_eq!(reps, if per_cpu { 2 } else { 1 });
        });
    }
}

/// A processor destroys an object while another is inside a call on it:
/// the Rep is dropped only after that call, and is dropped in the end.
#[test]
fn reclamation() {
    model(|| {
        let rt = runtime(2);
        let dropped = Arc::new(AtomicBool::new(false));
        let obj = rt
            .create(StdRoot::<Count>::shared(dropped.clone()))
            .unwrap();
        // Make the (lazily created) Rep exist.
        as_cpu(&rt, 1, || obj.call(|c| c.inc()).unwrap());
        let weak = obj.downgrade();
        let caller = {
            let (rt, weak) = (rt.clone(), weak.clone());
            loom::thread::spawn(move || {
                // The destroyer may win the race to the handle, too.
                let Ok(obj) = weak.upgrade(&*rt) else { return };
                as_cpu(&rt, 0, || {
                    let _ = obj.call(|c| {
                        c.inc();
                        // Quiescent points inside a call are allowed and
                        // must not let the Rep go.
                        rt.quiescent();
                        rt.quiescent();
                        c.check_alive();
                    });
                    rt.quiescent();
                });
            })
        };
        as_cpu(&rt, 1, || {
            obj.destroy().unwrap();
            rt.quiescent();
            rt.quiescent();
            rt.quiescent();
        });
        caller.join().unwrap();
        drop(obj);
        rt.synchronize().unwrap();
        assert!(dropped.load(Ordering::SeqCst));
        assert_eq!(rt.pending(), 0);
    });
}

/// A hot swap races with calls (one of them recursive): every call runs
/// exactly once, on the old or the new implementation, and none deadlocks,
/// whichever phase (FORWARD, BLOCK, transfer, COMPLETED) it meets.
#[test]
fn swap_phases() {
    for recursive in [false, true] {
        model(move || {
            let rt = runtime(2);
            let flag = Arc::new(AtomicBool::new(false));
            let obj = rt.create(StdRoot::<Count>::shared(flag.clone())).unwrap();
            let weak = obj.downgrade();
            let caller = {
                let (rt, weak) = (rt.clone(), weak.clone());
                loom::thread::spawn(move || {
                    let obj = weak.upgrade(&*rt).unwrap();
                    as_cpu(&rt, 0, || {
                        if recursive {
                            obj.call(|c| {
                                c.inc();
                                obj.call(|c| c.inc()).unwrap();
                            })
                            .unwrap();
                        } else {
                            obj.call(|c| c.inc()).unwrap();
                            // Enough quiescent points for the swap to get
                            // past FORWARD before the second call.
                            for _ in 0..3 {
                                rt.quiescent();
                                loom::thread::yield_now();
                            }
                            obj.call(|c| c.inc()).unwrap();
                        }
                    });
                })
            };
            as_cpu(&rt, 1, || {
                obj.switch(StdRoot::<Count>::per_cpu(flag.clone())).unwrap();
            });
            caller.join().unwrap();
            let v = as_cpu(&rt, 1, || obj.call(|c| c.value()).unwrap());
            assert_eq!(v, 2);
        });
    }
}

/// One call racing with a swap, from a processor that comes online during
/// it: the call may meet any phase, including BLOCK after the state was
/// exported, and must still be counted exactly once.
#[test]
fn single_call_during_swap() {
    model(|| {
        let rt = runtime(2);
        let flag = Arc::new(AtomicBool::new(false));
        let obj = rt.create(StdRoot::<Count>::shared(flag.clone())).unwrap();
        let weak = obj.downgrade();
        let caller = {
            let (rt, weak) = (rt.clone(), weak.clone());
            loom::thread::spawn(move || {
                let obj = weak.upgrade(&*rt).unwrap();
                as_cpu(&rt, 0, || obj.call(|c| c.inc()).unwrap());
            })
        };
        as_cpu(&rt, 1, || {
            obj.switch(StdRoot::<Count>::per_cpu(flag.clone())).unwrap();
        });
        caller.join().unwrap();
        let v = as_cpu(&rt, 1, || obj.call(|c| c.value()).unwrap());
        assert_eq!(v, 1);
    });
}

/// The BLOCK race in isolation: a call asks to be forwarded to the old
/// object while the swapper moves to BLOCK, drains the forwarded calls and
/// exports the old state. A call that was admitted must have finished
/// before the export; one that was not must not touch the old object. A
/// second, nested call on the same processor is admitted during BLOCK
/// (recursion must not wait for itself).
#[test]
fn block_admission() {
    use cobj::swap::model::Mediator;
    model(|| {
        let m = Arc::new(Mediator::default());
        let old = Arc::new(AtomicU64::new(0));
        let caller = {
            let (m, old) = (m.clone(), old.clone());
            loom::thread::spawn(move || {
                if let Some(outer) = m.enter_forward(0) {
                    old.fetch_add(1, Ordering::SeqCst);
                    // A nested call while the outer one is in flight.
                    let inner = m.enter_forward(0);
                    assert!(inner.is_some(), "a nested call was blocked");
                    old.fetch_add(1, Ordering::SeqCst);
                    drop(inner);
                    drop(outer);
                    true
                } else {
                    false
                }
            })
        };
        m.block();
        while m.in_flight() != 0 {
            loom::thread::yield_now();
        }
        let exported = old.load(Ordering::SeqCst);
        let admitted = caller.join().unwrap();
        assert_eq!(
            exported,
            if admitted { 2 } else { 0 },
            "a forwarded call ran after the export"
        );
        assert_eq!(old.load(Ordering::SeqCst), exported);
    });
}

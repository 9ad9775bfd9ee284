//! The kernel's clustered-object runtime: `cobj` wired to this machine.
//!
//! [`KernelPlatform`] implements `cobj::Platform` on the per-processor data
//! (the processor id is one `gs`-relative load) and on cross-processor
//! calls (`run_on` is "IPI and wait"). One [`Runtime`] serves the kernel;
//! it is built once every processor is up ([`init`]), and each processor's
//! timer tick and idle loop call its quiescent-state hook ([`quiescent`]),
//! as K42's kernel did, which drives generation-based reclamation.
//!
//! Kernel code calls clustered objects with interrupts on or off, but is
//! never preempted inside a call (there is no kernel preemption), which is
//! what `cobj::Platform` requires. Busy waits inside the runtime (a caller
//! blocked during a swap) serve this processor's IPI mailbox, so a swap's
//! per-processor transfer can reach a processor whose caller is blocked.

use crate::arch::{cpu, percpu};
use cobj::{Config, CpuId, Platform, Runtime};
use spin::Once;

/// `cobj::Platform` for the kernel.
pub struct KernelPlatform {
    cpus: usize,
}

// SAFETY: `current_cpu` is this processor's id from its GS-based record;
// kernel code on processor k runs only on k and is not preempted, so calls
// for the same k never run truly concurrently, only nested (interrupts and
// IPI handlers run to completion on top of what they interrupt).
unsafe impl Platform for KernelPlatform {
    fn cpu_count(&self) -> usize {
        self.cpus
    }

    #[inline]
    fn current_cpu(&self) -> Option<CpuId> {
        Some(percpu::current_id())
    }

    fn run_on(&self, cpu: CpuId, f: &(dyn Fn(CpuId) + Sync)) {
        crate::ipi::run_on(cpu, &|| f(cpu));
    }

    fn run_on_all(&self, f: &(dyn Fn(CpuId) + Sync)) {
        crate::ipi::run_on_all(&|| f(percpu::current_id()));
    }

    fn relax(&self) {
        crate::ipi::handle_ipi();
        cpu::spin_hint();
    }

    fn now(&self) -> u64 {
        cpu::rdtsc()
    }

    fn on_miss(&self, id: usize, cpu: CpuId) {
        MISSES.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        ktrace::events::cobj::miss(&crate::trace::TRACER, id as u64, cpu as u64);
    }
}

static RUNTIME: Once<Runtime<KernelPlatform>> = Once::new();

/// Misses taken since boot (each also a `cobj.miss` trace event).
pub static MISSES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Object ids: every user process uses a dozen or more (Process, PM,
/// Regions, FCMs, FRs), and a program that maps and unmaps in a loop
/// creates objects faster than a tick-paced grace period returns them.
/// Costs 8 bytes per id per processor plus 24 bytes per id.
pub const MAX_OBJECTS: usize = 32 * 1024;

/// Builds the runtime for the processors online now and marks them online.
pub fn init() {
    let cpus = percpu::online();
    let rt = RUNTIME.call_once(|| {
        Runtime::new(
            KernelPlatform { cpus },
            Config {
                max_objects: MAX_OBJECTS,
            },
        )
        .unwrap_or_else(|e| panic!("clustered-object runtime: {e}"))
    });
    for k in 0..cpus {
        rt.cpu_online(k).expect("processor ids are dense");
    }
    log::info!(
        "clustered objects: runtime for {cpus} processors, {} object ids",
        rt.capacity()
    );
}

/// The kernel's runtime.
pub fn runtime() -> &'static Runtime<KernelPlatform> {
    RUNTIME.get().expect("clustered objects used before init")
}

/// Hot-swaps `c` to `root` between `cobj.swap_begin` and `cobj.swap_end`
/// trace events (`to` names the new implementation in the trace).
pub fn switch<I: ?Sized + 'static>(
    c: &cobj::CoRef<'_, I, KernelPlatform>,
    root: impl cobj::Root<I>,
    to: &str,
) -> Result<(), cobj::SwitchError<I>> {
    let id = c.id() as u64;
    ktrace::events::cobj::swap_begin(&crate::trace::TRACER, id, to);
    let r = c.switch(root).map(drop);
    ktrace::events::cobj::swap_end(&crate::trace::TRACER, id);
    r
}

/// The quiescent-state hook, with reclamation (deferred destructors run
/// here): from the idle loop and the dispatcher run loops, never from an
/// interrupt handler.
#[inline]
pub fn quiescent() {
    if let Some(rt) = RUNTIME.get() {
        rt.quiescent();
    }
}

/// The timer tick's part: generations and the token only. Destructors of
/// reclaimed objects must not run in an interrupt handler (they take
/// locks the interrupted code may hold: a fuzz test deadlocked on the
/// object-id allocator that way).
#[inline]
pub fn quiescent_from_interrupt() {
    if let Some(rt) = RUNTIME.get() {
        rt.quiescent_announce();
    }
}

/// The paper's counter, two ways, for tests and benchmarks.
pub mod counter {
    use cobj::{Format, Local, RepType, Transfer, TransferError};
    use core::sync::atomic::{AtomicU64, Ordering};

    /// A counter: `inc` often, `value` now and then.
    pub trait Counter: Send + Sync {
        /// Adds one.
        fn inc(&self);
        /// The total.
        fn value(&self) -> u64;
    }

    const TOTAL: Format = Format("counter-total");

    /// One shared count: `value` is one load, `inc` bounces a cache line.
    pub struct Shared(AtomicU64);
    /// A count per processor: `inc` is local, `value` sums the Reps.
    pub struct Distributed(AtomicU64);

    macro_rules! counter_rep {
        ($ty:ident, $value:expr) => {
            impl RepType for $ty {
                type Interface = dyn Counter;
                type Shared = ();
                fn new(_: &(), _: usize) -> Self {
                    $ty(AtomicU64::new(0))
                }
                fn interface(l: &Local<Self>) -> &Self::Interface {
                    l
                }
                const EXPORTS: &'static [Format] = &[TOTAL];
                const IMPORTS: &'static [Format] = &[TOTAL];
                fn export(l: &Local<Self>, _: Format) -> Option<Transfer> {
                    Some(alloc::boxed::Box::new(l.0.load(Ordering::Relaxed)))
                }
                fn import(l: &Local<Self>, f: Format, s: Transfer) -> Result<(), TransferError> {
                    let n = s
                        .downcast::<u64>()
                        .map_err(|_| TransferError::BadPayload(f))?;
                    l.0.fetch_add(*n, Ordering::Relaxed);
                    Ok(())
                }
            }
            impl Counter for Local<$ty> {
                fn inc(&self) {
                    self.0.fetch_add(1, Ordering::Relaxed);
                }
                fn value(&self) -> u64 {
                    let f: fn(&Local<$ty>) -> u64 = $value;
                    f(self)
                }
            }
        };
    }

    counter_rep!(Shared, |l| l.0.load(Ordering::Relaxed));
    counter_rep!(Distributed, |l| l
        .reps()
        .map(|r| r.0.load(Ordering::Relaxed))
        .sum());
}

ktest::ktest! {
    /// A per-processor counter gets one Rep per processor, created on the
    /// first call there (the miss path), and `value` visits them all.
    fn cobj_per_processor_reps_are_created_lazily() {
        use counter::*;
        let rt = runtime();
        let c = rt.create(cobj::StdRoot::<Distributed>::per_cpu(())).unwrap();
        let n = percpu::online();
        let misses = MISSES.load(core::sync::atomic::Ordering::SeqCst);
        crate::ipi::run_on_all(&|| {
            for _ in 0..=percpu::current_id() {
                c.call(|c| c.inc()).unwrap();
            }
        });
        // Processor k added k + 1.
        assert_eq!(c.call(|c| c.value()).unwrap(), (n * (n + 1) / 2) as u64);
        let mut reps = 0;
        c.visit_reps(|_| reps += 1).unwrap();
        assert_eq!(reps, n, "one Rep per processor that called");
        assert_eq!(
            MISSES.load(core::sync::atomic::Ordering::SeqCst) - misses,
            n as u64,
            "one miss per processor, then the local table answers"
        );
        c.destroy().unwrap();
    }

    /// Every processor hammers a counter while the boot processor swaps it
    /// between the shared and the distributed implementation, then
    /// destroys and recreates it; no increment is lost or counted twice.
    fn cobj_counter_survives_swaps_and_destroy_under_load() {
        use core::sync::atomic::{AtomicU64, Ordering};
        use counter::*;
        let rt = runtime();
        const PER_CPU: u64 = 2_000;
        const SWAPS: usize = 40;
        for round in 0..2 {
            let c = rt.create(cobj::StdRoot::<Shared>::shared(())).unwrap();
            let done = AtomicU64::new(0);
            crate::ipi::run_concurrently(
                &|| {
                    for _ in 0..PER_CPU {
                        c.call(|c| c.inc()).unwrap();
                        quiescent();
                        crate::ipi::handle_ipi();
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                },
                || {
                    let mut swaps = 0;
                    while swaps < SWAPS || done.load(Ordering::SeqCst) + 1 < percpu::online() as u64 {
                        if swaps % 2 == 0 {
                            switch(&c, cobj::StdRoot::<Distributed>::per_cpu(()), "distributed").map_err(|e| e.error).unwrap();
                        } else {
                            switch(&c, cobj::StdRoot::<Shared>::shared(()), "shared").map_err(|e| e.error).unwrap();
                        }
                        swaps += 1;
                    }
                    for _ in 0..PER_CPU {
                        c.call(|c| c.inc()).unwrap();
                    }
                },
            );
            let expected = PER_CPU * percpu::online() as u64;
            assert_eq!(c.call(|c| c.value()).unwrap(), expected, "round {round}");
            c.destroy().unwrap();
            assert!(c.call(|c| c.value()).is_err(), "a destroyed object refuses calls");
            rt.synchronize().unwrap();
        }
    }
}

ktest::kbench! {
    /// Counter increments at 1..N processors: a per-processor clustered
    /// counter, a shared atomic, a spin-locked integer. Cycles per
    /// increment; scaling = throughput at N over N times throughput at 1.
    fn cobj_counter_scaling() {
        use core::hint::black_box;
        use core::sync::atomic::{AtomicU64, Ordering};
        use counter::*;
        let rt = runtime();
        let c = rt.create(cobj::StdRoot::<Distributed>::per_cpu(())).unwrap();
        let shared = AtomicU64::new(0);
        let locked = spin::Mutex::new(0u64);
        const ITERS: u64 = 20_000;
        let mut base = [0u64; 3];
        for n in crate::bench::sweep() {
            let per_cpu = crate::bench::parallel(n, ITERS, &|| c.call(|c| c.inc()).unwrap());
            let atomic = crate::bench::parallel(n, ITERS, &|| {
                black_box(&shared).fetch_add(1, Ordering::Relaxed);
            });
            let mutex = crate::bench::parallel(n, ITERS, &|| *black_box(&locked).lock() += 1);
            if n == 1 {
                base = [per_cpu, atomic, mutex];
            }
            let scaling = |b: u64, x: u64| b as f64 / x.max(1) as f64;
            crate::println!(
                "kbench: cobj.counter cpus={n} cycles/op percpu={per_cpu} atomic={atomic} mutex={mutex} \
                 scaling percpu={:.2} atomic={:.2} mutex={:.2} percpu_vs_atomic={:.1}x",
                scaling(base[0], per_cpu),
                scaling(base[1], atomic),
                scaling(base[2], mutex),
                atomic as f64 / per_cpu.max(1) as f64,
            );
        }
        c.destroy().unwrap();
    }

    /// The cost of a call through a `CoRef` over a plain `&dyn` call.
    fn cobj_call_overhead() {
        use counter::*;
        let rt = runtime();
        let c = rt.create(cobj::StdRoot::<Distributed>::per_cpu(())).unwrap();
        c.call(|c| c.inc()).unwrap(); // take the miss now
        const ITERS: u64 = 50_000;
        let coref = crate::bench::parallel(1, ITERS, &|| c.call(|c| c.inc()).unwrap());
        let direct: &dyn Counter = &DirectCounter(core::sync::atomic::AtomicU64::new(0));
        let dynamic = crate::bench::parallel(1, ITERS, &|| core::hint::black_box(direct).inc());
        crate::println!(
            "kbench: cobj.call cycles/op coref={coref} dyn={dynamic} extra={}",
            coref.saturating_sub(dynamic)
        );
        c.destroy().unwrap();
    }
}

/// A plain counter behind `&dyn Counter`, the baseline of the call cost.
struct DirectCounter(core::sync::atomic::AtomicU64);

impl counter::Counter for DirectCounter {
    fn inc(&self) {
        self.0.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    }
    fn value(&self) -> u64 {
        self.0.load(core::sync::atomic::Ordering::Relaxed)
    }
}

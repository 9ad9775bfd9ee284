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
}

static RUNTIME: Once<Runtime<KernelPlatform>> = Once::new();

/// Builds the runtime for the processors online now and marks them online.
pub fn init() {
    let cpus = percpu::online();
    let rt = RUNTIME.call_once(|| {
        Runtime::new(KernelPlatform { cpus }, Config::default())
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

/// The quiescent-state hook: from the tick and the idle loop.
#[inline]
pub fn quiescent() {
    if let Some(rt) = RUNTIME.get() {
        rt.quiescent();
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
                            c.switch(cobj::StdRoot::<Distributed>::per_cpu(())).map_err(|e| e.error).unwrap();
                        } else {
                            c.switch(cobj::StdRoot::<Shared>::shared(())).map_err(|e| e.error).unwrap();
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

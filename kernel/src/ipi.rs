//! Cross-processor function calls: run a function on one or all
//! processors and wait for the reply.
//!
//! Each processor has a one-slot [`Mailbox`]. The caller posts a request
//! (a reference to the function and a done flag, on its own stack), sends
//! the call IPI and spins until the target has run it. While it spins it
//! serves its own mailbox, so two processors calling each other, even with
//! interrupts off, cannot deadlock. TLB shootdowns and, later, the
//! clustered-object swap workers use this.

use crate::arch::{apic, cpu, percpu};
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// A function to run remotely.
pub type RemoteFn<'a> = &'a (dyn Fn() + Sync);

struct Request<'a> {
    func: RemoteFn<'a>,
    done: AtomicBool,
}

/// One processor's incoming call slot.
pub struct Mailbox {
    slot: AtomicPtr<Request<'static>>,
}

impl Mailbox {
    /// An empty mailbox.
    pub const fn new() -> Self {
        Self {
            slot: AtomicPtr::new(core::ptr::null_mut()),
        }
    }
}

impl Default for Mailbox {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs the pending request of this processor's mailbox, if any.
pub fn handle_ipi() {
    let p = percpu::current()
        .ipi
        .slot
        .swap(core::ptr::null_mut(), Ordering::AcqRel);
    if p.is_null() {
        return;
    }
    // SAFETY: the poster keeps the request alive until `done` is set, and
    // we touch it no more after setting it.
    let req = unsafe { &*p };
    (req.func)();
    req.done.store(true, Ordering::Release);
}

fn post(target: &percpu::PerCpu, req: &Request<'_>) {
    let p = req as *const Request<'_> as *mut Request<'static>;
    while target
        .ipi
        .slot
        .compare_exchange(
            core::ptr::null_mut(),
            p,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_err()
    {
        handle_ipi();
        cpu::spin_hint();
    }
    ktrace::events::interrupt::ipi_send(
        &crate::trace::TRACER,
        target.id() as u32,
        apic::IPI_CALL_VECTOR,
    );
    apic::send_ipi(target.apic_id, apic::IPI_CALL_VECTOR);
}

fn wait(req: &Request<'_>) {
    while !req.done.load(Ordering::Acquire) {
        handle_ipi();
        cpu::spin_hint();
    }
}

/// Runs `f` on processor `cpu` and waits for it to finish.
///
/// # Panics
/// If `cpu` is not online.
pub fn run_on(cpu: usize, f: RemoteFn<'_>) {
    if cpu == percpu::current_id() {
        f();
        return;
    }
    let target = percpu::get(cpu).unwrap_or_else(|| panic!("run_on: cpu{cpu} is not online"));
    let req = Request {
        func: f,
        done: AtomicBool::new(false),
    };
    post(target, &req);
    wait(&req);
}

/// Runs `f` on every other online processor, in parallel, and waits.
pub fn run_on_others(f: RemoteFn<'_>) {
    if percpu::online() > 1 {
        run_concurrently(f, || {});
    }
}

/// Runs `remote` on every other online processor while this one runs
/// `local`, then waits for all. Long `remote` functions run in IPI context
/// with interrupts off: they should call [`handle_ipi`] now and then, so
/// calls to their processor (a TLB shootdown, a swap worker) still land.
pub fn run_concurrently(remote: RemoteFn<'_>, local: impl FnOnce()) {
    let me = percpu::current_id();
    let mut reqs: [Option<Request<'_>>; percpu::MAX_CPUS] = [const { None }; percpu::MAX_CPUS];
    for pc in percpu::all().filter(|p| p.id() != me) {
        let r = reqs[pc.id()].insert(Request {
            func: remote,
            done: AtomicBool::new(false),
        });
        post(pc, r);
    }
    local();
    for r in reqs.iter().flatten() {
        wait(r);
    }
}

/// Runs `f` on every online processor in the bit set `cpus` (this one
/// included if named), in parallel, and waits for all: a TLB shootdown.
pub fn run_on_set(cpus: u64, f: RemoteFn<'_>) {
    let me = percpu::current_id();
    let mut reqs: [Option<Request<'_>>; percpu::MAX_CPUS] = [const { None }; percpu::MAX_CPUS];
    for pc in percpu::all().filter(|p| p.id() != me && cpus & (1 << p.id()) != 0) {
        let r = reqs[pc.id()].insert(Request {
            func: f,
            done: AtomicBool::new(false),
        });
        post(pc, r);
    }
    if cpus & (1 << me) != 0 {
        f();
    }
    for r in reqs.iter().flatten() {
        wait(r);
    }
}

/// Runs `f` on every online processor, this one included, and waits.
pub fn run_on_all(f: RemoteFn<'_>) {
    run_on_others(f);
    f();
}

ktest::ktest! {
    /// A call reaches every processor exactly once and comes back.
    fn ipi_run_on_all_reaches_every_processor() {
        use core::sync::atomic::AtomicU64;
        let hits = AtomicU64::new(0);
        let seen = AtomicU64::new(0);
        run_on_all(&|| {
            hits.fetch_add(1, Ordering::SeqCst);
            seen.fetch_or(1 << percpu::current_id(), Ordering::SeqCst);
        });
        let n = percpu::online();
        assert_eq!(hits.load(Ordering::SeqCst), n as u64);
        assert_eq!(seen.load(Ordering::SeqCst), (1u64 << n) - 1);
    }

    /// `run_on` runs on the processor asked for, one at a time, and a
    /// processor can call back into the caller while serving a call.
    fn ipi_run_on_each_processor_and_nested() {
        use core::sync::atomic::AtomicUsize;
        let me = percpu::current_id();
        for cpu in 0..percpu::online() {
            let ran_on = AtomicUsize::new(usize::MAX);
            let nested = AtomicUsize::new(usize::MAX);
            run_on(cpu, &|| {
                ran_on.store(percpu::current_id(), Ordering::SeqCst);
                // Call back to the original processor, which is spinning in
                // `wait` and must serve this.
                run_on(me, &|| nested.store(percpu::current_id(), Ordering::SeqCst));
            });
            assert_eq!(ran_on.load(Ordering::SeqCst), cpu);
            assert_eq!(nested.load(Ordering::SeqCst), me);
        }
    }

    /// Per-processor data is really per processor: each processor's GS
    /// base leads to its own record, whose APIC id is its own APIC's.
    fn percpu_data_is_per_processor() {
        use core::sync::atomic::AtomicU64;
        let ok = AtomicU64::new(0);
        run_on_all(&|| {
            let pc = percpu::current();
            let same_record = core::ptr::eq(pc, percpu::get(pc.id()).unwrap());
            if same_record && pc.apic_id == apic::id() && percpu::current_id() == pc.id() {
                ok.fetch_or(1 << pc.id(), Ordering::SeqCst);
            }
        });
        assert_eq!(ok.load(Ordering::SeqCst), (1u64 << percpu::online()) - 1);
        let mut ids: alloc::vec::Vec<u32> = percpu::all().map(|p| p.apic_id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), percpu::online(), "APIC ids are distinct");
    }
}

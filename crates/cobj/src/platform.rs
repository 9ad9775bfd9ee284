//! The platform trait: what the crate needs from the machine it runs on.

/// Most processors a [`Runtime`](crate::Runtime) supports. Processor masks
/// are one `u64`.
#[cfg(not(loom))]
pub const MAX_CPUS: usize = 64;
/// Under loom: few processors, so the models stay small.
#[cfg(loom)]
pub const MAX_CPUS: usize = 4;

/// A processor number, `0..cpu_count()`.
pub type CpuId = usize;

/// What the clustered-object runtime needs from a platform: who am I, how
/// many of us are there, and "run this over there".
///
/// There are two implementations: the kernel's, on its per-processor data,
/// and [`Hosted`](crate::hosted::Hosted) for Linux threads.
///
/// The runtime also gives the platform a hook to call:
/// [`Runtime::quiescent`](crate::Runtime::quiescent). The kernel calls it
/// from its timer tick and its idle loop; hosted threads call it at points
/// of their choice. It is safe to call anywhere, even inside a call on a
/// clustered object (it then makes less progress).
///
/// # Safety
///
/// [`current_cpu`](Platform::current_cpu) returns only numbers below
/// [`cpu_count`](Platform::cpu_count) (the call path indexes with it
/// unchecked), and `cpu_count` never changes.
///
/// The runtime keeps per-processor counters that only the current processor
/// updates, with plain loads and stores (no locked instructions on the call
/// path). An implementation must therefore guarantee that code for which
/// [`current_cpu`](Platform::current_cpu) returns `Some(k)` never runs truly
/// concurrently with other such code for the same `k`: it runs on processor
/// `k` and at most nests (an interrupt or an IPI handler that runs to
/// completion on top of the code it interrupted). Kernel threads must not be
/// preempted between entering and leaving a clustered-object call (calls may
/// block, as long as the thread switch is voluntary).
pub unsafe trait Platform: Sync + 'static {
    /// Number of processors; fixed for the life of the runtime, at most
    /// [`MAX_CPUS`].
    fn cpu_count(&self) -> usize;

    /// The processor the caller runs on, or `None` when the caller is not a
    /// processor of this platform (a hosted thread that has not entered one).
    /// This is on the call path: make it a load or two.
    fn current_cpu(&self) -> Option<CpuId>;

    /// Run `f(cpu)` on processor `cpu` (kernel: an IPI, "run this on CPU k
    /// and wait") and wait for it. The state-transfer workers of a hot swap
    /// run this way. `f` must not call clustered objects; hosted builds run
    /// it on a helper thread pinned to the processor's core but without a
    /// processor identity.
    fn run_on(&self, cpu: CpuId, f: &(dyn Fn(CpuId) + Sync));

    /// Run `f(k)` for every processor `k`, in parallel where the platform
    /// can, and wait for all of them. The default runs them one after the
    /// other through [`run_on`](Platform::run_on).
    fn run_on_all(&self, f: &(dyn Fn(CpuId) + Sync)) {
        for cpu in 0..self.cpu_count() {
            self.run_on(cpu, f);
        }
    }

    /// One step of a busy wait (the default is the CPU's spin-loop hint; a
    /// hosted platform yields the thread).
    fn relax(&self) {
        core::hint::spin_loop();
    }

    /// Called on the miss path after the Root made processor `cpu`'s Rep of
    /// object `id` (the kernel traces it). Off the hot path; the default
    /// does nothing.
    fn on_miss(&self, id: usize, cpu: CpuId) {
        let _ = (id, cpu);
    }

    /// A monotonic timestamp (nanoseconds or cycles, the platform's choice)
    /// for the call monitor. The default returns 0 (monitors count calls but
    /// do not time them).
    fn now(&self) -> u64 {
        0
    }
}

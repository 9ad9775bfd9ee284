//! The hosted platform: Linux threads as virtual processors.
//!
//! A thread becomes virtual processor `k` with
//! [`Runtime::enter`](crate::Runtime::enter): it is pinned
//! (`sched_setaffinity`) to the `k % n`-th core the process may use and its
//! thread-local processor id is set, so a test can run 16 "processors" on a
//! 2-core machine. A virtual processor belongs to one thread at a time.
//! Hosted code calls [`Runtime::quiescent`](crate::Runtime::quiescent) at
//! points where it holds no reference obtained from a call (it is safe
//! anywhere, but only makes progress there).
//!
//! With more virtual processors than cores, also yield the thread now and
//! then at a quiescent point: quiescence needs every online virtual
//! processor to reach one, and a thread that never yields keeps the others
//! off the core for a whole time slice. In the stress test this took 1,000
//! swaps from ~20 s to ~2 s on 2 cores.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;
use std::vec::Vec;

use crate::error::Error;
use crate::platform::{CpuId, Platform, MAX_CPUS};
use crate::runtime::Runtime;

std::thread_local! {
    /// (platform instance, virtual processor) of this thread.
    static CURRENT: Cell<(usize, usize)> = const { Cell::new((0, usize::MAX)) };
    /// Busy-wait steps taken by this thread (see `relax`).
    static RELAX: Cell<u32> = const { Cell::new(0) };
}

static NEXT_INSTANCE: AtomicUsize = AtomicUsize::new(1);

/// Linux threads as `n` virtual processors.
pub struct Hosted {
    ncpus: usize,
    instance: usize,
    owned: Vec<AtomicBool>,
    cores: Vec<usize>,
    start: Instant,
    parallel_transfer: bool,
}

impl Hosted {
    /// `ncpus` virtual processors (1 ..= [`MAX_CPUS`]).
    pub fn new(ncpus: usize) -> Result<Self, Error> {
        if ncpus == 0 {
            return Err(Error::NoProcessors);
        }
        if ncpus > MAX_CPUS {
            return Err(Error::TooManyProcessors(ncpus));
        }
        let mut cores = allowed_cores();
        if cores.is_empty() {
            cores.push(0);
        }
        Ok(Hosted {
            ncpus,
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            owned: (0..ncpus).map(|_| AtomicBool::new(false)).collect(),
            cores,
            start: Instant::now(),
            parallel_transfer: false,
        })
    }

    /// Runs the per-processor state-transfer workers of a swap in parallel,
    /// each on a thread pinned to its processor's core, as the kernel does
    /// with IPIs. The default runs them one after the other on the
    /// swapping thread: hosted, every processor's memory is reachable from
    /// any thread, and starting threads costs far more than a transfer.
    pub fn parallel_transfer(mut self, on: bool) -> Self {
        self.parallel_transfer = on;
        self
    }

    /// The real cores the virtual processors are spread over.
    pub fn cores(&self) -> &[usize] {
        &self.cores
    }

    fn core_of(&self, cpu: CpuId) -> usize {
        self.cores[cpu % self.cores.len()]
    }
}

// SAFETY: a virtual processor is held by one thread at a time (`enter`
// claims it with a compare-and-swap and the guard releases it), and
// `current_cpu` answers only for threads of this instance; `run_on`
// workers run without a processor identity.
unsafe impl Platform for Hosted {
    fn cpu_count(&self) -> usize {
        self.ncpus
    }

    #[inline(always)]
    fn current_cpu(&self) -> Option<CpuId> {
        let (instance, cpu) = CURRENT.with(|c| c.get());
        if instance == self.instance {
            Some(cpu)
        } else {
            None
        }
    }

    fn run_on(&self, cpu: CpuId, f: &(dyn Fn(CpuId) + Sync)) {
        let core = self.core_of(cpu);
        std::thread::scope(|s| {
            s.spawn(move || {
                let _ = pin_to(core);
                f(cpu)
            });
        });
    }

    fn run_on_all(&self, f: &(dyn Fn(CpuId) + Sync)) {
        if !self.parallel_transfer {
            for cpu in 0..self.ncpus {
                f(cpu);
            }
            return;
        }
        std::thread::scope(|s| {
            for cpu in 0..self.ncpus {
                let core = self.core_of(cpu);
                s.spawn(move || {
                    let _ = pin_to(core);
                    f(cpu)
                });
            }
        });
    }

    fn relax(&self) {
        // Spin a little before giving the core away: on a loaded machine a
        // yield can cost a whole scheduler time slice.
        let n = RELAX.with(|c| {
            let n = c.get().wrapping_add(1);
            c.set(n);
            n
        });
        if n.is_multiple_of(4) {
            std::thread::yield_now();
        } else {
            for _ in 0..64 {
                core::hint::spin_loop();
            }
        }
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

/// This thread's tenure as a virtual processor; dropping it leaves.
pub struct Processor<'rt> {
    rt: &'rt Runtime<Hosted>,
    cpu: CpuId,
    saved: Option<libc::cpu_set_t>,
    _not_send: core::marker::PhantomData<*const ()>,
}

impl Processor<'_> {
    /// The virtual processor number.
    pub fn cpu(&self) -> CpuId {
        self.cpu
    }

    /// A quiescent point: same as [`Runtime::quiescent`].
    pub fn quiescent(&self) {
        self.rt.quiescent();
    }
}

impl Runtime<Hosted> {
    /// Makes the calling thread virtual processor `cpu` until the returned
    /// guard is dropped.
    pub fn enter(&self, cpu: CpuId) -> Result<Processor<'_>, Error> {
        let h = &self.platform;
        if cpu >= h.ncpus {
            return Err(Error::BadProcessor(cpu));
        }
        if CURRENT.with(|c| c.get()).1 != usize::MAX {
            return Err(Error::AlreadyEntered);
        }
        if h.owned[cpu]
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(Error::ProcessorTaken(cpu));
        }
        let saved = current_mask();
        let _ = pin_to(h.core_of(cpu));
        CURRENT.with(|c| c.set((h.instance, cpu)));
        self.set_online(cpu);
        Ok(Processor {
            rt: self,
            cpu,
            saved,
            _not_send: core::marker::PhantomData,
        })
    }
}

impl Drop for Processor<'_> {
    fn drop(&mut self) {
        // SAFETY: after this the thread's processor id is cleared, so it
        // makes no more calls as `cpu`; the virtual processor is released
        // last.
        let _ = unsafe { self.rt.cpu_offline(self.cpu) };
        CURRENT.with(|c| c.set((0, usize::MAX)));
        if let Some(mask) = self.saved {
            // SAFETY: `mask` is a valid cpu_set_t read by sched_getaffinity.
            unsafe {
                libc::sched_setaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &mask);
            }
        }
        self.rt.platform.owned[self.cpu].store(false, Ordering::Release);
    }
}

fn current_mask() -> Option<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is plain data; all-zero is a valid empty set, and
    // sched_getaffinity writes at most `size_of::<cpu_set_t>()` bytes.
    unsafe {
        let mut set: libc::cpu_set_t = core::mem::zeroed();
        if libc::sched_getaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            Some(set)
        } else {
            None
        }
    }
}

fn allowed_cores() -> Vec<usize> {
    let Some(set) = current_mask() else {
        return Vec::new();
    };
    let max = 8 * core::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: CPU_ISSET reads the set within its size.
    (0..max)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect()
}

/// Pins the calling thread to one core.
fn pin_to(core: usize) -> bool {
    // SAFETY: as in `current_mask`; CPU_SET writes within the set.
    unsafe {
        let mut set: libc::cpu_set_t = core::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

//! The hosted setup: heap-backed trace memory and a [`Platform`] for
//! threads on Linux.
//!
//! Hosted tracers live as long as the program, like the kernel's static
//! one, so their memory is leaked on purpose: a tracer is made once per
//! process (or per test) and handed out as `&'static`.
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::log::{ConfigError, CpuState, Geometry, Memory, Overflow, Platform, Tracer};
use crate::sync::AtomicU64;

/// Leaks zeroed trace memory for `geometry`.
pub fn leak_memory(geometry: Geometry) -> Result<Memory<'static>, ConfigError> {
    geometry.check()?;
    let words = geometry.cpus * geometry.ring_words();
    let words: Vec<AtomicU64> = (0..words).map(|_| AtomicU64::new(0)).collect();
    let commits: Vec<AtomicU64> = (0..geometry.cpus * geometry.blocks)
        .map(|_| AtomicU64::new(0))
        .collect();
    let cpus: Vec<CpuState> = (0..geometry.cpus).map(|_| CpuState::new()).collect();
    Ok(Memory {
        words: Vec::leak(words),
        commits: Vec::leak(commits),
        cpus: Vec::leak(cpus),
    })
}

/// A ready tracer with `cpus` buffers of `blocks` blocks of `block_words`
/// words, on [`StdPlatform`], all classes disabled.
pub fn tracer(
    cpus: usize,
    blocks: usize,
    block_words: usize,
    overflow: Overflow,
) -> Result<&'static Tracer<'static, StdPlatform>, ConfigError> {
    tracer_with(cpus, blocks, block_words, overflow, StdPlatform::new(cpus))
}

/// Like [`tracer`], with your own platform (a fake clock for tests).
pub fn tracer_with<P: Platform>(
    cpus: usize,
    blocks: usize,
    block_words: usize,
    overflow: Overflow,
    platform: P,
) -> Result<&'static Tracer<'static, P>, ConfigError> {
    let geometry = Geometry {
        cpus,
        blocks,
        block_words,
    };
    let memory = leak_memory(geometry)?;
    let tracer = Tracer::new(memory, geometry, overflow, platform)?;
    Ok(Box::leak(Box::new(tracer)))
}

thread_local! {
    static CPU: Cell<usize> = const { Cell::new(usize::MAX) };
}

static NEXT_CPU: AtomicUsize = AtomicUsize::new(0);

/// Threads as processors, the TSC (or a monotonic clock) as the clock.
///
/// A thread's processor id is whatever it set with [`StdPlatform::set_cpu`],
/// or else the next id round-robin when it first logs.
#[derive(Clone, Copy, Debug)]
pub struct StdPlatform {
    cpus: usize,
}

impl StdPlatform {
    /// A platform spreading threads over `cpus` buffers.
    pub fn new(cpus: usize) -> StdPlatform {
        StdPlatform { cpus: cpus.max(1) }
    }

    /// Makes the calling thread log as processor `cpu` (on every
    /// `StdPlatform`).
    pub fn set_cpu(cpu: usize) {
        CPU.with(|c| c.set(cpu));
    }

    /// Clock ticks per second, measured once (about 20 ms) on first call.
    pub fn ticks_per_second() -> u64 {
        static TPS: OnceLock<u64> = OnceLock::new();
        *TPS.get_or_init(|| {
            let (t0, c0) = (Instant::now(), clock());
            std::thread::sleep(Duration::from_millis(20));
            let (t1, c1) = (Instant::now(), clock());
            let ns = (t1 - t0).as_nanos().max(1);
            ((c1.wrapping_sub(c0)) as u128 * 1_000_000_000 / ns) as u64
        })
    }
}

impl Platform for StdPlatform {
    #[inline(always)]
    fn cpu_id(&self) -> usize {
        CPU.with(|c| {
            let id = c.get();
            if id != usize::MAX {
                return id;
            }
            let id = NEXT_CPU.fetch_add(1, Ordering::Relaxed) % self.cpus;
            c.set(id);
            id
        })
    }

    #[inline(always)]
    fn timestamp(&self) -> u64 {
        clock()
    }
}

/// The TSC on x86-64, nanoseconds since the first call elsewhere.
#[inline(always)]
#[allow(unsafe_code)]
pub fn clock() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC reads a counter; it has no memory effects and is
        // available on every x86-64 processor.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

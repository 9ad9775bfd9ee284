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

use crate::log::{CpuBuffer, Overflow, Platform, Tracer};

/// Leaks `cpus` empty buffers.
pub fn leak_buffers<const BLOCKS: usize, const BLOCK_WORDS: usize>(
    cpus: usize,
) -> &'static [CpuBuffer<BLOCKS, BLOCK_WORDS>] {
    Box::leak(zeroed_buffers(cpus))
}

#[cfg(not(loom))]
#[allow(unsafe_code)]
fn zeroed_buffers<const B: usize, const W: usize>(cpus: usize) -> Box<[CpuBuffer<B, W>]> {
    // Checks the shape at compile time, as `CpuBuffer::new` does.
    let () = CpuBuffer::<B, W>::SHAPE_OK;
    let zeroed = Box::<[CpuBuffer<B, W>]>::new_zeroed_slice(cpus);
    // SAFETY: a `CpuBuffer` is only `AtomicU64`s (plain and in arrays)
    // plus alignment padding, and an `AtomicU64` has the representation of
    // a `u64`, for which all-zero bytes are valid: zero memory is exactly
    // `CpuBuffer::new()`. Built in place because a buffer can be larger
    // than a thread's stack.
    unsafe { zeroed.assume_init() }
}

#[cfg(loom)]
fn zeroed_buffers<const B: usize, const W: usize>(cpus: usize) -> Box<[CpuBuffer<B, W>]> {
    (0..cpus).map(|_| CpuBuffer::new()).collect()
}

/// A ready tracer with `cpus` buffers of `BLOCKS` blocks of `BLOCK_WORDS`
/// words, on [`StdPlatform`], all classes disabled.
pub fn tracer<const BLOCKS: usize, const BLOCK_WORDS: usize>(
    cpus: usize,
    overflow: Overflow,
) -> &'static Tracer<'static, StdPlatform, BLOCKS, BLOCK_WORDS> {
    tracer_with(cpus, overflow, StdPlatform::new(cpus))
}

/// Like [`tracer`], with your own platform (a fake clock for tests).
pub fn tracer_with<P: Platform, const BLOCKS: usize, const BLOCK_WORDS: usize>(
    cpus: usize,
    overflow: Overflow,
    platform: P,
) -> &'static Tracer<'static, P, BLOCKS, BLOCK_WORDS> {
    let buffers = leak_buffers(cpus);
    Box::leak(Box::new(Tracer::new(buffers, overflow, platform)))
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

/// Like [`tracer`], with one buffer per thread ([`ThreadPlatform`]): the
/// CPU-local fast path, for threads that each log into their own buffer.
pub fn thread_tracer<const BLOCKS: usize, const BLOCK_WORDS: usize>(
    threads: usize,
    overflow: Overflow,
) -> &'static Tracer<'static, ThreadPlatform, BLOCKS, BLOCK_WORDS> {
    tracer_with(threads, overflow, ThreadPlatform)
}

thread_local! {
    static OWN_BUFFER: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// One buffer per thread: a single-writer platform
/// ([`Platform::SINGLE_WRITER`]), so events use the CPU-local reservation
/// and commit, like the kernel's. The clock is a plain `RDTSC`, enough with
/// one writer per buffer.
///
/// Each writer thread claims a buffer with [`ThreadPlatform::set_buffer`]
/// (no two live threads may claim the same one; a signal handler on the
/// thread is to it what an interrupt handler is to a processor). A thread
/// that claimed none is not traced: its events are dropped
/// ([`Dropped::BadCpu`](crate::Dropped::BadCpu)), never sent to a buffer
/// someone else owns. Flush with [`StreamWriter::finish`] once the writers
/// are joined, or have each writer call [`Tracer::serve`] now and then so a
/// live [`StreamWriter::flush_with`] can seal their blocks.
///
/// [`StreamWriter::finish`]: crate::StreamWriter::finish
/// [`StreamWriter::flush_with`]: crate::StreamWriter::flush_with
/// [`Tracer::serve`]: crate::Tracer::serve
#[derive(Clone, Copy, Debug, Default)]
pub struct ThreadPlatform;

impl ThreadPlatform {
    /// Makes the calling thread the writer of buffer `n` (on every
    /// `ThreadPlatform` tracer).
    pub fn set_buffer(n: usize) {
        OWN_BUFFER.with(|c| c.set(n));
    }

    /// The calling thread's buffer, if it claimed one.
    pub fn buffer() -> Option<usize> {
        let n = OWN_BUFFER.with(|c| c.get());
        (n != usize::MAX).then_some(n)
    }
}

impl Platform for ThreadPlatform {
    const SINGLE_WRITER: bool = true;

    #[inline(always)]
    fn cpu_id(&self) -> usize {
        OWN_BUFFER.with(|c| c.get())
    }

    #[inline(always)]
    #[allow(unsafe_code)]
    fn timestamp(&self) -> u64 {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: RDTSC reads a counter and has no memory effects.
        unsafe {
            core::arch::x86_64::_rdtsc()
        }
        #[cfg(not(target_arch = "x86_64"))]
        clock()
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn timestamp_low(&self) -> u32 {
        crate::arch::tsc_low()
    }
}

/// The TSC on x86-64 (nanoseconds since the first call elsewhere), read so
/// that it is ordered with the loads before it and the instructions after.
///
/// Hosted, threads on different cores share a buffer, and a plain `RDTSC`
/// may execute before the writer's load of the index or after its
/// compare-and-swap; then two writers' timestamps could come out in the
/// opposite order of their events. `RDTSCP` waits for earlier loads and the
/// `LFENCE` holds back later instructions, so timestamps follow the order of
/// reservations in every buffer. (In the kernel a buffer is written by one
/// processor only, and a plain `RDTSC` is enough.)
#[inline(always)]
#[allow(unsafe_code)]
pub fn clock() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let mut aux = 0u32;
        // SAFETY: RDTSCP and LFENCE read a counter and order instructions;
        // they have no memory effects beyond writing `aux`, a local. RDTSCP
        // is on every x86-64 processor this project targets (QEMU's
        // default models and all hosts since 2008).
        unsafe {
            let t = core::arch::x86_64::__rdtscp(&mut aux);
            core::arch::x86_64::_mm_lfence();
            t
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

//! The instructions the log needs written by hand (x86-64 `asm!`, with a
//! portable fallback): read-modify-write operations that are atomic against
//! interrupts on the current processor only (the single-writer mode's
//! reservation and commit), and the low half of the TSC.
//!
//! A buffer written only by one processor and its interrupt handlers needs
//! no atomicity against other processors, only against an interrupt that
//! arrives in the middle of an update. On x86-64 a read-modify-write
//! instruction on memory (`cmpxchg [m], r`, `add [m], r`) is one
//! instruction: an interrupt is taken before it or after it, never between
//! its read and its write. Without the `lock` prefix it does not lock the
//! cache line, which is what makes `lock cmpxchg` and `lock xadd` cost
//! 17-23 ns each on the development VM (docs/perf/trace.md). Linux's
//! `this_cpu_cmpxchg` and `local_t` rest on the same fact.
//!
//! Seen from another processor (the trace daemon reading a block) such an
//! instruction is an ordinary load and an ordinary store of an aligned
//! word, both atomic on x86-64, so in the language's memory model these
//! functions behave like a relaxed atomic load followed by a relaxed atomic
//! store: a second *processor* writing the same word concurrently can lose
//! an update (garbling the trace), but there is no data race and no
//! undefined behaviour. [`crate::log::Platform::SINGLE_WRITER`] is the
//! promise that no second processor does.
//!
//! Ordering: the `asm!` blocks may read and write memory, so the compiler
//! keeps every memory access on its side of them, and x86-64 keeps stores
//! in program order (TSO). The commit `add` therefore publishes the
//! event's words before it, as the locked mode's release `fetch_add` does.
//!
//! Other architectures (and loom builds) fall back to the locked atomics,
//! which are correct everywhere, only slower.
use crate::sync::AtomicU64;

#[cfg(all(target_arch = "x86_64", not(loom)))]
mod imp {
    use crate::log::CpuBuffer;
    use core::arch::asm;
    use core::sync::atomic::AtomicU64;

    /// `cmpxchg` without `lock` on a buffer's reservation index: if it
    /// holds `old`, stores `new` and returns true. The index is addressed
    /// as the buffer's address plus a constant, so the caller needs no
    /// register for the index's own address, and the asm branches on the
    /// zero flag itself (`jne` to a label), so the caller needs no `cmp`.
    #[inline(always)]
    pub fn reserve<const B: usize, const W: usize>(
        buf: &CpuBuffer<B, W>,
        old: u64,
        new: u64,
    ) -> bool {
        debug_assert!(core::ptr::eq(
            buf.index().as_ptr(),
            core::ptr::from_ref(buf)
                .cast::<u8>()
                .wrapping_add(CpuBuffer::<B, W>::INDEX_OFFSET)
                .cast()
        ));
        // SAFETY: `buf` is a valid reference, and `INDEX_OFFSET` is
        // `offset_of!` the index field inside `CpuBuffer<B, W>`, so
        // `[buf + INDEX_OFFSET]` is exactly `buf.index()`, an aligned
        // `AtomicU64` borrowed for this call. `cmpxchg` reads and may write
        // those 8 bytes and writes `rax` (declared clobbered) and the flags
        // (not preserved, the default); `jne` leaves for the `failed`
        // label, which the compiler places. An `AtomicU64` may be read and
        // written through its pointer by any code: this single instruction
        // is an aligned 8-byte load and store, each atomic on x86-64, so it
        // is not a data race with concurrent atomic accesses (see the
        // module docs for why the callers have no concurrent *writer* on
        // another processor).
        unsafe {
            asm!(
                "cmpxchg qword ptr [{b} + {off}], {new}",
                "jne {failed}",
                b = in(reg) core::ptr::from_ref(buf),
                off = const CpuBuffer::<B, W>::INDEX_OFFSET,
                new = in(reg) new,
                inout("rax") old => _,
                failed = label {
                    return false;
                },
                options(nostack),
            );
        }
        true
    }

    /// `rdtsc`, low half.
    #[inline(always)]
    pub fn tsc_low() -> u32 {
        let low: u32;
        // SAFETY: RDTSC reads the time-stamp counter into edx:eax (both
        // declared as outputs) and touches no memory. Every x86-64
        // processor has it; CR4.TSD (which would fault it in user mode) is
        // clear in the kernel and on Linux.
        unsafe {
            asm!("rdtsc", out("eax") low, out("edx") _, options(nomem, nostack, preserves_flags));
        }
        low
    }

    /// `add` to memory without `lock`.
    #[inline(always)]
    pub fn add(a: &AtomicU64, v: u64) {
        // SAFETY: as for `reserve`: one aligned 8-byte read-modify-write
        // of the `AtomicU64` borrowed as `a`, clobbering only the flags.
        unsafe {
            asm!(
                "add qword ptr [{a}], {v}",
                a = in(reg) a.as_ptr(),
                v = in(reg) v,
                options(nostack),
            );
        }
    }
}

#[cfg(not(all(target_arch = "x86_64", not(loom))))]
mod imp {
    use crate::sync::{AtomicU64, Ordering};

    /// The portable fallback: a locked compare-and-swap.
    #[inline(always)]
    pub fn reserve<const B: usize, const W: usize>(
        buf: &crate::log::CpuBuffer<B, W>,
        old: u64,
        new: u64,
    ) -> bool {
        buf.index()
            .compare_exchange(old, new, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// The portable fallback: a locked release add.
    #[inline(always)]
    pub fn add(a: &AtomicU64, v: u64) {
        a.fetch_add(v, Ordering::Release);
    }

    /// No portable cycle counter: 0. Only a platform built on the TSC
    /// should call [`super::tsc_low`].
    #[inline(always)]
    pub fn tsc_low() -> u32 {
        0
    }
}

/// Stores `new` in `buf`'s reservation index if it holds `old`, atomically
/// with respect to interrupts on this processor. `Err(found)` when it did
/// not hold `old`.
#[inline(always)]
pub(crate) fn reserve<const B: usize, const W: usize>(
    buf: &crate::log::CpuBuffer<B, W>,
    old: u64,
    new: u64,
) -> Result<(), u64> {
    if imp::reserve(buf, old, new) {
        Ok(())
    } else {
        // It changed under us (an interrupt reserved): read it again.
        Err(buf.index().load(crate::sync::Ordering::Relaxed))
    }
}

/// Adds `v` to `a`, atomically with respect to interrupts on this
/// processor, after every earlier store of this processor (release).
#[inline(always)]
pub(crate) fn add_release(a: &AtomicU64, v: u64) {
    imp::add(a, v)
}

/// The low 32 bits of the time-stamp counter: what an event's header
/// keeps of its timestamp. A TSC-based [`Platform`] returns this from
/// [`Platform::timestamp_low`]: with the intrinsic (`_rdtsc`, a `u64`) the
/// compiler joins the counter's two halves even when only the low one is
/// used, two instructions more per event. (0 off x86-64 and under loom.)
///
/// [`Platform`]: crate::Platform
/// [`Platform::timestamp_low`]: crate::Platform::timestamp_low
#[inline(always)]
pub fn tsc_low() -> u32 {
    imp::tsc_low()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use core::sync::atomic::Ordering;

    #[test]
    fn reserve_succeeds_only_on_the_expected_value() {
        let buf = crate::log::CpuBuffer::<2, 16>::new();
        let index = buf.index();
        index.store(5, Ordering::Relaxed);
        assert_eq!(reserve(&buf, 4, 9), Err(5));
        assert_eq!(index.load(Ordering::Relaxed), 5);
        assert_eq!(reserve(&buf, 5, 9), Ok(()));
        assert_eq!(index.load(Ordering::Relaxed), 9);
        let a = AtomicU64::new(9);
        add_release(&a, 3);
        assert_eq!(a.load(Ordering::Relaxed), 12);
        add_release(&a, u64::MAX); // wraps, as the atomic add does
        assert_eq!(a.load(Ordering::Relaxed), 11);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn tsc_low_is_the_low_half_of_the_tsc() {
        #[allow(unsafe_code)]
        // SAFETY: RDTSC reads a counter and has no memory effects.
        let read = || unsafe { core::arch::x86_64::_rdtsc() };
        let before = read();
        let low = tsc_low();
        let after = read();
        // Unless the low half wrapped in between (once in ~1 s), it lies
        // between the two full readings.
        if before >> 32 == after >> 32 {
            assert!((before as u32..=after as u32).contains(&low));
        }
    }
}

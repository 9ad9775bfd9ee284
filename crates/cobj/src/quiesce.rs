//! Generation-based quiescence (K42's "semi-automatic garbage collection",
//! notes §2): when is it safe to free what a processor might still be
//! looking at?
//!
//! Each processor counts the calls it has in progress in two generations
//! (`active[0]`, `active[1]`); new calls count into the current one. At a
//! quiescent point the processor *flips* — makes the other generation
//! current — if that other generation's count has drained to zero, and
//! counts the flip in its local generation number `lgen`. After two flips,
//! every call that was in progress before the first one has finished.
//!
//! A token circulates among the processors. A processor passes it on after
//! two flips since receiving it; each full circle advances the global
//! generation. A *marker* is taken after unlinking an object; it has
//! elapsed once the global generation has advanced by two (the first circle
//! may have started before the marker, the second one did not). An object
//! used on one processor only takes a local marker instead: two local flips
//! of that processor.
//!
//! Only the owning processor writes its counters, with plain loads and
//! stores: the call path has no locked instruction and no shared write.
//! Offline processors (hosted vCPUs without a thread) have nothing in
//! progress; any processor passes the token on their behalf.
//!
//! Memory ordering: the token word (generation and holder in one `u64`) is
//! only changed by read-modify-write operations with acquire-release
//! ordering, and a marker is itself such an operation, so everything done
//! before a marker (the unlink) happens before every token receipt later in
//! the token's modification order. A processor's receipt, its flips and
//! every call it starts afterwards are ordered after the unlink, so those
//! calls cannot find the object; the calls that started earlier have
//! finished by the second flip, which is before the pass.

use crate::platform::{CpuId, Platform};
use crate::runtime::Runtime;
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

const HOLDER_BITS: u32 = 8;
const HOLDER_MASK: u64 = (1 << HOLDER_BITS) - 1;

#[inline]
pub(crate) fn token_gen(word: u64) -> u64 {
    word >> HOLDER_BITS
}

#[inline]
fn token_holder(word: u64) -> usize {
    (word & HOLDER_MASK) as usize
}

/// A processor's generation state. Only the owner writes `parity`,
/// `active`, `lgen`, `seen` and `receipt`.
pub(crate) struct CpuGen {
    parity: AtomicUsize,
    active: [AtomicUsize; 2],
    lgen: AtomicU64,
    /// The token word at the last receipt (`u64::MAX`: none).
    seen: AtomicU64,
    /// `lgen` at the last receipt.
    receipt: AtomicU64,
    pub(crate) online: AtomicBool,
}

impl CpuGen {
    pub(crate) fn new() -> Self {
        CpuGen {
            parity: AtomicUsize::new(0),
            active: [AtomicUsize::new(0), AtomicUsize::new(0)],
            lgen: AtomicU64::new(0),
            seen: AtomicU64::new(u64::MAX),
            receipt: AtomicU64::new(0),
            online: AtomicBool::new(false),
        }
    }

    /// Counts a call in the current generation; returns the counter and
    /// its value before, to pass to [`exit`](CpuGen::exit). Owner only.
    #[inline(always)]
    pub(crate) fn enter(&self) -> (&AtomicUsize, usize) {
        let a = &self.active[self.parity.load(Ordering::Relaxed)];
        let before = a.load(Ordering::Relaxed);
        a.store(before + 1, Ordering::Relaxed);
        // The count must be in place before the caller loads any table
        // entry, also as seen by an interrupt on this processor.
        compiler_fence();
        (a, before)
    }

    /// Ends a call counted by [`enter`](CpuGen::enter). Owner only.
    ///
    /// Calls on one processor nest (the platform contract), and everything
    /// nested inside this call has restored the counter already, so the
    /// count is back to `before` without reading it again.
    #[inline(always)]
    pub(crate) fn exit(counter: &AtomicUsize, before: usize) {
        counter.store(before, Ordering::Release);
    }

    /// Calls in progress on this processor (both generations).
    pub(crate) fn in_progress(&self) -> usize {
        self.active[0].load(Ordering::Acquire) + self.active[1].load(Ordering::Acquire)
    }

    pub(crate) fn lgen(&self) -> u64 {
        self.lgen.load(Ordering::Acquire)
    }
}

#[inline(always)]
fn compiler_fence() {
    #[cfg(not(loom))]
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
}

/// A point in time after an unlink; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Marker {
    /// Elapsed when the global generation reaches this value.
    Global(u64),
    /// Elapsed when processor `cpu`'s local generation reaches `lgen`.
    Local { cpu: CpuId, lgen: u64 },
}

impl<P: Platform> Runtime<P> {
    /// A global marker, taken after the caller's unlink.
    pub(crate) fn global_marker(&self) -> Marker {
        let word = self.token.fetch_add(0, Ordering::AcqRel);
        Marker::Global(token_gen(word) + 2)
    }

    /// A local marker for processor `cpu`, which must be the caller's.
    pub(crate) fn local_marker(&self, cpu: CpuId) -> Marker {
        Marker::Local {
            cpu,
            lgen: self.cpus[cpu].gen.lgen() + 2,
        }
    }

    pub(crate) fn elapsed(&self, m: Marker) -> bool {
        match m {
            Marker::Global(g) => token_gen(self.token.load(Ordering::Acquire)) >= g,
            Marker::Local { cpu, lgen } => self.cpus[cpu].gen.lgen() >= lgen,
        }
    }

    /// The quiescent-state hook for processor `cpu`, run by its owner.
    pub(crate) fn hook(&self, cpu: CpuId) {
        self.announce(cpu);
        self.reclaim(Some(cpu));
    }

    /// The hook's first half: the generation and the token, no reclaimed
    /// work (no destructor runs).
    pub(crate) fn announce(&self, cpu: CpuId) {
        let g = &self.cpus[cpu].gen;
        let word = self.token.load(Ordering::Acquire);
        let holding = token_holder(word) == cpu;
        if holding && g.seen.load(Ordering::Relaxed) != word {
            g.seen.store(word, Ordering::Relaxed);
            g.receipt
                .store(g.lgen.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        for _ in 0..2 {
            let p = g.parity.load(Ordering::Relaxed);
            if g.active[1 - p].load(Ordering::Acquire) != 0 {
                break;
            }
            g.parity.store(1 - p, Ordering::Relaxed);
            g.lgen
                .store(g.lgen.load(Ordering::Relaxed) + 1, Ordering::Release);
        }
        if holding && g.lgen.load(Ordering::Relaxed) >= g.receipt.load(Ordering::Relaxed) + 2 {
            self.pass(word);
        }
        self.help_offline();
    }

    /// Hands the token on from its current holder.
    fn pass(&self, word: u64) {
        let holder = token_holder(word);
        let next = holder + 1;
        let new = if next >= self.ncpus {
            (token_gen(word) + 1) << HOLDER_BITS
        } else {
            (token_gen(word) << HOLDER_BITS) | next as u64
        };
        // Failure means someone else passed it already: nothing to do.
        let _ = self
            .token
            .compare_exchange(word, new, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Passes the token through processors that are offline and idle.
    pub(crate) fn help_offline(&self) {
        for _ in 0..self.ncpus {
            let word = self.token.load(Ordering::Acquire);
            let g = &self.cpus[token_holder(word)].gen;
            if g.online.load(Ordering::Acquire) || g.in_progress() != 0 {
                return;
            }
            self.pass(word);
        }
    }

    /// Marks processor `cpu` online: from now on its owner calls the hook.
    pub(crate) fn set_online(&self, cpu: CpuId) {
        self.cpus[cpu].gen.online.store(true, Ordering::SeqCst);
        // Order the flag before any later marker (see module docs).
        self.token.fetch_add(0, Ordering::AcqRel);
    }

    /// Marks processor `cpu` offline. The caller guarantees it makes no
    /// more calls as `cpu` until it is marked online again.
    pub(crate) fn set_offline(&self, cpu: CpuId) {
        self.cpus[cpu].gen.online.store(false, Ordering::Release);
    }
}

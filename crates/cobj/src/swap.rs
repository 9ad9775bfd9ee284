//! Hot swapping (notes §3, paper §5) and call monitoring by interposition.
//!
//! `switch(coref, new_root)` replaces a live object's Root while clients
//! keep calling it. The object's global entry moves to the `SWITCHING`
//! phase and a mediator takes over its miss path:
//!
//! 1. **Negotiate**: the first format in the new Root's import list that
//!    the old Root exports; none is [`Error::NoCommonFormat`] and nothing
//!    has changed.
//! 2. **FORWARD**: the local entries are flushed, so every new call misses
//!    and is counted (per processor) and forwarded to the old Rep. The
//!    swapper waits for a quiescence marker: calls that started before the
//!    switch, through the local tables, have then finished.
//! 3. **BLOCK**: new calls wait. Forwarded calls already inside finish; a
//!    call made on a processor that has a forwarded call in progress is let
//!    through (it is a recursive or nested call, which must not wait for
//!    itself).
//! 4. **Transfer**: with no call inside, one worker per processor (in
//!    parallel, through [`Platform::run_on_all`]) exports that processor's
//!    share of the old state and imports it into the new Root. A failure
//!    keeps the old Root and returns the error.
//! 5. **Install and COMPLETED**: the new Root goes into the global entry,
//!    the phase returns to normal, and the blocked calls retry: they miss
//!    and the new Root creates their Reps.
//!
//! Every call runs exactly once, on the old object (before the BLOCK point)
//! or on the new one (after it). The old Root is handed back to the caller.
//!
//! Monitoring uses the same interposition point without a swap: while an
//! object is monitored its local entries stay empty, so every call takes
//! the miss path, which counts and times it.

use alloc::boxed::Box;
use alloc::sync::Arc;

use crate::error::Error;
use crate::platform::{CpuId, Platform, MAX_CPUS};
use crate::root::{Format, Root};
use crate::runtime::{
    ErasedRoot, GlobalEntry, Runtime, Work, MONITORED, NORMAL, PHASE_MASK, SWITCHING,
};
use crate::sync::{AtomicU64, AtomicUsize, Mutex, Ordering};

/// Set in every per-processor forward counter when the swap moves from
/// FORWARD to BLOCK. Phase and count share one word, so a caller's
/// increment and the swapper's switch to BLOCK are ordered by the word's
/// modification order alone (no reliance on sequential consistency).
const BLOCKED: usize = 1 << (usize::BITS - 1);

/// The interposed state of a swap in progress: per processor, the number of
/// forwarded calls in progress and the BLOCK flag.
pub(crate) struct Mediator {
    /// One word per processor, each on its own lines: during FORWARD every
    /// call of every processor updates its own.
    forwarded: [Padded; MAX_CPUS],
}

#[repr(align(128))]
struct Padded(AtomicUsize);

/// A forwarded call in progress; leaving it uncounts it.
pub(crate) struct Forwarded<'a> {
    count: &'a AtomicUsize,
}

impl Drop for Forwarded<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Release);
    }
}

impl Mediator {
    fn new() -> Self {
        Mediator {
            forwarded: core::array::from_fn(|_| Padded(AtomicUsize::new(0))),
        }
    }

    /// Admits a call on processor `cpu` to the old object, or returns
    /// `None` if it must wait for the swap to complete. During BLOCK a call
    /// is admitted only if another forwarded call is in progress on the
    /// same processor: by the platform contract it is nested inside that
    /// one (a recursive call), which must not wait for itself.
    pub(crate) fn enter_forward(&self, cpu: CpuId) -> Option<Forwarded<'_>> {
        let count = &self.forwarded[cpu].0;
        // Count only admitted calls (a compare-and-swap, not an add that
        // is undone): a transient count would admit a nested call.
        let mut cur = count.load(Ordering::Acquire);
        loop {
            if cur & BLOCKED != 0 && cur & !BLOCKED == 0 {
                return None;
            }
            match count.compare_exchange_weak(cur, cur + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(Forwarded { count }),
                Err(now) => cur = now,
            }
        }
    }

    /// FORWARD -> BLOCK: from now on only nested calls are admitted.
    fn block(&self) {
        for c in self.forwarded.iter() {
            c.0.fetch_or(BLOCKED, Ordering::AcqRel);
        }
    }

    /// Forwarded calls in progress. Reading 0 orders everything those
    /// calls did before the caller's next step (the state export).
    fn in_flight(&self) -> usize {
        self.forwarded
            .iter()
            .map(|c| c.0.load(Ordering::Acquire) & !BLOCKED)
            .sum()
    }
}

/// Call statistics of a monitored object.
#[derive(Default)]
pub struct MonitorStats {
    calls: AtomicU64,
    time: AtomicU64,
}

impl MonitorStats {
    /// Calls made while monitored.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Total time spent in them, in [`Platform::now`] units.
    pub fn time(&self) -> u64 {
        self.time.load(Ordering::Relaxed)
    }

    pub(crate) fn time_call<P: Platform, R>(&self, p: &P, f: impl FnOnce() -> R) -> R {
        let t0 = p.now();
        let r = f();
        let dt = p.now().wrapping_sub(t0);
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.time.fetch_add(dt, Ordering::Relaxed);
        r
    }
}

/// Why a switch failed, with the new Root handed back.
pub struct SwitchError<I: ?Sized + 'static> {
    /// What went wrong.
    pub error: Error,
    /// The Root that was not installed.
    pub new_root: Box<dyn Root<I>>,
}

impl<I: ?Sized + 'static> core::fmt::Debug for SwitchError<I> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SwitchError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<I: ?Sized + 'static> core::fmt::Display for SwitchError<I> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "hot swap failed: {}", self.error)
    }
}

/// An object in the `SWITCHING` phase; dropping this returns it to normal
/// (the mediator is unlinked; freeing it is the swapper's business).
struct Claim<'a>(&'a GlobalEntry);

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let e = self.0;
        e.mediator.store(core::ptr::null_mut(), Ordering::Release);
        let mut st = e.state.load(Ordering::Acquire);
        while let Err(now) = e.state.compare_exchange_weak(
            st,
            (st & !PHASE_MASK) | NORMAL,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            st = now;
        }
    }
}

/// The best format both Roots support: the new Root's preference order.
pub fn negotiate(exports: &[Format], imports: &[Format]) -> Option<Format> {
    imports.iter().copied().find(|f| exports.contains(f))
}

impl<P: Platform> Runtime<P> {
    pub(crate) fn switch<I: ?Sized + 'static>(
        &self,
        id: usize,
        new_root: Box<dyn Root<I>>,
    ) -> Result<Box<dyn Root<I>>, SwitchError<I>> {
        let fail = |error, new_root| Err(SwitchError { error, new_root });
        if let Err(error) = self.check_not_in_call() {
            return fail(error, new_root);
        }
        let e = &self.entries[id];
        // Claim the object.
        let mut st = e.state.load(Ordering::Acquire);
        loop {
            match st & PHASE_MASK {
                NORMAL => {}
                SWITCHING => return fail(Error::Busy, new_root),
                _ => return fail(Error::Destroyed, new_root),
            }
            match e.state.compare_exchange_weak(
                st,
                (st & !PHASE_MASK) | SWITCHING,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => st = now,
            }
        }
        // From here on the object is ours until `claim` is dropped, which
        // reopens it (also if a transfer hook panics: callers then resume
        // on the old Root instead of waiting forever).
        let claim = Claim(e);
        // Misses that read the Root before the claim finish installing.
        self.wait_misses(e);
        let Some(old) = self.root_of::<I>(e) else {
            drop(claim);
            return fail(Error::Destroyed, new_root);
        };
        // 1. Negotiate.
        let Some(format) = negotiate(old.export_formats(), new_root.import_formats()) else {
            drop(claim);
            return fail(Error::NoCommonFormat, new_root);
        };
        // 2. FORWARD.
        let mediator = Box::into_raw(Box::new(Mediator::new()));
        e.mediator.store(mediator, Ordering::Release);
        // SAFETY: we own the mediator until it is deferred below.
        let m = unsafe { &*mediator };
        let used = e.used.swap(0, Ordering::AcqRel);
        self.flush(id, used);
        let marker = self.global_marker();
        self.wait_until(|| self.elapsed(marker));
        // 3. BLOCK.
        m.block();
        self.wait_until(|| m.in_flight() == 0);
        // 4. Transfer, one worker per processor.
        let failure: Mutex<Option<crate::root::TransferError>> = Mutex::new(None);
        let new_ref: &dyn Root<I> = &*new_root;
        self.platform.run_on_all(&|cpu| {
            if let Some(state) = old.export(cpu, format) {
                if let Err(err) = new_ref.import(cpu, format, state) {
                    *failure.lock() = Some(err);
                }
            }
        });
        let failure = failure.lock().take();
        // 5. Install (unless the transfer failed), COMPLETED.
        let result = match failure {
            Some(err) => Err(SwitchError {
                error: Error::Transfer(err),
                new_root,
            }),
            None => {
                let fresh = Box::into_raw(Box::new(ErasedRoot(Box::new(new_root))));
                let old_ptr = e.root.swap(fresh, Ordering::AcqRel);
                // SAFETY: the old Root is ours now: no call can reach it
                // (see the module docs), and the pointer came from
                // `Box::into_raw`.
                let old_box = unsafe { Box::from_raw(old_ptr) };
                Ok(old_box)
            }
        };
        let used = e.used.swap(0, Ordering::AcqRel);
        self.flush(id, used);
        // COMPLETED: blocked callers retry on whatever is installed now.
        drop(claim);
        // Blocked callers may still be looking at the mediator.
        // SAFETY: unlinked above; from `Box::into_raw`.
        let mediator = unsafe { Box::from_raw(mediator) };
        self.defer(
            self.global_marker(),
            Work::Drop(Box::new(MediatorBox(mediator))),
        );
        result.map(|old_box| {
            let any: *mut (dyn core::any::Any + Send + Sync) = Box::into_raw(old_box.0);
            // SAFETY: `root_of::<I>` found a `Box<dyn Root<I>>` in this very
            // allocation before the swap, so the cast restores its type.
            unsafe { *Box::from_raw(any as *mut Box<dyn Root<I>>) }
        })
    }

    pub(crate) fn monitor(&self, id: usize) -> Result<Arc<MonitorStats>, Error> {
        let e = &self.entries[id];
        let stats = Arc::new(MonitorStats::default());
        let raw = Arc::into_raw(stats.clone()) as *mut MonitorStats;
        if e.monitor
            .compare_exchange(
                core::ptr::null_mut(),
                raw,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            // SAFETY: not published.
            drop(unsafe { Arc::from_raw(raw) });
            return Err(Error::Monitor);
        }
        let mut st = e.state.load(Ordering::Acquire);
        loop {
            let err = match st & PHASE_MASK {
                NORMAL if st & MONITORED == 0 => None,
                NORMAL => Some(Error::Monitor),
                SWITCHING => Some(Error::Busy),
                _ => Some(Error::Destroyed),
            };
            if let Some(err) = err {
                if e.monitor
                    .compare_exchange(
                        raw,
                        core::ptr::null_mut(),
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    )
                    .is_ok()
                {
                    // SAFETY: unpublished again before any miss saw the flag.
                    drop(unsafe { Arc::from_raw(raw) });
                }
                return Err(err);
            }
            match e.state.compare_exchange_weak(
                st,
                st | MONITORED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => st = now,
            }
        }
        self.wait_misses(e);
        let used = e.used.swap(0, Ordering::AcqRel);
        self.flush(id, used);
        Ok(stats)
    }

    pub(crate) fn unmonitor(&self, id: usize) -> Result<(), Error> {
        let e = &self.entries[id];
        let mut st = e.state.load(Ordering::Acquire);
        loop {
            if st & PHASE_MASK != NORMAL {
                return Err(if st & PHASE_MASK == SWITCHING {
                    Error::Busy
                } else {
                    Error::Destroyed
                });
            }
            if st & MONITORED == 0 {
                return Err(Error::Monitor);
            }
            match e.state.compare_exchange_weak(
                st,
                st & !MONITORED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => st = now,
            }
        }
        self.wait_misses(e);
        let raw = e.monitor.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !raw.is_null() {
            // SAFETY: from `Arc::into_raw` in `monitor`.
            let arc = unsafe { Arc::from_raw(raw) };
            self.defer(self.global_marker(), Work::Drop(Box::new(arc)));
        }
        Ok(())
    }
}

struct MediatorBox(#[allow(dead_code)] Box<Mediator>);

/// The mediator's admission protocol, exposed to the loom models only
/// (`--cfg loom`), so that the BLOCK race can be checked in isolation.
#[cfg(loom)]
#[doc(hidden)]
pub mod model {
    use crate::platform::CpuId;

    /// A bare mediator.
    pub struct Mediator(super::Mediator);

    /// A forwarded call in progress.
    pub struct Forwarded<'a>(#[allow(dead_code)] super::Forwarded<'a>);

    impl Default for Mediator {
        fn default() -> Self {
            Mediator(super::Mediator::new())
        }
    }

    impl Mediator {
        /// A call on `cpu` asks to be forwarded.
        pub fn enter_forward(&self, cpu: CpuId) -> Option<Forwarded<'_>> {
            self.0.enter_forward(cpu).map(Forwarded)
        }
        /// The swapper moves to BLOCK.
        pub fn block(&self) {
            self.0.block();
        }
        /// Forwarded calls in progress.
        pub fn in_flight(&self) -> usize {
            self.0.in_flight()
        }
    }
}

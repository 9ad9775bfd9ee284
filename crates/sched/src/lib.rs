//! K42's kernel scheduler of dispatchers.
//!
//! K42 splits scheduling in two (paper §7.1, notes §6). The kernel schedules
//! **dispatchers**, roughly virtual processors: one per address space per
//! processor it uses. Each dispatcher runs a user-level thread library that
//! schedules its own threads (`user/uthread`). The kernel's scheduler runs
//! independently on each processor, with a small number of fixed **priority
//! classes** (kernel, gang, soft real time, time sharing, background, idle;
//! a runnable dispatcher of a higher class always runs before any of a lower
//! one) and **weighted proportional share** (weights 1..=4096) within a
//! class.
//!
//! This crate owns that scheduler, with no hardware in it:
//!
//! * [`Scheduler`]: one processor's run queues and accounting. The kernel
//!   calls [`tick`](Scheduler::tick) from its timer interrupt,
//!   [`schedule`](Scheduler::schedule) to pick the next dispatcher,
//!   [`wake`](Scheduler::wake) / [`block`](Scheduler::block) /
//!   [`exit`](Scheduler::exit) / [`yield_now`](Scheduler::yield_now) /
//!   [`handoff`](Scheduler::handoff) (PPC) /
//!   [`set_params`](Scheduler::set_params) as dispatchers come and go.
//! * [`Smp`]: one `Scheduler` per processor, each behind its own lock, a
//!   directory from [`DispatcherId`] to processor, and **load balancing**:
//!   an idle (or lightly loaded) processor [`balance`](Smp::balance)s by
//!   stealing runnable dispatchers from the busiest one; pinned dispatchers
//!   never move.
//! * [`native`]: the **native call set**, the dozen kernel calls a
//!   dispatcher makes (set entry point, yield, block, handoff, IPC call and
//!   return, async send, timer, soft interrupt, create/exit dispatcher, set
//!   scheduling parameters), decoded and validated from registers, and the
//!   scheduler operation each maps to ([`Smp::perform`]).
//!
//! # Proportional share: virtual time
//!
//! Within a class each dispatcher has a *virtual time* that advances by
//! `ns_run * 4096 / weight` while it runs (or while a dispatcher it handed
//! the processor to runs). The scheduler picks the smallest virtual time in
//! the highest non-empty class; ties go first-come first-served. This is
//! stride scheduling with the stride `4096 / weight` applied to the time
//! actually used rather than to whole quanta, so a dispatcher that blocks
//! early is charged only what it used, and the shares converge to the
//! weights with an error bounded by one slice per dispatcher (Waldspurger
//! and Weihl's stride scheduling; the same idea as WFQ's virtual finish
//! times and Linux CFS). It was chosen over lottery scheduling (random, so
//! fairness only in expectation: a test over one second would be flaky)
//! and over round robin with weighted quanta (a weight-1 and a weight-4096
//! dispatcher would need 4096 quanta per round).
//!
//! **How it relates to K42.** K42's `CPUDomainAnnex` kept a priority word
//! per resource domain (class, then an exponent and mantissa of consumed
//! time multiplied by `drag = MAX_WEIGHT / weight`), the `DispatchQueue`
//! kept domains in a heap ordered by that word, and a periodic *inflation*
//! halved everyone's history so old usage was forgotten. That is the same
//! virtual-time scheme: here `drag` is kept exactly (16.16 fixed point, so
//! weights 3000 and 4096 differ), each class has its own heap, and instead
//! of decaying history each class has a *clock* (it follows the smallest
//! virtual time among the class's runnable dispatchers, never backwards). A
//! dispatcher that blocks keeps only its *lag*, how far ahead of the clock
//! it was (never negative), and re-enters at clock + lag when it wakes: so
//! sleeping earns no credit, a newcomer (lag 0) cannot starve the others,
//! and a sleep of any length is safe against virtual-time wrap-around.
//! Migration carries the lag the same way, from one processor's clock to
//! the other's. K42 grouped dispatchers into resource domains
//! sharing one weight; here each dispatcher carries its own weight (a
//! domain is a set of dispatchers whose weights sum to the domain's).
//!
//! **Slices.** The runnable dispatchers of a class share a *period* (10 ms
//! by default) in proportion to their weights, with a *minimum slice* (10
//! µs) below which a dispatcher instead runs less often. The kernel arms a
//! one-shot timer for [`Dispatch::slice_end`]; a periodic tick coarser than
//! the smallest slice would still give the right long-run shares, but not
//! within one second for a 1 : 4096 mix.
//!
//! **Preemption.** [`Scheduler::tick`] preempts when the slice is over or a
//! higher class is runnable; [`Scheduler::wake`] reports
//! [`Wake::preempt`] when the woken dispatcher's class is higher than the
//! running one's (on another processor: send it an IPI). K42 first raised a
//! *preempt* soft interrupt and gave the dispatcher a short warning time to
//! reach a clean point (save its thread state, yield); with
//! [`Config::warning`] set, `tick` does the same: [`Tick::Warn`] first, and
//! [`Tick::Preempt`] at the warning's deadline if the dispatcher has not
//! yielded. The default is immediate preemption.
//!
//! **Handoff.** A PPC gives the caller's processor to the server's
//! dispatcher without a run-queue search. The server runs on the rest of the
//! caller's slice, in the caller's class, charged to the caller (K42's
//! *CPU-domain borrowing*): a server cannot be used to escape one's share,
//! and a background client cannot borrow a server's higher class.
//!
//! # Setup
//!
//! ```toml
//! [dependencies]
//! sched = { path = "../crates/sched" }                            # hosted
//! sched = { path = "../crates/sched", default-features = false } # kernel
//! ```
//!
//! Without the `std` feature the crate is `no_std + alloc` and builds for
//! `x86_64-unknown-none`; `std` only adds `std::error::Error` impls. The
//! one dependency, `spin`, provides the per-processor lock of [`Smp`]
//! (`std`'s mutex is not available in the kernel, and the kernel's callers
//! have interrupts disabled, which is what a spin lock wants); under
//! `--cfg loom` it is replaced by loom's.
//!
//! # Usage
//!
//! ```
//! use sched::{Class, Config, HandoffMode, Params, Smp, Tick, Weight, MILLISECOND};
//!
//! let smp = Smp::new(2, 64, Config::default()).unwrap();
//! let ts = |w| Params::new(Class::TimeSharing, Weight::new(w).unwrap());
//! let a = smp.create(0, ts(100)).unwrap();
//! let b = smp.create(0, ts(300)).unwrap();
//! smp.wake(a).unwrap();
//! smp.wake(b).unwrap();
//!
//! // Processor 0's dispatch loop: pick, arm the timer, run, tick.
//! let mut now = 0;
//! let first = smp.schedule(0, now).unwrap().unwrap();
//! now = first.slice_end; // the one-shot timer fires
//! assert_eq!(smp.tick(0, now).unwrap(), Tick::Preempt);
//! let second = smp.schedule(0, now).unwrap().unwrap();
//! assert_ne!(first.id, second.id);
//!
//! // A soft-real-time dispatcher wakes: it preempts time sharing.
//! let rt = smp.create(0, Params::new(Class::SoftRealTime, Weight::MIN)).unwrap();
//! assert!(smp.wake(rt).unwrap().wake.preempt);
//! assert_eq!(smp.tick(0, now + MILLISECOND).unwrap(), Tick::Preempt);
//! assert_eq!(smp.schedule(0, now + MILLISECOND).unwrap().unwrap().id, rt);
//!
//! // PPC: the running dispatcher hands its processor to a server.
//! let server = smp.create(0, ts(1)).unwrap();
//! let d = smp.handoff(0, server, HandoffMode::Stay, now + 2 * MILLISECOND).unwrap();
//! assert_eq!((d.id, d.class), (server, Class::SoftRealTime)); // on rt's time
//!
//! // Processor 1 is idle: it steals half of the difference in load
//! // (processor 0 has the server running and a, b, rt runnable).
//! assert_eq!(smp.balance(1).unwrap(), 2);
//! assert!(smp.schedule(1, now).unwrap().is_some());
//! assert_eq!(smp.audit().unwrap(), 4);
//! ```
//!
//! # What the kernel provides
//!
//! * A monotonic nanosecond clock shared by all processors (the TSC,
//!   scaled), passed in as `now`.
//! * A one-shot timer per processor, armed at [`Dispatch::slice_end`], whose
//!   interrupt calls [`Smp::tick`] and, on [`Tick::Preempt`], saves the
//!   dispatcher and calls [`Smp::schedule`] (on [`Tick::Warn`]: sets the
//!   preempt soft-interrupt bit in the dispatcher page and re-arms the timer
//!   for the deadline). A periodic tick works too, at the cost of slices
//!   rounded up to the tick.
//! * The context switch to the returned dispatcher (its address space, its
//!   dispatcher page, its run entry point), and an idle loop that calls
//!   [`Smp::balance`] before halting.
//! * IPIs: when a wake-up on processor `p` reports `preempt` and `p` is not
//!   the caller's, interrupt `p` so it ticks.
//! * Interrupts disabled on the calling processor around every call (the
//!   locks are also taken from the timer interrupt).
//! * For native calls, a [`native::CallContext`]: the caller, rights checks
//!   and handle resolution, and the PPC return target.
//!
//! # Allocation
//!
//! [`Smp::new`] reserves every table for its `max_dispatchers`; after that
//! nothing allocates (except the debugging [`Smp::audit`]). A bare [`Scheduler`] allocates only when
//! [`create`](Scheduler::create) or [`adopt`](Scheduler::adopt) outgrow the
//! capacity given to [`Scheduler::with_capacity`]. All operations are
//! O(log n) in the runnable dispatchers of one class, except
//! [`Scheduler::steal_candidate`] (linear when most are pinned) and the
//! audits.

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod native;
mod sched;
mod smp;
mod sync;
mod types;

pub use native::{CallError, NativeCall, SchedOp};
pub use sched::{Config, Dispatch, HandoffMode, Info, Migrant, Scheduler, Slot, State, Tick, Wake};
pub use smp::{Outcome, Smp, WakeOn};
pub use types::{
    Class, CpuId, DispatcherId, Error, Params, Time, Weight, MICROSECOND, MILLISECOND, SECOND,
};

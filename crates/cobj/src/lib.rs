//! # cobj: K42 clustered objects
//!
//! This crate owns K42's object model (paper §3, §5, §6; notes §1–§3): a
//! **clustered object** is one interface, one [`Root`] per instance and one
//! or more per-processor **Reps**. A [`CoRef`] resolves to the calling
//! processor's Rep through a per-processor local translation table: no
//! lock, no shared write. On the first call from a processor the Root
//! creates that processor's Rep (the *miss path*). Objects are destroyed
//! safely while other processors may still be calling them, by
//! generation-based quiescence ([`quiesce`]); they can be **hot-swapped** to
//! another implementation while in use, with negotiated state transfer
//! ([`swap`]), **monitored** by interposition, and a type's instances can be
//! **upgraded** together through its [`Factory`].
//!
//! The crate is `no_std + alloc`. The machine is reached through the small
//! [`Platform`] trait (current processor, number of processors,
//! run-on-processor); the platform calls [`Runtime::quiescent`] from its
//! timer tick and idle loop. With the `std` feature (default) the
//! [`hosted`] platform runs Linux threads as virtual processors, so the
//! crate is a library user-space programs can use, and is tested with
//! `cargo test`, `loom` and `proptest`.
//!
//! ## The paper's counter, two ways
//!
//! A counter with `inc` and `value`. The shared implementation keeps one
//! count that every processor updates: `value` is one load, but `inc`
//! bounces a cache line between processors. The distributed one keeps a
//! count per processor: `inc` touches only local memory and `value` sums
//! the Reps. Clients see neither; they hold a `CoRef<dyn Counter>`.
//!
//! ```
//! use cobj::hosted::Hosted;
//! use cobj::{Config, Format, Local, RepType, Runtime, StdRoot, Transfer, TransferError};
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! pub trait Counter: Send + Sync {
//!     fn inc(&self);
//!     fn value(&self) -> u64;
//! }
//!
//! const TOTAL: Format = Format("counter-total");
//!
//! /// Shared: one Rep, one count.
//! pub struct Shared(AtomicU64);
//! /// Distributed: one Rep per processor.
//! pub struct Distributed(AtomicU64);
//!
//! impl RepType for Shared {
//!     type Interface = dyn Counter;
//!     type Shared = ();
//!     fn new(_: &(), _: usize) -> Self { Shared(AtomicU64::new(0)) }
//!     fn interface(l: &Local<Self>) -> &Self::Interface { l }
//!     const EXPORTS: &'static [Format] = &[TOTAL];
//!     const IMPORTS: &'static [Format] = &[TOTAL];
//!     fn export(l: &Local<Self>, _: Format) -> Option<Transfer> {
//!         Some(Box::new(l.0.load(Ordering::Relaxed)))
//!     }
//!     fn import(l: &Local<Self>, f: Format, s: Transfer) -> Result<(), TransferError> {
//!         let n = s.downcast::<u64>().map_err(|_| TransferError::BadPayload(f))?;
//!         l.0.fetch_add(*n, Ordering::Relaxed);
//!         Ok(())
//!     }
//! }
//! impl Counter for Local<Shared> {
//!     fn inc(&self) { self.0.fetch_add(1, Ordering::Relaxed); }
//!     fn value(&self) -> u64 { self.0.load(Ordering::Relaxed) }
//! }
//!
//! impl RepType for Distributed {
//!     type Interface = dyn Counter;
//!     type Shared = ();
//!     fn new(_: &(), _: usize) -> Self { Distributed(AtomicU64::new(0)) }
//!     fn interface(l: &Local<Self>) -> &Self::Interface { l }
//!     // Each processor's worker exports its own count ...
//!     const EXPORTS: &'static [Format] = &[TOTAL];
//!     const IMPORTS: &'static [Format] = &[TOTAL];
//!     fn export(l: &Local<Self>, _: Format) -> Option<Transfer> {
//!         Some(Box::new(l.0.load(Ordering::Relaxed)))
//!     }
//!     // ... and the shared Rep adds them all up (or processor 0 gets the
//!     // whole total when going the other way).
//!     fn import(l: &Local<Self>, f: Format, s: Transfer) -> Result<(), TransferError> {
//!         let n = s.downcast::<u64>().map_err(|_| TransferError::BadPayload(f))?;
//!         l.0.fetch_add(*n, Ordering::Relaxed);
//!         Ok(())
//!     }
//! }
//! impl Counter for Local<Distributed> {
//!     fn inc(&self) { self.0.fetch_add(1, Ordering::Relaxed); }
//!     fn value(&self) -> u64 { self.reps().map(|r| r.0.load(Ordering::Relaxed)).sum() }
//! }
//!
//! // Setup: four virtual processors; each thread enters one.
//! let rt = Runtime::new(Hosted::new(4)?, Config::default())?;
//! let counter = rt.create(StdRoot::<Shared>::shared(()))?;
//!
//! std::thread::scope(|s| {
//!     // Usage under load: four threads increment ...
//!     for cpu in 0..4 {
//!         let (rt, counter) = (&rt, counter.clone());
//!         s.spawn(move || {
//!             let me = rt.enter(cpu).unwrap();
//!             for _ in 0..10_000 {
//!                 counter.call(|c| c.inc()).unwrap();
//!                 me.quiescent(); // a quiescent point: no Rep reference held here
//!             }
//!         });
//!     }
//!     // ... while the counter is swapped to the distributed implementation
//!     // and back. No increment is lost or counted twice.
//!     counter.switch(StdRoot::<Distributed>::per_cpu(())).unwrap();
//!     counter.switch(StdRoot::<Shared>::shared(())).unwrap();
//! });
//!
//! let _me = rt.enter(0)?;
//! assert_eq!(counter.call(|c| c.value())?, 40_000);
//! # Ok::<(), cobj::Error>(())
//! ```
//!
//! ## Setup for a kernel
//!
//! Implement [`Platform`] on the per-processor data (processor id from the
//! per-CPU segment, `run_on` as "IPI and wait", `run_on_all` as a
//! broadcast, `now` as the TSC), build one `Runtime<KernelPlatform>` after
//! the processors are up (a `static` through a once-cell), mark each
//! processor online with [`Runtime::cpu_online`] on that processor, and
//! call [`Runtime::quiescent`] from the timer tick and the idle loop. The
//! platform contract ([`Platform`]'s safety section): calls made as one
//! processor nest (interrupts and IPIs run to completion), so a kernel
//! thread must not be preempted inside a call; blocking voluntarily is
//! fine. Swaps and [`Runtime::synchronize`] block until quiescence: run them
//! from a thread, not from an interrupt handler, and not inside a call
//! (that is the [`Error::InCall`] error).
//!
//! A sketch of the kernel side (names are the kernel's):
//!
//! ```ignore
//! struct KernelCpus;
//!
//! // SAFETY: `current_cpu` reads this CPU's number from its per-CPU block
//! // (always < cpu_count), and kernel threads are not preempted inside a
//! // clustered-object call, so calls on one CPU nest.
//! unsafe impl cobj::Platform for KernelCpus {
//!     fn cpu_count(&self) -> usize { percpu::count() }
//!     fn current_cpu(&self) -> Option<cobj::CpuId> { Some(percpu::current().id) }
//!     fn run_on(&self, cpu: cobj::CpuId, f: &(dyn Fn(cobj::CpuId) + Sync)) {
//!         ipi::call_and_wait(cpu, || f(cpu));
//!     }
//!     fn now(&self) -> u64 { arch::rdtsc() }
//! }
//!
//! static COS: spin::Once<cobj::Runtime<KernelCpus>> = spin::Once::new();
//! // After SMP bring-up, on the boot CPU:
//! COS.call_once(|| cobj::Runtime::new(KernelCpus, cobj::Config::default()).unwrap());
//! // On every CPU, once it takes timer ticks:
//! COS.get().unwrap().cpu_online(this_cpu).unwrap();
//! // In the timer tick and the idle loop:
//! COS.get().unwrap().quiescent();
//! ```
//!
//! ## Hosted use
//!
//! `Runtime::new(Hosted::new(n)?, Config::default())`, then each thread
//! that calls clustered objects enters a virtual processor
//! ([`Runtime::enter`]) and calls [`Runtime::quiescent`] (or
//! [`hosted::Processor::quiescent`]) now and then at a point where it holds
//! nothing it got from a call. A thread that stops calling objects drops
//! its `Processor` guard, so quiescence does not wait for it.
//!
//! ## Module map
//!
//! - [`Runtime`]: translation tables, ids, the miss path, destruction.
//! - [`CoRef`], [`WeakRef`]: client handles.
//! - [`Root`], [`StdRoot`], [`RepType`], [`Local`]: Roots and Reps.
//! - [`quiesce`]: generations, the token, markers.
//! - [`swap`]: hot swap and monitors.
//! - [`factory`]: factories and dynamic upgrade.
//! - [`hosted`]: the Linux platform (feature `std`).
//!
//! ## Choices
//!
//! - `spin` (no_std) provides the few internal locks; they are taken on
//!   cold paths only (id allocation, deferred-reclamation lists).
//! - `libc` (hosted only) provides `sched_setaffinity`.
//! - `crossbeam-epoch` and `arc-swap` were refused: the point is K42's own
//!   generation scheme, which puts no atomic read-modify-write on the call
//!   path (epoch pinning does), and a Root/Rep model those crates lack.
//! - The [`Root`] trait is public for documentation, but Reps are created
//!   only through [`StdRoot`]'s cells ([`Local`]), which keeps the
//!   self-referential Rep layout inside this crate.
#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs)]

extern crate alloc;

mod coref;
mod error;
pub mod factory;
#[cfg(feature = "std")]
pub mod hosted;
mod platform;
pub mod quiesce;
mod root;
mod runtime;
pub mod swap;
mod sync;

pub use coref::{CoRef, WeakRef};
pub use error::Error;
pub use factory::{Factory, UpgradeReport, Version};
pub use platform::{CpuId, Platform, MAX_CPUS};
pub use root::{
    BadClusterSize, Format, Local, Rep, RepType, Root, Shape, StdRoot, Transfer, TransferError,
};
pub use runtime::{Config, Runtime};
pub use swap::{MonitorStats, SwitchError};

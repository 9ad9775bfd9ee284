//! # kalloc: K42's locality-aware memory allocator
//!
//! This crate owns the kernel heap: every `Box`, `Vec` and clustered-object
//! representative the kernel creates comes from here. It implements K42's
//! *locality-aware dynamic memory allocation* (K42 paper §3; `LMalloc`,
//! `GMalloc` and `PMalloc` in the original `lib/libc/alloc`): an object is
//! created on the processor that uses it, in memory local to that
//! processor's NUMA node, without a shared lock.
//!
//! ## Three layers
//!
//! 1. **Per processor**: for each of 24 size classes from 16 B to 2 KiB,
//!    free lists that only their processor touches. The fast path of an alloc or a free is a handful of plain
//!    loads and stores: no lock, no atomic read-modify-write. The kernel
//!    guarantees exclusivity by running it with interrupts off; the hosted
//!    build by binding each virtual processor to one thread at a time.
//! 2. **Per NUMA node**: trades *whole lists* of free blocks with the
//!    processors of its node, under a short spin lock per class: one lock
//!    round trip per batch (8 to 128 blocks) of allocations or frees.
//! 3. **Pages**: the node layer carves new lists out of 64 KiB spans of its
//!    node's pages, taken from a [`PageSource`] (the kernel's frame
//!    allocator), and gives spans back once all their blocks are free and
//!    it holds more lists than it keeps. Requests above 2 KiB go straight
//!    to pages.
//!
//! Frees of memory that belongs elsewhere are batched and sent home: a global
//! block homed on another node goes into a per-(node, class) batch that is
//! handed to that node's layer as a whole list; a strictly-local block owned
//! by another processor goes into a batch pushed onto the owner's lock-free
//! [`RemoteStack`] (the handoff the loom model in `tests/loom.rs` checks).
//!
//! ## Flavours
//!
//! K42 distinguished three kinds of memory, and so does [`Flavour`]:
//! *strictly local* (only its processor keeps it: its cache lines are never
//! shared with another processor's blocks), *global* (any processor may free
//! it and keep it; what `GlobalAlloc` hands out) and *global padded* (global,
//! rounded to whole cache lines so that no two objects share a line).
//!
//! ## NUMA
//!
//! The node of each processor and of each memory range is configuration
//! ([`Config`]), which the kernel reads from ACPI SRAT. Allocation is local
//! node first: a processor refills from its own node's lists and pages, and
//! borrows from other nodes (in order) only when its node is exhausted.
//! Statistics per processor ([`Kalloc::cpu_stats`]) and per node
//! ([`Kalloc::node_stats`]) show where memory went.
//!
//! ## Hardening
//!
//! Debug builds (or the `hardening` feature) keep a bitmap of live blocks in
//! every span header and panic with a clear message on a double free, a
//! pointer kalloc never handed out, or a mismatched layout. Free blocks are
//! poisoned with `0xde` (past their two link words) and the poison is
//! checked when a block is handed out again, so a write after free panics
//! at the next allocation of that block.
//!
//! ## Setup
//!
//! The kernel provides a [`Platform`] (the current processor, with
//! interrupts off around the closure) and a [`PageSource`] (its frame
//! allocator, in the direct map), makes the allocator its
//! `#[global_allocator]` and calls [`Kalloc::init`] once the frame allocator
//! and the SRAT are known. Until then allocations fail (return null); a
//! kernel that needs a heap earlier wraps both heaps in
//! [`handover::Handover`] instead, as its `#[global_allocator]`.
//!
//! ```no_run
//! use core::ptr::NonNull;
//! use kalloc::{Config, Kalloc, NodeRange, PageSource, Platform};
//! # fn irq_save() -> bool { false }
//! # fn irq_restore(_: bool) {}
//! # fn this_cpu() -> usize { 0 }
//! # fn frames_alloc(_: usize, _: usize, _: usize) -> Option<NonNull<u8>> { None }
//! # fn frames_free(_: NonNull<u8>, _: usize) {}
//!
//! struct KernelCpus;
//!
//! // SAFETY: with interrupts off (and no preemption in the kernel) nothing
//! // else runs on this processor until `f` returns.
//! unsafe impl Platform for KernelCpus {
//!     fn with_cpu<R>(&self, f: impl FnOnce(usize) -> R) -> R {
//!         let saved = irq_save();
//!         let r = f(this_cpu());
//!         irq_restore(saved);
//!         r
//!     }
//! }
//!
//! struct FramePages;
//!
//! // SAFETY: the frame allocator hands out unused direct-map pages and
//! // never allocates from the heap.
//! unsafe impl PageSource for FramePages {
//!     fn alloc_pages(&self, node: usize, pages: usize, align: usize) -> Option<NonNull<u8>> {
//!         frames_alloc(node, pages, align)
//!     }
//!     unsafe fn free_pages(&self, ptr: NonNull<u8>, pages: usize) {
//!         frames_free(ptr, pages)
//!     }
//! }
//!
//! #[global_allocator]
//! static HEAP: Kalloc<KernelCpus, FramePages> = Kalloc::new(KernelCpus, FramePages);
//!
//! fn main() {
//!     // From the MADT and SRAT: processors 0-1 on node 0, 2-3 on node 1.
//!     let cpu_nodes = [0, 0, 1, 1];
//!     let ranges = [
//!         NodeRange { start: 0xffff_8000_0000_0000, end: 0xffff_8000_4000_0000, node: 0 },
//!         NodeRange { start: 0xffff_8000_4000_0000, end: 0xffff_8000_8000_0000, node: 1 },
//!     ];
//!     HEAP.init(&Config { nodes: 2, cpu_nodes: &cpu_nodes, ranges: &ranges })
//!         .expect("kernel heap");
//! }
//! ```
//!
//! ## In-kernel tests
//!
//! [`selftest`] holds the stress test and the NUMA placement check, written
//! against the allocator alone: run [`selftest::stress`] on every processor
//! at once (with one [`RemoteStack`] mailbox per processor), then
//! [`selftest::stress_drain`] on each; run [`selftest::check_placement`] on
//! each processor with a closure mapping an address to its SRAT node;
//! [`selftest::measure_pair`] with `rdtsc` gives cycles per alloc + free.
//!
//! ## Limits
//!
//! - A node gives a span of global blocks back to the page layer only once
//!   every block carved from it has come back to the node and the node holds
//!   more free lists of that class than it keeps ([`node::KEEP_LISTS`]);
//!   blocks cached in processors' lists keep their spans. A processor's
//!   strictly-local list keeps two batches per class and gives the rest back
//!   to its spans the same way. Large blocks go back to pages as soon as
//!   they are freed.
//! - Each processor may cache up to about 64 KiB of free global blocks per
//!   class (a main list and a few spare lists, so that its working set does
//!   not migrate through the node layer): 1.5 MiB per processor if all 24
//!   classes are hot at once.
//! - Until [`Kalloc::init`] every allocation fails. The kernel switches
//!   from its bootstrap heap once the frame allocator and SRAT are known;
//!   [`handover::Handover`] is a `#[global_allocator]` that does exactly
//!   that, and frees bootstrap blocks to the bootstrap heap by address.
//! - The allocator must not be called from NMI handlers (they can interrupt
//!   the interrupts-off fast path).
//!
//! ## Usage
//!
//! Hosted, with the `std` feature (on by default), [`hosted::KallocSystem`]
//! is a ready-made `#[global_allocator]` backed by `mmap`, with virtual
//! processors bound to threads and NUMA simulated by configuration:
//!
//! ```
//! use kalloc::hosted::KallocSystem;
//!
//! // Four virtual processors on two simulated nodes.
//! static HEAP: KallocSystem = KallocSystem::with_numa(4, 2);
//!
//! let layout = std::alloc::Layout::new::<[u64; 4]>();
//! let p = HEAP.allocate(layout, kalloc::Flavour::LocalStrict).unwrap();
//! // SAFETY: `p` came from `HEAP` with `layout`.
//! unsafe { HEAP.free(p, layout) };
//! let me = HEAP.current_cpu().unwrap();
//! assert_eq!(HEAP.cpu_stats(me).unwrap().frees, 1);
//! ```
//!
//! (`#[global_allocator] static A: KallocSystem = KallocSystem::new();` makes
//! it the process allocator.)
//!
//! ## Dependencies
//!
//! None in the kernel build. `libc` (hosted only) for `mmap`. `loom` (only
//! under `--cfg loom`) to model-check the remote-free handoff and the node
//! lock. `spin` and `crossbeam-utils` were not taken: the crate needs one
//! spin lock and one cache-line wrapper, a dozen lines each, and owning them
//! lets loom check them.
#![no_std]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

mod block;
pub mod class;
mod cpu;
pub mod handover;
mod heap;
#[cfg(feature = "std")]
pub mod hosted;
mod lock;
pub mod node;
pub mod platform;
pub mod remote;
pub mod selftest;
pub mod span;
mod spans;
mod stats;
mod sync;

pub use block::Block;
pub(crate) use heap::Tables;
pub use heap::{Flavour, Kalloc, MAX_CPUS, MAX_NODES, MAX_RANGES};
pub use platform::{Config, CpuId, InitError, NodeId, NodeRange, PageSource, Platform};
pub use remote::RemoteStack;
pub use stats::{CpuStats, NodeStats};

/// Internals exposed for the loom model (`tests/loom.rs`) only.
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_support {
    pub use crate::lock::SpinLock;
}

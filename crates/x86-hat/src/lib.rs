//! # x86-hat: K42's HAT on x86-64 page tables
//!
//! The memory-management objects ([`mm`]) decide *which* frame backs a
//! page; the HAT (hardware address translation, paper §4) installs the
//! translation. This crate is that HAT for x86-64 four-level paging, and
//! the only place in K42-rs that edits user page tables:
//!
//! - **Segments.** A page table (2 MiB of address space) or a page
//!   directory (1 GiB) is a [`SegmentHat`](mm::SegmentHat): a node owning
//!   its subtree, reference counted, so [`Hat::share_segment`] links the
//!   same table into a second address space and both see every mapping
//!   made through either.
//! - **Processor-specific memory.** Each processor running a space loads
//!   its own PML4 ([`X86Hat::root`]). They share every page-directory-
//!   pointer table except in the 512 GiB slots used for
//!   [`Scope::Cpu`](mm::Scope) mappings, where each processor has its own
//!   subtree: the same virtual address, a different frame per processor
//!   (K42's per-processor regions).
//! - **Shootdowns** go only to the processors that ran the space
//!   ([`Hat::activate`] records them), plus those of the spaces sharing a
//!   segment on the way to the entry; a processor-scoped mapping only to
//!   its processor.
//! - **2 MiB pages** are page-directory entries; a 4 KiB mapping inside
//!   one, or a 2 MiB page over live 4 KiB ones, is refused.
//!
//! What the kernel provides is a [`TablePlatform`]: table frames, their
//! address in the direct map, the kernel half of every PML4, and the
//! shootdown IPI. Hosted, [`hosted::HostTables`] keeps the tables in heap
//! memory (a table's "physical address" is its address), so the whole HAT,
//! and [`mm`]'s fault path over it, run under `cargo test`; the MMU is
//! played by [`X86Hat::translate`], a software walk of the real entries.
//! `examples/fault_scaling.rs` times that fault path on real threads (one
//! static binary for a many-core machine; docs/perf/mm.md).
//!
//! ## Setup and usage (hosted)
//!
//! ```
//! use mm::{Access, Hat, Pfn, Prot, Scope};
//! use x86_hat::{hosted::HostTables, X86Hat};
//!
//! let tables: &'static HostTables = Box::leak(Box::new(HostTables::new(2)));
//! let hat = X86Hat::new(tables)?;
//! hat.map(0x40_0000, Pfn(7), Prot::RW, false, Scope::All)?;
//! let _cr3 = hat.root(0)?;                  // what processor 0 would load
//! hat.activate(0);
//! assert_eq!(hat.translate(0, 0x40_0123, Access::Write), Some((Pfn(7), 0x123)));
//! assert_eq!(hat.translate(0, 0x40_1000, Access::Read), None); // a page fault
//! hat.unmap(0x40_0000, Scope::All);
//! assert_eq!(tables.shootdowns(), vec![(0b1, 0x40_0000, 4096)]); // only cpu 0 ran it
//! drop(hat);
//! assert_eq!(tables.live_tables(), 0);
//! # Ok::<(), mm::MmError>(())
//! ```
//!
//! In the kernel: `X86Hat::new(&KERNEL_TABLES)`, then on every switch to
//! the space `hat.activate(cpu)` and `CR3 <- hat.root(cpu)`; the page-fault
//! handler calls [`mm::AddressSpace::fault`], which calls back into
//! [`Hat::map`].
//!
//! ## Choices
//!
//! - Not the `x86_64` crate's `OffsetPageTable`: it walks one PML4 and
//!   frees nothing, while a HAT needs tables shared by several parents
//!   (segments, per-processor PML4s) and freed with the last of them.
//!   The kernel's own tables keep using it.
//! - Entries are atomics: the MMU sets accessed and dirty bits while we
//!   edit, so every change is a swap or compare-and-swap on the entry.
//!   A directory's child tables are atomic pointers too: a walk takes no
//!   lock and no reference count (processors faulting in different
//!   regions write no shared line on the way down); a short spin lock
//!   serializes adding a table and retiring one (kept until its parent
//!   goes, and reused for the same slot).
#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs)]

extern crate alloc;

pub mod entry;
mod hat;
#[cfg(feature = "std")]
pub mod hosted;
mod node;
mod slot;

pub use entry::Entry;
pub use hat::X86Hat;
pub use node::entry_span;

use core::sync::atomic::AtomicU64;
use mm::CpuMask;

/// What the HAT needs from the machine.
///
/// # Safety
///
/// [`table`](TablePlatform::table) must return a pointer through which the
/// 4 KiB frame at physical address `pa` can be read and written as 512
/// `AtomicU64`s, for every `pa` returned by
/// [`alloc_table`](TablePlatform::alloc_table) and not yet passed to
/// [`free_table`](TablePlatform::free_table); and `alloc_table` must return
/// zeroed, 4 KiB-aligned frames used by nothing else.
pub unsafe trait TablePlatform: Send + Sync + 'static {
    /// A zeroed 4 KiB frame for a page table: its physical address.
    fn alloc_table(&self) -> Option<u64>;
    /// Returns a table frame.
    fn free_table(&self, pa: u64);
    /// Where the table at `pa` is mapped.
    fn table(&self, pa: u64) -> *const AtomicU64;
    /// Entry `index` (256..512) of the kernel's PML4, copied into every
    /// processor's PML4 of every space. Must never change afterwards.
    fn kernel_entry(&self, index: usize) -> u64;
    /// Processors of the machine.
    fn cpu_count(&self) -> usize;
    /// Invalidates `[va, va + len)` in the TLBs of the processors in
    /// `cpus` (this one included, if named) and returns once they have.
    fn shootdown(&self, cpus: CpuMask, va: u64, len: u64);
}

mod sync {
    //! Spin locks: spinning in the kernel, yielding when hosted.
    #[cfg(feature = "std")]
    type Relax = spin::relax::Yield;
    #[cfg(not(feature = "std"))]
    type Relax = spin::relax::Spin;
    pub type Mutex<T> = spin::mutex::SpinMutex<T, Relax>;
}

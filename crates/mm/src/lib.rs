//! # mm: K42's memory-management objects
//!
//! This crate owns the object layer of virtual memory (paper §4, notes §4):
//! the **Process**, **Region**, **FR**, **FCM**, **PM** and **HAT** objects
//! and the page-fault path through them. Every object but the HAT is a
//! clustered object of the [`cobj`] runtime, so each instance picks its own
//! implementation (a per-processor Region, a replicated Process, a clock
//! FCM) and can change it live: [`swap_policy`] hot-swaps a Region's FCM
//! from FIFO to clock while other processors fault pages in it.
//!
//! The crate is `no_std + alloc` and knows nothing of the machine: page
//! tables are behind the [`Hat`] trait, physical memory behind [`Frames`],
//! processors behind cobj's `Platform`. Hosted (feature `std`, default),
//! [`SoftHat`] (page tables as maps, with simulated per-processor TLBs) and
//! [`SimFrames`] (a simulated physical memory with contents) run the whole
//! fault path on Linux threads, where it is unit-, property- and
//! stress-tested.
//!
//! ## How a page fault flows
//!
//! ```text
//! #PF on cpu k at va          AddressSpace::fault(va, access)
//!   Process  (list of Regions; one copy per processor if replicated)
//!     finds the Region covering va             else BadAddress -> SIGSEGV
//!   Region   (immutable: start, len, prot, FCMs)
//!     checks the protection                    else Protection -> SIGSEGV
//!     computes the file offset (+ k * len for per-processor memory)
//!   FCM      (the cache of one file; paging policy)
//!     1. page cached?        map it (read-only if frozen)
//!        being read?         Pending(io): the dispatcher gets the upcall
//!     2. in the backing FR?  (swap for anonymous memory, the file)
//!                            page in: now, or Pending(io) + completion later
//!     3. in a copy-on-write ancestor?  read: map its frame read-only;
//!                            write: copy it into a new frame (a private
//!                            file mapping's reads map the file's frame
//!                            read-only as a *view* the file's FCM also
//!                            unmaps when it drops the page)
//!     4. zero-fill a new frame
//!     new frames come from the process's leaf PM (which charges them and
//!     asks the root PM, whose per-processor Rep hands out frames from
//!     its cache, refilled in batches near that processor); when full,
//!     the FCM evicts by its own policy
//!   HAT      installs the translation (4 KiB or 2 MiB, all processors or
//!            this one); removing one shoots it down on the processors
//!            that ran the address space
//! ```
//!
//! A fault that needs I/O never blocks: it returns [`MmError::Pending`]
//! / [`Resolved::Pending`] and [`Dispatcher::page_fault_pending`] is
//! called; when the file server finishes, the FR's [`IoDone`] completion
//! fills the page and calls [`Dispatcher::page_fault_done`] (a soft
//! interrupt, in the kernel).
//!
//! Fork makes the pages of each private anonymous FCM a **frozen**
//! ancestor shared by parent and child (a K42 computation-FCM tree): both
//! get a fresh FCM whose misses look up the ancestor, reads map the
//! ancestor's frame read-only, the first store copies. Once one side has
//! exited, the survivor adopts the ancestor's frames on its next fault
//! instead of copying them (fork + exec costs no copies).
//!
//! ## Setup (hosted) and usage
//!
//! ```
//! use std::sync::Arc;
//! use cobj::{hosted::Hosted, Config, Runtime};
//! use mm::{Access, MapOptions, Mm, NullDispatcher, Prot, SimFrames, SoftHat};
//!
//! // The clustered-object runtime lives as long as the memory system.
//! let rt: &'static Runtime<Hosted> = Box::leak(Box::new(Runtime::new(Hosted::new(2)?, Config::default())?));
//! let _cpu = rt.enter(0)?;
//! let mm = Mm::new(rt, Arc::new(SimFrames::new(256)))?;
//!
//! let space = mm.create_space(Arc::new(SoftHat::new(2)), Arc::new(NullDispatcher), false)?;
//! space.map_anon(0x40_0000, 0x4000, Prot::RW, MapOptions::default())?;
//! // Files: mm.open_file(server, policy) gives a page cache to map_file
//! // (MAP_SHARED) or map_file_private (copy-on-write).
//! space.write(0x40_0010, b"hello")?;                  // zero-fill fault, then the store
//! let child = space.fork(Arc::new(SoftHat::new(2)), Arc::new(NullDispatcher))?;
//! child.write(0x40_0010, b"HELLO")?;                  // copy-on-write fault in the child
//! let mut buf = [0u8; 5];
//! space.read(0x40_0010, &mut buf)?;
//! assert_eq!(&buf, b"hello");                         // the parent still sees its data
//! assert!(space.read(0x10, &mut buf).is_err());       // EFAULT, not a panic
//! child.destroy()?;
//! space.destroy()?;
//! assert_eq!(mm.frames_in_use()?, 0);
//! # let _ = Access::Read;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## What the kernel must provide
//!
//! - A [`Hat`] on x86-64 page tables: `map`/`unmap`/`protect`/`query`/
//!   `take_accessed` on 4 KiB and 2 MiB entries, segments as page-table
//!   subtrees per 2 MiB or 1 GiB linked into one or several PML4s
//!   ([`Hat::share_segment`]), processor-scoped mappings for
//!   per-processor regions (a per-CPU top-level entry), `activate` on each
//!   CR3 switch to record the processors that ran the space, and a
//!   [`TlbShootdown`] that IPIs exactly those processors and waits. Only
//!   this part touches page tables, so it lives in the low-level crate.
//! - A [`Frames`] over the frame allocator and the direct map (alloc of 1
//!   or 512 aligned frames, batches of single frames from a processor's
//!   NUMA node, zero, copy, read, write).
//! - cobj's `Platform` and runtime (a `static`), with the quiescent hook in
//!   the timer tick and idle loop.
//! - The #PF handler: on a user fault, `space.fault(cr2, access)` on the
//!   faulting processor; `Mapped` returns to the instruction,
//!   `BadAddress`/`Protection` become SIGSEGV, `Pending` runs another
//!   thread (the dispatcher upcall). Kernel code touching user memory
//!   uses the fault-and-retry loop of [`AddressSpace::read`] with an
//!   exception-table fixup, so a bad pointer is EFAULT.
//! - A [`Dispatcher`] (the user-space scheduler's upcall and soft interrupt;
//!   until then a kernel-side test double) and, for files, a
//!   [`FileServer`].
//!
//! ## Choices
//!
//! - `spin` provides the locks (no_std; yielding when hosted). An FCM keeps
//!   its whole state under one lock: the lock is per file, and the
//!   partitioned Region is the answer for a hot shared one.
//! - No `loom` model: the concurrency of this crate is locks plus cobj's
//!   swap, which cobj already model-checks; the stress test covers the
//!   swap under faults on real threads.
//! - Tracing: [`FaultTrace`] hooks (every fault, with its outcome); the
//!   kernel maps them to ktrace events, this crate does not depend on
//!   ktrace.
//! - Not done yet: relinking past an emptied frozen ancestor, trace
//!   points inside the FCM (eviction, I/O), chunked partial unmap of per-processor and partitioned
//!   regions (they change only as a whole).
//!
//! ## Module map
//!
//! - [`hat`]: the [`Hat`] / [`SegmentHat`] / [`TlbShootdown`] traits and
//!   [`SoftHat`].
//! - [`frames`]: the [`Frames`] trait and [`SimFrames`].
//! - [`pm`]: root and leaf page managers.
//! - [`fr`]: FRs ([`AnonFr`], [`FileFr`]), the [`FileServer`] interface and
//!   its [`MemFile`] test double.
//! - [`fcm`]: FCMs, kinds, policies, hot swap.
//! - [`region`], [`process`]: the Region and Process objects.
//! - [`AddressSpace`], [`Mm`]: the operations and the fault entry point.
//!
//! An [`AddressSpace`] must be torn down with [`AddressSpace::destroy`]
//! (on a processor): dropping it without that leaves its frames charged.
#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs)]
#![deny(unsafe_code)]

extern crate alloc;

pub mod fcm;
pub mod fr;
pub mod frames;
pub mod hat;
pub mod pm;
pub mod process;
pub mod region;
mod space;
mod types;

pub use fcm::{
    create_fcm, release_chain, swap_policy, Clock, Dispatcher, Fcm, FcmCore, FcmInfo, FcmKind,
    FcmRef, Fifo, PagedFcm, Pinned, Policy, PolicyKind, Resolved,
};
pub use fr::{AnonFr, FileFr, FileServer, Fr, IoDone, MemFile, PageIn, ReadStart};
pub use frames::{Frames, SimFrames};
pub use hat::{CpuMask, Hat, Pte, Scope, SegmentHat, SoftHat, TlbShootdown};
pub use pm::Pm;
pub use process::{Process, ProcessRef};
pub use region::{Region, RegionInfo, RegionKind, RegionRef};
pub use space::{AddressSpace, FaultTrace, MapOptions, MappedFile, Mm, Mmu};
pub use types::{
    check_user_range, Access, CpuId, IoId, MmError, Pfn, Prot, LARGE_PAGE_SIZE, PAGES_PER_LARGE,
    PAGE_SIZE, USER_END,
};

/// A handle on a PM.
pub type PmRef<P> = cobj::CoRef<'static, dyn Pm<P>, P>;
/// A handle on an FR.
pub type FrRef<P> = cobj::CoRef<'static, dyn Fr, P>;

/// A dispatcher that ignores upcalls (for processes that never fault on
/// files).
pub struct NullDispatcher;

impl Dispatcher for NullDispatcher {
    fn page_fault_pending(&self, _: IoId, _: u64) {}
    fn page_fault_done(&self, _: IoId, _: Result<(), MmError>) {}
}

/// A dispatcher test double that records its upcalls.
#[derive(Default)]
pub struct RecordingDispatcher {
    events: sync::Mutex<alloc::vec::Vec<DispatcherEvent>>,
}

/// An upcall seen by [`RecordingDispatcher`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DispatcherEvent {
    /// `page_fault_pending(io, va)`.
    Pending(IoId, u64),
    /// `page_fault_done(io, ok)`.
    Done(IoId, bool),
}

impl RecordingDispatcher {
    /// The upcalls so far.
    pub fn events(&self) -> alloc::vec::Vec<DispatcherEvent> {
        self.events.lock().clone()
    }
}

impl Dispatcher for RecordingDispatcher {
    fn page_fault_pending(&self, io: IoId, va: u64) {
        self.events.lock().push(DispatcherEvent::Pending(io, va));
    }
    fn page_fault_done(&self, io: IoId, result: Result<(), MmError>) {
        self.events
            .lock()
            .push(DispatcherEvent::Done(io, result.is_ok()));
    }
}

mod sync {
    //! Lock types: spinning in the kernel, yielding when hosted (threads
    //! may outnumber cores there).
    #[cfg(feature = "std")]
    type Relax = spin::relax::Yield;
    #[cfg(not(feature = "std"))]
    type Relax = spin::relax::Spin;
    pub type Mutex<T> = spin::mutex::SpinMutex<T, Relax>;
    pub type MutexGuard<'a, T> = spin::mutex::SpinMutexGuard<'a, T>;
    pub type RwLock<T> = spin::rwlock::RwLock<T, Relax>;
}

//! What the allocator needs from its environment: processors, and pages.
//!
//! The kernel implements these two traits over its per-processor data and
//! its frame allocator; [`crate::hosted`] implements them over threads and
//! `mmap`. Nothing else in the crate knows which one it runs on.

use core::ptr::NonNull;

/// A NUMA node number, `0 .. Config::nodes`.
pub type NodeId = usize;

/// A processor number, `0 .. Config::cpu_nodes.len()`.
pub type CpuId = usize;

/// The processors the allocator runs on, and exclusive use of the current
/// one.
///
/// # Safety
/// Implementations promise that while `f` runs inside [`Platform::with_cpu`]:
/// - the id passed to `f` is below the configured processor count, and
/// - no other call of `with_cpu` on any thread passes the same id to its
///   closure (in the kernel: interrupts and preemption are off, and the id is
///   this processor's; hosted: the id is a slot owned by this thread).
///
/// The allocator's per-processor lists are plain memory guarded by nothing
/// else, so breaking this is a data race.
pub unsafe trait Platform: Sync {
    /// Runs `f` with the id of the current processor, which nobody else uses
    /// until `f` returns. `f` never calls `with_cpu` itself.
    fn with_cpu<R>(&self, f: impl FnOnce(CpuId) -> R) -> R;

    /// Called while spinning on a node-layer lock. The kernel spins; the
    /// hosted build yields so a preempted lock holder can run.
    fn relax(&self) {
        core::hint::spin_loop();
    }
}

/// [`Platform::relax`] as a trait object, so the allocator's slow paths can
/// take it without knowing the platform type.
pub(crate) trait Relax {
    fn relax(&self);
}

impl<P: Platform> Relax for P {
    #[inline]
    fn relax(&self) {
        Platform::relax(self)
    }
}

/// The page layer underneath: runs of 4 KiB pages, per NUMA node.
///
/// In the kernel this is the frame allocator, handing out addresses in the
/// direct map.
///
/// # Safety
/// `alloc_pages` returns memory that is readable, writable, not used by
/// anything else until given back, `pages * 4096` bytes long and aligned to
/// `align`; it must not call back into the allocator.
pub unsafe trait PageSource: Sync {
    /// Allocates `pages` contiguous pages on `node` (only there: the
    /// allocator does its own fallback to other nodes), aligned to `align`,
    /// a power of two of at least 4096. `None` when the node has no such run.
    ///
    /// The allocator asks for alignments above 4096 only for its 64 KiB spans
    /// (`pages` = 16, `align` = 64 KiB, which a buddy allocator meets
    /// naturally) and for large requests that ask for it themselves.
    fn alloc_pages(&self, node: NodeId, pages: usize, align: usize) -> Option<NonNull<u8>>;

    /// Gives back a run from [`PageSource::alloc_pages`].
    ///
    /// # Safety
    /// `ptr` and `pages` are exactly those of an earlier `alloc_pages` run
    /// not given back yet, and nothing uses the memory any more.
    unsafe fn free_pages(&self, ptr: NonNull<u8>, pages: usize);
}

/// A range of memory and the node it lives on (from ACPI SRAT in the
/// kernel), in the same address space as the page source's pointers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeRange {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// The node.
    pub node: NodeId,
}

/// The machine as the allocator sees it, given once to
/// [`crate::Kalloc::init`]. The kernel fills it from the ACPI MADT and SRAT
/// (one node holding everything when there is no SRAT).
#[derive(Clone, Copy, Debug)]
pub struct Config<'a> {
    /// Number of NUMA nodes (at least 1).
    pub nodes: usize,
    /// `cpu_nodes[cpu]` is the node of processor `cpu`; its length is the
    /// number of processors.
    pub cpu_nodes: &'a [NodeId],
    /// Memory ranges and their nodes; may be empty (hosted). Used to answer
    /// [`crate::Kalloc::node_of`] for large blocks.
    pub ranges: &'a [NodeRange],
}

/// Why [`crate::Kalloc::init`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitError {
    /// `nodes` is zero or above [`crate::MAX_NODES`].
    BadNodeCount(usize),
    /// No processors, or more than [`crate::MAX_CPUS`].
    BadCpuCount(usize),
    /// `cpu_nodes[cpu]` names a node that does not exist.
    CpuOnMissingNode {
        /// The processor.
        cpu: CpuId,
        /// Its (bad) node.
        node: NodeId,
    },
    /// A range is empty or names a node that does not exist.
    BadRange(NodeRange),
    /// More ranges than [`crate::MAX_RANGES`].
    TooManyRanges(usize),
    /// The page source had no memory for the allocator's own tables.
    OutOfMemory,
    /// `init` was already called.
    AlreadyInitialized,
}

impl core::fmt::Display for InitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InitError::BadNodeCount(n) => write!(f, "bad NUMA node count {n}"),
            InitError::BadCpuCount(n) => write!(f, "bad processor count {n}"),
            InitError::CpuOnMissingNode { cpu, node } => {
                write!(f, "processor {cpu} is on node {node}, which does not exist")
            }
            InitError::BadRange(r) => write!(
                f,
                "bad memory range {:#x}..{:#x} on node {}",
                r.start, r.end, r.node
            ),
            InitError::TooManyRanges(n) => write!(f, "{n} memory ranges is too many"),
            InitError::OutOfMemory => f.write_str("no pages for the allocator's tables"),
            InitError::AlreadyInitialized => f.write_str("allocator already initialized"),
        }
    }
}

impl core::error::Error for InitError {}

//! Self-tests the kernel runs on real processors, and the hosted tests run
//! on threads: a cross-processor stress test and a NUMA placement check.
//! They use nothing but the allocator itself, so the in-kernel tests are a
//! few lines: call [`stress`] on every processor, wait for all, call
//! [`stress_drain`] on every processor; call [`check_placement`] on each;
//! [`measure_pair`] with `rdtsc` gives cycles per alloc + free pair.

use core::alloc::Layout;
use core::ptr::NonNull;

use crate::block::Block;
use crate::class::MAX_SMALL;
use crate::platform::{CpuId, NodeId, PageSource, Platform};
use crate::remote::RemoteStack;
use crate::{Flavour, Kalloc};

const FLAVOURS: [Flavour; 3] = [Flavour::LocalStrict, Flavour::Global, Flavour::GlobalPadded];

/// What [`stress`] found wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StressError {
    /// An allocation failed.
    OutOfMemory {
        /// Requested size.
        size: usize,
    },
    /// A block came back misaligned.
    Misaligned {
        /// The block.
        addr: usize,
        /// The alignment asked for.
        align: usize,
    },
    /// A block's contents changed while it was live (overlap, or a free
    /// list writing into a live block).
    Corrupted {
        /// The block.
        addr: usize,
    },
    /// `peers` is shorter than the number of processors, or `cpu` is not
    /// a processor of this allocator.
    BadArguments,
}

/// Counts from one processor's [`stress`] run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StressReport {
    /// Blocks allocated.
    pub allocated: u64,
    /// Blocks freed here that this processor allocated.
    pub freed_own: u64,
    /// Blocks freed here that another processor allocated.
    pub freed_foreign: u64,
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Block header while a block travels: word 0 is the mailbox link, word 1
/// describes the block so the receiver can check and free it.
fn pack(size: usize, align_log: u32, flavour: usize, tag: u8) -> usize {
    size | (align_log as usize) << 32 | flavour << 40 | (tag as usize) << 48
}

fn unpack(word: usize) -> (Layout, u8) {
    let size = word & 0xffff_ffff;
    let align = 1usize << ((word >> 32) & 0xff);
    let tag = (word >> 48) as u8;
    // Sizes and alignments were valid when packed.
    let layout = Layout::from_size_align(size, align).unwrap_or(Layout::new::<[usize; 2]>());
    (layout, tag)
}

/// Checks and frees a block that carries its description in word 1.
///
/// # Safety
/// `block` is a live block from `heap`, described by its word 1, ours.
unsafe fn check_and_free<P: Platform, S: PageSource>(
    heap: &Kalloc<P, S>,
    block: *mut u8,
) -> Result<(), StressError> {
    // SAFETY: per the caller, at least 16 bytes, word-aligned.
    let word = unsafe { (block as *const usize).add(1).read() };
    let (layout, tag) = unpack(word);
    for i in 16..layout.size() {
        // SAFETY: inside the live block.
        if unsafe { block.add(i).read() } != tag {
            return Err(StressError::Corrupted {
                addr: block as usize,
            });
        }
    }
    // SAFETY: live, from `heap`, with this layout.
    unsafe { heap.free(NonNull::new_unchecked(block), layout) };
    Ok(())
}

/// One processor's share of the stress test. Run it on every processor at
/// once, with the same `peers` (one mailbox per processor). Each round
/// allocates 64 blocks of random size (16 B to 8 KiB, some large), flavour
/// and alignment, fills them, frees half itself and mails the other half to
/// the next processor, which checks and frees them. Call [`stress_drain`]
/// on every processor once all have returned.
pub fn stress<P: Platform, S: PageSource>(
    heap: &Kalloc<P, S>,
    cpu: CpuId,
    peers: &[RemoteStack],
    rounds: usize,
) -> Result<StressReport, StressError> {
    let cpus = heap.cpus();
    if cpu >= cpus || peers.len() < cpus {
        return Err(StressError::BadArguments);
    }
    let next = &peers[(cpu + 1) % cpus];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((cpu as u64 + 1) * 0x2545_f491));
    let mut report = StressReport::default();
    for round in 0..rounds {
        for i in 0..64 {
            let size = if i == 0 {
                MAX_SMALL + 1 + rng.below(6000)
            } else {
                16 + rng.below(MAX_SMALL - 16)
            };
            let align_log = rng.below(7) as u32 + 3;
            let flavour = rng.below(3);
            let layout = Layout::from_size_align(size, 1 << align_log)
                .map_err(|_| StressError::BadArguments)?;
            let p = heap
                .allocate(layout, FLAVOURS[flavour])
                .ok_or(StressError::OutOfMemory { size })?;
            report.allocated += 1;
            let addr = p.as_ptr() as usize;
            if !addr.is_multiple_of(layout.align()) {
                return Err(StressError::Misaligned {
                    addr,
                    align: layout.align(),
                });
            }
            let tag = (round * 31 + i * 7 + cpu) as u8;
            // SAFETY: a fresh block of `size` (≥ 16) bytes, 8-aligned.
            unsafe {
                let words = p.as_ptr() as *mut usize;
                words.add(1).write(pack(size, align_log, flavour, tag));
                p.as_ptr().add(16).write_bytes(tag, size - 16);
            }
            if i % 2 == 0 {
                let b = p.as_ptr() as *mut Block;
                // SAFETY: the block is ours; we give it to the mailbox.
                unsafe { next.push_chain(b, b) };
            } else {
                // SAFETY: live, ours, described by its word 1.
                unsafe { check_and_free(heap, p.as_ptr())? };
                report.freed_own += 1;
            }
        }
        report.freed_foreign += drain_mailbox(heap, &peers[cpu])?;
    }
    Ok(report)
}

fn drain_mailbox<P: Platform, S: PageSource>(
    heap: &Kalloc<P, S>,
    mailbox: &RemoteStack,
) -> Result<u64, StressError> {
    let mut b = mailbox.take_all();
    let mut n = 0;
    while !b.is_null() {
        // SAFETY: blocks in our mailbox are live blocks of `heap` that
        // their sender gave us, described by their word 1.
        unsafe {
            let next = (*b).next();
            check_and_free(heap, b as *mut u8)?;
            b = next;
        }
        n += 1;
    }
    Ok(n)
}

/// Frees what is left in `cpu`'s mailbox after every processor finished
/// [`stress`], and sends this processor's batched remote frees home.
/// Returns how many blocks it freed.
pub fn stress_drain<P: Platform, S: PageSource>(
    heap: &Kalloc<P, S>,
    cpu: CpuId,
    peers: &[RemoteStack],
) -> Result<u64, StressError> {
    let mailbox = peers.get(cpu).ok_or(StressError::BadArguments)?;
    let n = drain_mailbox(heap, mailbox)?;
    heap.flush();
    Ok(n)
}

/// What [`check_placement`] found wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlacementError {
    /// An allocation failed.
    OutOfMemory,
    /// The caller is not on a processor of this allocator.
    NotReady,
    /// A block lives on the wrong node.
    WrongNode {
        /// The block.
        addr: usize,
        /// Its size.
        size: usize,
        /// The allocating processor's node.
        expected: NodeId,
        /// Where `node_of_addr` says it lives (`None`: in no known range).
        found: Option<NodeId>,
    },
}

/// Checks that memory allocated on the current processor, of every flavour
/// and of small and large sizes, lives on this processor's node, according
/// to `node_of_addr` (in the kernel: the SRAT memory ranges applied to the
/// physical address). Returns how many blocks it checked. Run it on a
/// machine whose nodes are not exhausted: falling back to another node is
/// correct behaviour, but this check reports it.
pub fn check_placement<P: Platform, S: PageSource>(
    heap: &Kalloc<P, S>,
    node_of_addr: impl Fn(usize) -> Option<NodeId>,
) -> Result<usize, PlacementError> {
    let cpu = heap.current_cpu().ok_or(PlacementError::NotReady)?;
    let expected = heap.cpu_stats(cpu).ok_or(PlacementError::NotReady)?.node;
    let mut checked = 0;
    for flavour in FLAVOURS {
        for size in [16usize, 100, 512, 2048, 3000, 64 * 1024] {
            let layout = Layout::from_size_align(size, 16).map_err(|_| PlacementError::NotReady)?;
            let p = heap
                .allocate(layout, flavour)
                .ok_or(PlacementError::OutOfMemory)?;
            let addr = p.as_ptr() as usize;
            let found = node_of_addr(addr);
            // SAFETY: just allocated with `layout`.
            unsafe { heap.free(p, layout) };
            if found != Some(expected) {
                return Err(PlacementError::WrongNode {
                    addr,
                    size,
                    expected,
                    found,
                });
            }
            checked += 1;
        }
    }
    Ok(checked)
}

/// Average cost of one alloc + free pair of `size` bytes (global flavour)
/// on the current processor, in units of `clock` (the kernel passes
/// `rdtsc`, giving cycles). Warms the lists first, so this is the fast path.
/// `None` if an allocation fails or `iterations` is zero.
pub fn measure_pair<P: Platform, S: PageSource>(
    heap: &Kalloc<P, S>,
    size: usize,
    iterations: u64,
    clock: impl Fn() -> u64,
) -> Option<u64> {
    let layout = Layout::from_size_align(size.max(1), 8).ok()?;
    let pair = || {
        let p = heap.allocate(core::hint::black_box(layout), Flavour::Global)?;
        // SAFETY: just allocated with `layout`.
        unsafe { heap.free(core::hint::black_box(p), layout) };
        Some(())
    };
    for _ in 0..1000 {
        pair()?;
    }
    let start = clock();
    for _ in 0..iterations {
        pair()?;
    }
    (clock() - start).checked_div(iterations)
}

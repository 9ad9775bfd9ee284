//! Physical frames: the page source under the PMs.
//!
//! The kernel implements [`Frames`] on its frame allocator and its direct
//! map of physical memory; [`SimFrames`] is a simulated physical memory of
//! `n` frames with real byte contents, so tests can check zero-fill and
//! copy-on-write by reading memory back.

use crate::sync::Mutex;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::types::{CpuId, Pfn, PAGE_SIZE};

/// A source of physical frames and access to their contents.
///
/// Runs of `count` frames are naturally aligned (`count` is 1 or
/// [`PAGES_PER_LARGE`](crate::PAGES_PER_LARGE)), as large-page mappings
/// need.
pub trait Frames: Send + Sync {
    /// Allocates `count` contiguous, `count`-aligned frames (contents
    /// undefined), or `None`.
    fn alloc(&self, count: usize) -> Option<Pfn>;
    /// Returns a run from [`alloc`](Frames::alloc).
    fn free(&self, pfn: Pfn, count: usize);
    /// Zero-fills `count` frames.
    fn zero(&self, pfn: Pfn, count: usize);
    /// Copies `count` frames from `src` to `dst`.
    fn copy(&self, src: Pfn, dst: Pfn, count: usize);
    /// Reads bytes at `offset` inside frame `pfn` (`offset + buf.len()` at
    /// most [`PAGE_SIZE`]).
    fn read(&self, pfn: Pfn, offset: usize, buf: &mut [u8]);
    /// Writes bytes at `offset` inside frame `pfn`.
    fn write(&self, pfn: Pfn, offset: usize, data: &[u8]);
    /// Frames currently free.
    fn free_count(&self) -> usize;

    /// Fills `out` with up to `out.len()` single frames, from the memory
    /// nearest processor `cpu` (its NUMA node) where the source knows;
    /// returns how many. The root PM refills a processor's frame cache
    /// with it, so the source's lock is taken once per batch.
    fn alloc_near(&self, cpu: CpuId, out: &mut [Pfn]) -> usize {
        let _ = cpu;
        out.iter_mut()
            .map_while(|slot| self.alloc(1).map(|p| *slot = p))
            .count()
    }

    /// Returns single frames from [`alloc_near`](Frames::alloc_near) or
    /// [`alloc`](Frames::alloc).
    fn free_many(&self, pfns: &[Pfn]) {
        for &p in pfns {
            self.free(p, 1);
        }
    }

    /// Whether frame `pfn` is in processor `cpu`'s memory (its NUMA
    /// node): a frame freed on a processor of another node goes back to
    /// the source instead of that processor's cache.
    fn near(&self, cpu: CpuId, pfn: Pfn) -> bool {
        let _ = (cpu, pfn);
        true
    }
}

/// A simulated physical memory: `n` frames of bytes, next-fit allocation
/// under one lock (a test double: the kernel's source is the frame
/// allocator's bitmap, under the root PM's per-processor caches as here).
pub struct SimFrames {
    mem: Box<[Mutex<Box<[u8]>>]>,
    used: Mutex<(Vec<bool>, usize)>,
    /// Times the allocation lock was taken ([`SimFrames::source_calls`]).
    calls: AtomicUsize,
}

impl SimFrames {
    /// `n` frames, all free and filled with 0xAA (so a missing zero-fill
    /// shows).
    pub fn new(n: usize) -> Self {
        SimFrames {
            mem: (0..n)
                .map(|_| Mutex::new(alloc::vec![0xAA; PAGE_SIZE].into_boxed_slice()))
                .collect(),
            used: Mutex::new((alloc::vec![false; n], 0)),
            calls: AtomicUsize::new(0),
        }
    }

    /// How many times an allocation took the source's lock (one per
    /// [`Frames::alloc`] and one per [`Frames::alloc_near`] batch): what
    /// the root PM's per-processor caches save.
    pub fn source_calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.mem.len()
    }

    /// Whether there are no frames at all.
    pub fn is_empty(&self) -> bool {
        self.mem.is_empty()
    }

    fn frame(&self, pfn: Pfn) -> &Mutex<Box<[u8]>> {
        &self.mem[pfn.0 as usize]
    }
}

/// Next fit for `count` aligned frames: from the hint to the end, then
/// from the start.
fn next_fit((used, hint): &mut (Vec<bool>, usize), count: usize) -> Option<Pfn> {
    for (from, to) in [(*hint, used.len()), (0, *hint + count)] {
        let mut base = from.next_multiple_of(count);
        while base + count <= to.min(used.len()) {
            match used[base..base + count].iter().rposition(|u| *u) {
                None => {
                    used[base..base + count].iter_mut().for_each(|u| *u = true);
                    *hint = base + count;
                    return Some(Pfn(base as u64));
                }
                Some(i) => base = (base + i + 1).next_multiple_of(count),
            }
        }
    }
    None
}

impl Frames for SimFrames {
    fn alloc(&self, count: usize) -> Option<Pfn> {
        if count == 0 {
            return None;
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        next_fit(&mut self.used.lock(), count)
    }

    fn alloc_near(&self, _: CpuId, out: &mut [Pfn]) -> usize {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut g = self.used.lock();
        out.iter_mut()
            .map_while(|slot| next_fit(&mut g, 1).map(|p| *slot = p))
            .count()
    }

    fn free(&self, pfn: Pfn, count: usize) {
        let mut g = self.used.lock();
        for u in &mut g.0[pfn.0 as usize..pfn.0 as usize + count] {
            assert!(*u, "double free of frame");
            *u = false;
        }
        drop(g);
        // Poison freed memory, so use-after-free shows in contents checks.
        for k in 0..count as u64 {
            self.frame(Pfn(pfn.0 + k)).lock().fill(0xDD);
        }
    }

    fn zero(&self, pfn: Pfn, count: usize) {
        for k in 0..count as u64 {
            self.frame(Pfn(pfn.0 + k)).lock().fill(0);
        }
    }

    fn copy(&self, src: Pfn, dst: Pfn, count: usize) {
        for k in 0..count as u64 {
            let data = self.frame(Pfn(src.0 + k)).lock().clone();
            self.frame(Pfn(dst.0 + k)).lock().copy_from_slice(&data);
        }
    }

    fn read(&self, pfn: Pfn, offset: usize, buf: &mut [u8]) {
        buf.copy_from_slice(&self.frame(pfn).lock()[offset..offset + buf.len()]);
    }

    fn write(&self, pfn: Pfn, offset: usize, data: &[u8]) {
        self.frame(pfn).lock()[offset..offset + data.len()].copy_from_slice(data);
    }

    fn free_count(&self) -> usize {
        self.used.lock().0.iter().filter(|u| !**u).count()
    }
}

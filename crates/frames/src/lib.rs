//! The physical frame allocator: which 4 KiB frames of RAM are free.
//!
//! This is the bottom of K42-rs's memory system. It knows nothing of
//! processors or policy: the per-processor allocator (`kalloc`) and the page
//! managers (PM) of the memory-management objects take frames from here in
//! batches and keep their own free lists, as in K42, where the page layer is
//! below the per-processor and per-node layers.
//!
//! The state is one bit per frame (1 = in use) in storage the caller
//! provides, so the allocator works before any heap exists. Allocation is
//! next-fit from a moving hint, which makes the common case one word scan;
//! [`FrameAllocator::alloc_batch`] takes up to a batch of single frames
//! inside a range (one NUMA node's memory) from a caller's hint, for the
//! root PM's per-processor caches;
//! [`FrameAllocator::alloc_contiguous`] finds aligned runs (DMA buffers,
//! 2 MiB large pages) within an optional physical range.
//!
//! A bitmap was picked over a buddy allocator: it needs no memory of its own
//! beyond 32 KiB per GiB, it cannot fragment its own metadata, and the hot
//! paths sit in the layers above. Double frees and frees of frames outside
//! RAM are reported as [`FreeError`], never silently accepted.
//!
//! # Usage
//!
//! ```
//! use frames::{FrameAllocator, Frame};
//! let mut bits = [0u64; 4]; // 256 frames = 1 MiB
//! let mut fa = FrameAllocator::new(&mut bits, 256);
//! fa.add_free_range(0x10000, 0x100000); // RAM from 64 KiB to 1 MiB
//! let f = fa.alloc().unwrap();
//! assert!(f.addr() >= 0x10000);
//! fa.free(f).unwrap();
//! assert_eq!(fa.free(f), Err(frames::FreeError::DoubleFree(f)));
//! ```
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

use core::fmt;

/// The frame size.
pub const FRAME_SIZE: u64 = 4096;

/// A 4 KiB physical frame, named by its frame number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Frame(u64);

impl Frame {
    /// The frame containing physical address `pa`.
    pub const fn containing(pa: u64) -> Self {
        Self(pa / FRAME_SIZE)
    }
    /// The frame with number `n`.
    pub const fn from_number(n: u64) -> Self {
        Self(n)
    }
    /// Its frame number.
    pub const fn number(self) -> u64 {
        self.0
    }
    /// Its physical start address.
    pub const fn addr(self) -> u64 {
        self.0 * FRAME_SIZE
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Frame({:#x})", self.addr())
    }
}

/// Why a free was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// The frame is already free.
    DoubleFree(Frame),
    /// The frame lies beyond the memory this allocator manages.
    OutOfRange(Frame),
}

impl fmt::Display for FreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DoubleFree(fr) => write!(f, "double free of frame {:#x}", fr.addr()),
            Self::OutOfRange(fr) => write!(f, "free of frame {:#x} outside managed RAM", fr.addr()),
        }
    }
}

/// A bitmap frame allocator over frames `0..frames`.
pub struct FrameAllocator<'a> {
    bits: &'a mut [u64],
    frames: u64,
    free: u64,
    hint: usize,
}

impl<'a> FrameAllocator<'a> {
    /// Words of storage needed for `frames` frames.
    pub const fn words_for(frames: u64) -> usize {
        frames.div_ceil(64) as usize
    }

    /// An allocator for `frames` frames with every frame in use. `bits`
    /// must hold [`Self::words_for`]`(frames)` words.
    ///
    /// # Panics
    /// If `bits` is too small: a boot-time configuration error.
    pub fn new(bits: &'a mut [u64], frames: u64) -> Self {
        assert!(
            bits.len() >= Self::words_for(frames),
            "frame bitmap of {} words cannot hold {frames} frames",
            bits.len()
        );
        bits.fill(!0);
        Self {
            bits,
            frames,
            free: 0,
            hint: 0,
        }
    }

    /// Frames managed (free or not).
    pub fn total(&self) -> u64 {
        self.frames
    }

    /// Frames free now.
    pub fn free_count(&self) -> u64 {
        self.free
    }

    fn is_used(&self, n: u64) -> bool {
        self.bits[(n / 64) as usize] & (1 << (n % 64)) != 0
    }

    fn set(&mut self, n: u64, used: bool) {
        let w = &mut self.bits[(n / 64) as usize];
        if used {
            *w |= 1 << (n % 64);
        } else {
            *w &= !(1 << (n % 64));
        }
    }

    /// Marks the whole frames inside `[start, end)` free. Partial frames at
    /// either end stay in use; frames beyond the managed range are ignored.
    pub fn add_free_range(&mut self, start: u64, end: u64) {
        let first = start.div_ceil(FRAME_SIZE);
        let last = (end / FRAME_SIZE).min(self.frames);
        for n in first..last {
            if self.is_used(n) {
                self.set(n, false);
                self.free += 1;
            }
        }
    }

    /// Marks every frame touching `[start, end)` in use (kernel image,
    /// modules, firmware tables).
    pub fn reserve_range(&mut self, start: u64, end: u64) {
        let first = start / FRAME_SIZE;
        let last = end.div_ceil(FRAME_SIZE).min(self.frames);
        for n in first..last {
            if !self.is_used(n) {
                self.set(n, true);
                self.free -= 1;
            }
        }
    }

    /// Allocates one frame.
    pub fn alloc(&mut self) -> Option<Frame> {
        if self.free == 0 {
            return None;
        }
        let words = Self::words_for(self.frames);
        for i in 0..words {
            let w = (self.hint + i) % words;
            let word = self.bits[w];
            if word != !0 {
                let bit = (!word).trailing_zeros() as u64;
                let n = w as u64 * 64 + bit;
                if n >= self.frames {
                    continue;
                }
                self.set(n, true);
                self.free -= 1;
                self.hint = w;
                return Some(Frame(n));
            }
        }
        None
    }

    /// Allocates up to `out.len()` single frames inside the physical range
    /// `within` (`None`: anywhere), taking whole free words at a time;
    /// returns how many it wrote to `out`. `hint` is where the caller's
    /// last batch ended (a frame number): the next scan starts there, so a
    /// per-node hint keeps each node's scan short.
    ///
    /// This is the refill of a per-processor frame cache: one call under
    /// the allocator's lock for a whole batch.
    pub fn alloc_batch(
        &mut self,
        out: &mut [Frame],
        within: Option<core::ops::Range<u64>>,
        hint: &mut u64,
    ) -> usize {
        let (lo, hi) = match within {
            Some(r) => (
                r.start.div_ceil(FRAME_SIZE),
                (r.end / FRAME_SIZE).min(self.frames),
            ),
            None => (0, self.frames),
        };
        if lo >= hi || out.is_empty() {
            return 0;
        }
        let start = if (lo..hi).contains(hint) { *hint } else { lo };
        let mut got = 0;
        // From the hint to the end, then from the start to the hint.
        for (from, to) in [(start, hi), (lo, start)] {
            let mut n = from;
            while n < to && got < out.len() && self.free > 0 {
                let w = (n / 64) as usize;
                let mut free = !self.bits[w];
                // Only bits n..min(to, end of word).
                free &= !0u64 << (n % 64);
                let end = ((w as u64 + 1) * 64).min(to);
                if end % 64 != 0 {
                    free &= (1u64 << (end % 64)) - 1;
                }
                while free != 0 && got < out.len() {
                    let bit = free.trailing_zeros() as u64;
                    free &= free - 1;
                    let f = w as u64 * 64 + bit;
                    self.set(f, true);
                    self.free -= 1;
                    out[got] = Frame(f);
                    got += 1;
                    *hint = f + 1;
                }
                n = end;
            }
        }
        got
    }

    /// Returns single frames, each checked as [`free`](Self::free) does;
    /// stops at the first error (the frames before it are freed).
    pub fn free_batch(&mut self, frames: impl IntoIterator<Item = Frame>) -> Result<(), FreeError> {
        frames.into_iter().try_for_each(|f| self.free(f))
    }

    /// Allocates `count` contiguous frames whose first frame number is a
    /// multiple of `align` (in frames, a power of two), all inside the
    /// physical range `within` (`None`: anywhere). Returns the first frame.
    pub fn alloc_contiguous(
        &mut self,
        count: u64,
        align: u64,
        within: Option<core::ops::Range<u64>>,
    ) -> Option<Frame> {
        if count == 0 || !align.is_power_of_two() || count > self.free {
            return None;
        }
        let (lo, hi) = match within {
            Some(r) => (
                r.start.div_ceil(FRAME_SIZE),
                (r.end / FRAME_SIZE).min(self.frames),
            ),
            None => (0, self.frames),
        };
        let mut n = lo.next_multiple_of(align);
        'outer: while n + count <= hi {
            // Skip whole used words quickly.
            if n % 64 == 0 && self.bits[(n / 64) as usize] == !0 {
                n = (n + 64).next_multiple_of(align);
                continue;
            }
            for k in 0..count {
                if self.is_used(n + k) {
                    n = (n + k + 1).next_multiple_of(align);
                    continue 'outer;
                }
            }
            for k in 0..count {
                self.set(n + k, true);
            }
            self.free -= count;
            return Some(Frame(n));
        }
        None
    }

    /// Returns one frame.
    pub fn free(&mut self, f: Frame) -> Result<(), FreeError> {
        if f.0 >= self.frames {
            return Err(FreeError::OutOfRange(f));
        }
        if !self.is_used(f.0) {
            return Err(FreeError::DoubleFree(f));
        }
        self.set(f.0, false);
        self.free += 1;
        Ok(())
    }

    /// Returns `count` frames starting at `first`. Either all are freed or,
    /// on error, none.
    pub fn free_contiguous(&mut self, first: Frame, count: u64) -> Result<(), FreeError> {
        for k in 0..count {
            let f = Frame(first.0 + k);
            if f.0 >= self.frames {
                return Err(FreeError::OutOfRange(f));
            }
            if !self.is_used(f.0) {
                return Err(FreeError::DoubleFree(f));
            }
        }
        for k in 0..count {
            self.set(first.0 + k, false);
        }
        self.free += count;
        Ok(())
    }

    /// Whether frame `f` is in use (for tests and assertions).
    pub fn is_allocated(&self, f: Frame) -> bool {
        f.0 >= self.frames || self.is_used(f.0)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn only_added_ranges_are_handed_out() {
        let mut bits = [0u64; 2];
        let mut fa = FrameAllocator::new(&mut bits, 100);
        fa.add_free_range(10 * 4096 + 1, 20 * 4096); // partial first frame skipped
        assert_eq!(fa.free_count(), 9);
        let mut got = BTreeSet::new();
        while let Some(f) = fa.alloc() {
            assert!((11..20).contains(&f.number()), "{f:?}");
            assert!(got.insert(f));
        }
        assert_eq!(got.len(), 9);
        assert_eq!(fa.free_count(), 0);
    }

    #[test]
    fn batches_stay_in_their_range_and_resume_at_the_hint() {
        let mut bits = [0u64; 4];
        let mut fa = FrameAllocator::new(&mut bits, 256);
        fa.add_free_range(0, 256 * 4096);
        fa.reserve_range(100 * 4096, 101 * 4096);
        let mut out = [Frame(0); 40];
        let mut hint = 0;
        let range = Some(90 * 4096..200 * 4096);
        assert_eq!(fa.alloc_batch(&mut out, range.clone(), &mut hint), 40);
        let first: Vec<u64> = out.iter().map(|f| f.number()).collect();
        assert_eq!(
            first[..10],
            (90..100).collect::<Vec<_>>()[..],
            "frame 100 is reserved"
        );
        assert_eq!(first[10..], (101..131).collect::<Vec<_>>()[..]);
        assert_eq!(hint, 131);
        // The rest of the range: 69 frames, then nothing.
        let mut big = [Frame(0); 100];
        assert_eq!(fa.alloc_batch(&mut big, range.clone(), &mut hint), 69);
        assert!(big[..69].iter().all(|f| (131..200).contains(&f.number())));
        assert_eq!(fa.alloc_batch(&mut big, range.clone(), &mut hint), 0);
        assert_eq!(fa.free_count(), 256 - 1 - 109);
        // Freed frames behind the hint are found by the wrap-around.
        fa.free_batch(out[..5].iter().copied()).unwrap();
        assert_eq!(fa.alloc_batch(&mut big, range, &mut hint), 5);
        assert_eq!(fa.free_batch([out[0]]), Ok(()));
        assert_eq!(fa.free_batch([out[0]]), Err(FreeError::DoubleFree(out[0])));
    }

    proptest! {
        /// A batch hands out distinct free frames inside the range, and
        /// the free count follows.
        #[test]
        fn batches_match_single_allocation(
            used in proptest::collection::vec(any::<bool>(), 300),
            lo in 0u64..300, len in 0u64..300, want in 0usize..80, hint in 0u64..400,
        ) {
            let mut bits = [0u64; 5];
            let mut fa = FrameAllocator::new(&mut bits, 300);
            fa.add_free_range(0, 300 * 4096);
            for (n, u) in used.iter().enumerate() {
                if *u {
                    fa.reserve_range(n as u64 * 4096, n as u64 * 4096 + 1);
                }
            }
            let hi = (lo + len).min(300);
            let available = (lo..hi).filter(|&n| !used[n as usize]).count();
            let before = fa.free_count();
            let mut out = vec![Frame(0); want];
            let mut h = hint;
            let got = fa.alloc_batch(&mut out, Some(lo * 4096..hi * 4096), &mut h);
            prop_assert_eq!(got, want.min(available));
            prop_assert_eq!(fa.free_count(), before - got as u64);
            let set: BTreeSet<u64> = out[..got].iter().map(|f| f.number()).collect();
            prop_assert_eq!(set.len(), got);
            for n in set {
                prop_assert!((lo..hi).contains(&n) && !used[n as usize]);
            }
        }
    }

    #[test]
    fn reserve_removes_frames() {
        let mut bits = [0u64; 1];
        let mut fa = FrameAllocator::new(&mut bits, 64);
        fa.add_free_range(0, 64 * 4096);
        fa.reserve_range(4096, 3 * 4096 - 1);
        assert_eq!(fa.free_count(), 62);
        assert!(fa.is_allocated(Frame::from_number(1)));
        assert!(fa.is_allocated(Frame::from_number(2)));
        assert!(!fa.is_allocated(Frame::from_number(3)));
    }

    #[test]
    fn double_free_and_foreign_frames_are_refused() {
        let mut bits = [0u64; 1];
        let mut fa = FrameAllocator::new(&mut bits, 64);
        fa.add_free_range(0, 64 * 4096);
        let f = fa.alloc().unwrap();
        fa.free(f).unwrap();
        assert_eq!(fa.free(f), Err(FreeError::DoubleFree(f)));
        let far = Frame::from_number(1000);
        assert_eq!(fa.free(far), Err(FreeError::OutOfRange(far)));
        assert_eq!(fa.free_count(), 64);
    }

    #[test]
    fn contiguous_runs_are_aligned_and_within_range() {
        let mut bits = vec![0u64; 16];
        let mut fa = FrameAllocator::new(&mut bits, 1024);
        fa.add_free_range(0, 1024 * 4096);
        fa.reserve_range(0, 4096); // frame 0 used: the 512-aligned run must start at 512
        let run = fa.alloc_contiguous(512, 512, None).unwrap();
        assert_eq!(run.number(), 512);
        assert!(fa.alloc_contiguous(512, 512, None).is_none());
        let low = fa.alloc_contiguous(4, 1, Some(0..16 * 4096)).unwrap();
        assert_eq!(low.number(), 1);
        fa.free_contiguous(run, 512).unwrap();
        assert_eq!(
            fa.free_contiguous(run, 512),
            Err(FreeError::DoubleFree(run))
        );
        assert_eq!(fa.free_count(), 1024 - 1 - 4);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Alloc,
        AllocRun(u64, u64),
        Free(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => Just(Op::Alloc),
            1 => (1u64..20, prop_oneof![Just(1u64), Just(2), Just(8)]).prop_map(|(c, a)| Op::AllocRun(c, a)),
            3 => any::<usize>().prop_map(Op::Free),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Random alloc/free sequences agree with a set model: nothing is
        /// handed out twice, frees come back, counts match.
        #[test]
        fn matches_model(ops in proptest::collection::vec(op(), 1..300)) {
            let mut bits = vec![0u64; 4];
            let mut fa = FrameAllocator::new(&mut bits, 200);
            fa.add_free_range(3 * 4096, 190 * 4096);
            let mut held: Vec<(Frame, u64)> = Vec::new();
            let mut model: BTreeSet<u64> = BTreeSet::new();
            for op in ops {
                match op {
                    Op::Alloc => if let Some(f) = fa.alloc() {
                        prop_assert!((3..190).contains(&f.number()));
                        prop_assert!(model.insert(f.number()));
                        held.push((f, 1));
                    },
                    Op::AllocRun(c, a) => if let Some(f) = fa.alloc_contiguous(c, a, None) {
                        prop_assert_eq!(f.number() % a, 0);
                        for k in 0..c {
                            prop_assert!((3..190).contains(&(f.number() + k)));
                            prop_assert!(model.insert(f.number() + k));
                        }
                        held.push((f, c));
                    },
                    Op::Free(i) => if !held.is_empty() {
                        let (f, c) = held.swap_remove(i % held.len());
                        fa.free_contiguous(f, c).unwrap();
                        for k in 0..c { model.remove(&(f.number() + k)); }
                    },
                }
                prop_assert_eq!(fa.free_count(), 187 - model.len() as u64);
            }
        }
    }
}

//! The log: per-processor buffers, lock-free reservation, commit counts.
//!
//! # Layout
//!
//! Each processor owns a [`CpuBuffer`]: a ring of `BLOCKS` blocks of
//! `BLOCK_WORDS` 64-bit words (both powers of two, fixed at compile time so
//! that the fast path only shifts and masks by constants), one commit count
//! per block, and its reservation index. The 64-bit *index* counts words
//! ever reserved on the processor; it never wraps in practice. Word `i`
//! lives in block slot `(i / BLOCK_WORDS) % BLOCKS` at offset
//! `i % BLOCK_WORDS`, and belongs to block *sequence number*
//! `i / BLOCK_WORDS`.
//!
//! # Writing an event
//!
//! 1. Check the class bit in the enable mask (a load and a branch).
//! 2. Read the clock, then compare-and-swap the index from `old` to
//!    `old + len`. The clock is read inside the retry loop, so the order of
//!    the events in a buffer is the order of their timestamps.
//! 3. Store the header and the fields (plain stores).
//! 4. Add `len` to the block's *commit count*.
//!
//! If the event would cross a block boundary, or starts one, the writer
//! takes the slow path: it reserves the rest of the current block as a
//! *filler* event, a 5-word *block-start* event (full timestamp, sequence
//! number, processor id, lost-event count) and then its own event, in one
//! compare-and-swap. No event straddles a block and every block begins with
//! a block start, so any block decodes on its own.
//!
//! Commit counts are cumulative: slot `s` has been reused `g` times when
//! block `g * BLOCKS + s` is in it, and that block is complete exactly when
//! the slot's count reaches `(g + 1) * BLOCK_WORDS`. Nothing is ever reset.
//!
//! # Overflow
//!
//! [`Overflow::Wrap`] reuses the oldest block (flight-recorder mode; a slow
//! consumer loses blocks and sees gaps in the sequence numbers).
//! [`Overflow::Stop`] refuses to enter a block the consumer has not
//! released yet; the event is dropped and counted, and the count is carried
//! in the next block start.
use crate::arch as local;
use crate::header::{control, Class, Header, Layer, MAX_EVENT_WORDS};
use crate::sync::{fence, AtomicU64, Ordering};

/// What the kernel (or the hosted setup) supplies to the log.
///
/// Both methods are called on every logged event, so they must be cheap
/// and must not log events themselves.
pub trait Platform: Sync {
    /// Is every buffer written only by its own processor (and that
    /// processor's interrupt handlers)? Then the reservation and the commit
    /// need atomicity only against interrupts, and use the CPU-local
    /// instructions of [`crate::arch`] (no `lock` prefix) instead of
    /// locked atomics. True for the kernel (a buffer per processor, no
    /// migration while logging) and for one buffer per thread
    /// ([`crate::host::ThreadPlatform`]); false (the default) when threads
    /// on several processors share a buffer.
    ///
    /// With `true`, operations on another processor's buffer
    /// ([`Tracer::seal`], [`Tracer::heartbeat_on`]) become *requests* that
    /// the owner carries out in [`Tracer::serve`]. Breaking the promise
    /// (two processors logging into one buffer, or a thread migrating
    /// between `cpu_id()` and its commit) can garble or lose events, but is
    /// not undefined behaviour.
    const SINGLE_WRITER: bool = false;

    /// The current processor's id, `0..cpus`. An id out of range makes the
    /// event be dropped (never a panic).
    fn cpu_id(&self) -> usize;
    /// The current processor's clock (the TSC in the kernel). It must not
    /// go backwards on one processor, and the log must see a full 64-bit
    /// value at least every 2^31 ticks (a heartbeat or any event) for the
    /// readers to follow the wrap of the low 32 bits.
    fn timestamp(&self) -> u64;
    /// The low 32 bits of [`timestamp`](Self::timestamp), all that the
    /// common case of an event needs. Override it when the clock can give
    /// the low half more cheaply ([`crate::arch::tsc_low`] for the TSC).
    #[inline(always)]
    fn timestamp_low(&self) -> u32 {
        self.timestamp() as u32
    }
}

/// What to do when a writer reaches a block the consumer still holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Overwrite the oldest block.
    Wrap,
    /// Drop new events until the consumer releases a block.
    Stop,
}

/// The shape of a tracer's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Processors (one buffer each).
    pub cpus: usize,
    /// Blocks per processor.
    pub blocks: usize,
    /// Words per block.
    pub block_words: usize,
}

/// The reservation state of one processor, on its own cache lines.
#[repr(C, align(128))]
struct CpuState {
    /// Words ever reserved in this processor's ring.
    index: AtomicU64,
    /// Blocks with a sequence number below this are released by the
    /// consumer (only used by [`Overflow::Stop`]).
    released: AtomicU64,
    /// Events dropped because the buffer was full ([`Overflow::Stop`]).
    lost: AtomicU64,
    /// Work another processor asked the owner to do ([`Tracer::serve`]):
    /// `REQ_*` bits.
    requests: AtomicU64,
}

/// Request: seal the current block.
const REQ_SEAL: u64 = 1;
/// Request: seal, log a heartbeat (in a fresh block, whose block start
/// reports the events lost so far), seal again.
const REQ_HEARTBEAT: u64 = 2;

/// What [`Tracer::seal`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seal {
    /// The block is sealed (or was empty).
    Done,
    /// Single-writer platform, another processor's buffer: the owner will
    /// seal it in its next [`Tracer::serve`].
    Requested,
    /// No such processor.
    NoSuchCpu,
}

/// One processor's trace buffer: `BLOCKS` blocks of `BLOCK_WORDS` words,
/// their commit counts and the reservation index. All zero when fresh, so
/// a `static` array of them lands in `.bss`.
///
/// `BLOCKS` must be a power of two, at least 2; `BLOCK_WORDS` a power of
/// two from 16 to 2^20. Other values fail to compile:
///
/// ```compile_fail,E0080
/// static B: ktrace::CpuBuffer<3, 1000> = ktrace::CpuBuffer::new();
/// ```
#[repr(C)]
pub struct CpuBuffer<const BLOCKS: usize, const BLOCK_WORDS: usize> {
    /// At offset 0, so that a block's address is also its commit count's:
    /// the fast path computes one address for the stores and the commit.
    blocks: [Block<BLOCK_WORDS>; BLOCKS],
    state: CpuState,
}

/// One block slot: its commit count, then its words. With the count next
/// to the words, one address (the slot's) serves the stores and the
/// commit.
#[repr(C, align(64))]
struct Block<const BLOCK_WORDS: usize> {
    /// Words committed in this slot, over all its generations.
    count: AtomicU64,
    words: [AtomicU64; BLOCK_WORDS],
}

impl<const BLOCKS: usize, const BLOCK_WORDS: usize> CpuBuffer<BLOCKS, BLOCK_WORDS> {
    pub(crate) const SHAPE_OK: () = {
        assert!(
            BLOCKS.is_power_of_two() && BLOCKS >= 2,
            "BLOCKS: a power of two >= 2"
        );
        assert!(
            BLOCK_WORDS.is_power_of_two() && BLOCK_WORDS >= 16 && BLOCK_WORDS <= 1 << 20,
            "BLOCK_WORDS: a power of two in 16..=2^20"
        );
    };

    /// An empty buffer, usable in a `static` initialiser.
    #[cfg(not(loom))]
    #[allow(clippy::declare_interior_mutable_const)]
    pub const fn new() -> Self {
        let () = Self::SHAPE_OK;
        const ZERO: AtomicU64 = AtomicU64::new(0);
        CpuBuffer {
            state: CpuState {
                index: ZERO,
                released: ZERO,
                lost: ZERO,
                requests: ZERO,
            },
            blocks: [const {
                Block {
                    count: ZERO,
                    words: [ZERO; BLOCK_WORDS],
                }
            }; BLOCKS],
        }
    }

    /// An empty buffer.
    #[cfg(loom)]
    pub fn new() -> Self {
        let () = Self::SHAPE_OK;
        CpuBuffer {
            state: CpuState {
                index: AtomicU64::new(0),
                released: AtomicU64::new(0),
                lost: AtomicU64::new(0),
                requests: AtomicU64::new(0),
            },
            blocks: core::array::from_fn(|_| Block {
                count: AtomicU64::new(0),
                words: core::array::from_fn(|_| AtomicU64::new(0)),
            }),
        }
    }

    /// Where the reservation index lies in the buffer, in bytes: the
    /// CPU-local compare-and-swap addresses it from the buffer's address.
    #[cfg_attr(any(loom, not(target_arch = "x86_64")), allow(dead_code))]
    pub(crate) const INDEX_OFFSET: usize =
        core::mem::offset_of!(Self, state) + core::mem::offset_of!(CpuState, index);

    /// The reservation index.
    #[inline(always)]
    pub(crate) fn index(&self) -> &AtomicU64 {
        &self.state.index
    }

    /// The commit count and words of the block slot holding word `at`.
    #[inline(always)]
    fn block(&self, at: u64) -> (&AtomicU64, &[AtomicU64; BLOCK_WORDS]) {
        let b = &self.blocks[(at / BLOCK_WORDS as u64) as usize % BLOCKS];
        (&b.count, &b.words)
    }
}

#[cfg(not(loom))]
impl<const B: usize, const W: usize> Default for CpuBuffer<B, W> {
    fn default() -> Self {
        Self::new()
    }
}

/// The log: an enable mask, per-processor buffers and the platform hooks.
///
/// The buffers are the caller's: a `static` array in the kernel, leaked
/// heap memory hosted ([`crate::host`]).
pub struct Tracer<'a, P, const BLOCKS: usize, const BLOCK_WORDS: usize> {
    /// Not part of the algorithm loom checks, so always `core`'s atomic
    /// (which keeps `Tracer::new` a `const fn` under loom too).
    mask: core::sync::atomic::AtomicU64,
    overflow: Overflow,
    cpus: &'a [CpuBuffer<BLOCKS, BLOCK_WORDS>],
    platform: P,
}

/// Why an event was not logged. Returned by [`Tracer::log`] for tests and
/// statistics; the generated logging functions ignore it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// The class is disabled (or the facility is compiled out).
    Disabled,
    /// The platform's processor id is not below the processor count.
    BadCpu,
    /// The event is longer than a block can hold or than 255 words.
    TooLong,
    /// [`Overflow::Stop`] and the next block is not released yet.
    Full,
}

impl<'a, P: Platform, const BLOCKS: usize, const BLOCK_WORDS: usize>
    Tracer<'a, P, BLOCKS, BLOCK_WORDS>
{
    /// Words per block, as a `u64`.
    const BW: u64 = BLOCK_WORDS as u64;

    /// A tracer over one buffer per processor (`cpus[n]` for processor
    /// `n`), with every class disabled. A `const fn`, so the kernel can
    /// build it in a `static`.
    pub const fn new(
        cpus: &'a [CpuBuffer<BLOCKS, BLOCK_WORDS>],
        overflow: Overflow,
        platform: P,
    ) -> Self {
        Tracer {
            mask: core::sync::atomic::AtomicU64::new(0),
            overflow,
            cpus,
            platform,
        }
    }

    /// The shape of the trace memory.
    pub fn geometry(&self) -> Geometry {
        Geometry {
            cpus: self.cpus.len(),
            blocks: BLOCKS,
            block_words: BLOCK_WORDS,
        }
    }

    /// The overflow policy.
    pub fn overflow(&self) -> Overflow {
        self.overflow
    }

    /// The platform hooks.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Replaces the enable mask (bit `n` enables class `n`).
    pub fn set_mask(&self, mask: u64) {
        self.mask.store(mask, Ordering::Relaxed);
    }

    /// The enable mask.
    pub fn mask(&self) -> u64 {
        self.mask.load(Ordering::Relaxed)
    }

    /// Enables one class.
    pub fn enable(&self, class: Class) {
        self.mask.fetch_or(class.bit(), Ordering::Relaxed);
    }

    /// Disables one class.
    pub fn disable(&self, class: Class) {
        self.mask.fetch_and(!class.bit(), Ordering::Relaxed);
    }

    /// Is `class` enabled? One load and one test: the first thing every
    /// logging function does.
    #[inline(always)]
    pub fn is_enabled(&self, class: Class) -> bool {
        if cfg!(feature = "compiled-out") {
            return false;
        }
        self.mask.load(Ordering::Relaxed) & class.bit() != 0
    }

    /// Logs one event of `len` words (header included): reserves space on
    /// the current processor, writes the header, lets `fill` write the
    /// `len - 1` payload words, and commits.
    ///
    /// Does not check the enable mask (the generated functions do that
    /// first); `fill` must write exactly `len - 1` words (unwritten words
    /// keep stale contents, extra ones are ignored). `fill` may itself log
    /// (as an interrupt handler arriving between reservation and commit
    /// does): the nested event goes after this one.
    #[inline(always)]
    pub fn log(
        &self,
        layer: Layer,
        class: Class,
        minor: u16,
        len: usize,
        fill: impl FnOnce(&mut EventWriter<'_>),
    ) -> Result<(), Dropped> {
        if cfg!(feature = "compiled-out") {
            return Err(Dropped::Disabled);
        }
        let cpu = self.platform.cpu_id();
        let Some(buf) = self.cpus.get(cpu) else {
            return Err(Dropped::BadCpu);
        };
        self.log_on(cpu, buf, layer, class, minor, len, fill)
    }

    /// Compare-and-swap of a reservation index: CPU-local on a
    /// single-writer platform, locked otherwise.
    #[inline(always)]
    fn reserve(buf: &CpuBuffer<BLOCKS, BLOCK_WORDS>, old: u64, new: u64) -> Result<(), u64> {
        if P::SINGLE_WRITER {
            local::reserve(buf, old, new)
        } else {
            buf.state
                .index
                .compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed)
                .map(|_| ())
        }
    }

    /// Adds `words` to a block's commit count, after the event's stores.
    #[inline(always)]
    fn commit(count: &AtomicU64, words: u64) {
        if P::SINGLE_WRITER {
            local::add_release(count, words);
        } else {
            count.fetch_add(words, Ordering::Release);
        }
    }

    /// [`Tracer::log`] into processor `cpu`'s buffer.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn log_on(
        &self,
        cpu: usize,
        buf: &CpuBuffer<BLOCKS, BLOCK_WORDS>,
        layer: Layer,
        class: Class,
        minor: u16,
        len: usize,
        fill: impl FnOnce(&mut EventWriter<'_>),
    ) -> Result<(), Dropped> {
        // The fast path takes offsets 1 ..= BLOCK_WORDS - len in a block:
        // `(old - 1) % BLOCK_WORDS` is below `limit` exactly then (offset 0,
        // opening a block, wraps to the top). Bad lengths get limit 0 and
        // end up in the slow path, which refuses them. `len` is a constant
        // for most events, so this folds away.
        let limit = if len == 0 || len > MAX_EVENT_WORDS {
            0
        } else {
            Self::BW.saturating_sub(len as u64)
        };
        let mut old = buf.state.index.load(Ordering::Relaxed);
        let (header, start, before) = loop {
            // The clock is read inside the loop, so that an event (say, an
            // interrupt's) reserved in between gets the earlier timestamp
            // and the buffer's order is the timestamps' order. Only the low
            // 32 bits go into the header.
            let ts = self.platform.timestamp_low();
            // The event's offset in its block, less one.
            let before = (old.wrapping_sub(1) % Self::BW) as usize;
            if before as u64 >= limit {
                return self.log_slow(cpu, buf, old, layer, class, minor, len, fill);
            }
            let header = Header::encode(ts as u64, len as u8, layer, class, minor);
            match Self::reserve(buf, old, old + len as u64) {
                Ok(()) => break (header, old, before),
                Err(now) => old = now,
            }
        };
        // Orders the reservation before the stores below, for a reader
        // checking afterwards that its copy of a block was not overwritten.
        fence(Ordering::Release);
        let slot = (start / Self::BW) as usize % BLOCKS;
        self.write_at(buf, slot, before + 1, header, len, fill);
        Ok(())
    }

    /// The slow path: the event opens a new block (or is refused).
    #[cold]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn log_slow(
        &self,
        cpu: usize,
        buf: &CpuBuffer<BLOCKS, BLOCK_WORDS>,
        mut old: u64,
        layer: Layer,
        class: Class,
        minor: u16,
        len: usize,
        fill: impl FnOnce(&mut EventWriter<'_>),
    ) -> Result<(), Dropped> {
        if len == 0 || len > MAX_EVENT_WORDS || len + control::BLOCK_START_WORDS > BLOCK_WORDS {
            return Err(Dropped::TooLong);
        }
        let state = &buf.state;
        loop {
            let ts = self.platform.timestamp();
            let offset = old % Self::BW;
            if offset != 0 && offset + len as u64 <= Self::BW {
                // Another writer opened the block meanwhile: the fast path.
                match Self::reserve(buf, old, old + len as u64) {
                    Ok(()) => {
                        fence(Ordering::Release);
                        let header = Header::encode(ts, len as u8, layer, class, minor);
                        self.write_event(buf, old, header, len, fill);
                        return Ok(());
                    }
                    Err(now) => {
                        old = now;
                        continue;
                    }
                }
            }
            let filler = if offset == 0 { 0 } else { Self::BW - offset };
            let boundary = old + filler;
            let seq = boundary / Self::BW;
            if self.overflow == Overflow::Stop
                && seq >= state.released.load(Ordering::Acquire) + BLOCKS as u64
            {
                state.lost.fetch_add(1, Ordering::Relaxed);
                return Err(Dropped::Full);
            }
            let new = boundary + (control::BLOCK_START_WORDS + len) as u64;
            if let Err(now) = Self::reserve(buf, old, new) {
                old = now;
                continue;
            }
            fence(Ordering::Release);
            if filler != 0 {
                self.write_filler(buf, old, ts, filler as usize);
            }
            let lost = state.lost.load(Ordering::Relaxed);
            let start = Header::encode(
                ts,
                control::BLOCK_START_WORDS as u8,
                Layer::KERNEL,
                Class::CONTROL,
                control::BLOCK_START,
            );
            self.write_event(buf, boundary, start, control::BLOCK_START_WORDS, |w| {
                w.put(ts);
                w.put(seq);
                w.put(cpu as u64);
                w.put(lost);
            });
            let at = boundary + control::BLOCK_START_WORDS as u64;
            let header = Header::encode(ts, len as u8, layer, class, minor);
            self.write_event(buf, at, header, len, fill);
            return Ok(());
        }
    }

    /// Stores `header` and the payload at word index `start` and commits
    /// them.
    #[inline(always)]
    fn write_event(
        &self,
        buf: &CpuBuffer<BLOCKS, BLOCK_WORDS>,
        start: u64,
        header: u64,
        len: usize,
        fill: impl FnOnce(&mut EventWriter<'_>),
    ) {
        let slot = (start / Self::BW) as usize % BLOCKS;
        let offset = (start % Self::BW) as usize;
        self.write_at(buf, slot, offset, header, len, fill);
    }

    /// Stores `header` and the payload at `offset` in block slot `slot`,
    /// and commits them.
    #[inline(always)]
    fn write_at(
        &self,
        buf: &CpuBuffer<BLOCKS, BLOCK_WORDS>,
        slot: usize,
        offset: usize,
        header: u64,
        len: usize,
        fill: impl FnOnce(&mut EventWriter<'_>),
    ) {
        let Some(block) = buf.blocks.get(slot) else {
            return;
        };
        // Always in range: a reservation never crosses the end of its
        // block (and on the fast path the compiler sees that, so the check
        // costs nothing there). It only keeps a bug from becoming a panic.
        let Some((first, payload)) = block
            .words
            .get(offset..offset + len)
            .and_then(|w| w.split_first())
        else {
            return;
        };
        first.store(header, Ordering::Relaxed);
        let mut w = EventWriter {
            words: payload,
            at: 0,
        };
        fill(&mut w);
        Self::commit(&block.count, len as u64);
    }

    /// Writes a filler of `words` words at `at` (which ends at a block
    /// boundary) and commits it.
    fn write_filler(&self, buf: &CpuBuffer<BLOCKS, BLOCK_WORDS>, at: u64, ts: u64, words: usize) {
        let header = Header::encode(ts, 0, Layer::KERNEL, Class::CONTROL, control::FILLER);
        let (count, block) = buf.block(at);
        if let Some(w) = block.get((at % Self::BW) as usize) {
            w.store(header, Ordering::Relaxed);
        }
        Self::commit(count, words as u64);
    }

    /// Logs a heartbeat (the full 64-bit timestamp) on the current
    /// processor, if any class is enabled. The kernel calls this from its
    /// timer so that readers can follow the clock across long quiet spells.
    pub fn heartbeat(&self) {
        if self.mask.load(Ordering::Relaxed) == 0 {
            return;
        }
        let ts = self.platform.timestamp();
        let _ = self.log(
            Layer::KERNEL,
            Class::CONTROL,
            control::HEARTBEAT,
            control::HEARTBEAT_WORDS,
            |w| w.put(ts),
        );
    }

    /// Does the calling processor own `cpu`'s buffer, for operations that
    /// write it from outside the logging path? Always on a shared-buffer
    /// platform, where every writer uses locked atomics.
    fn may_write(&self, cpu: usize) -> bool {
        !P::SINGLE_WRITER || self.platform.cpu_id() == cpu
    }

    /// Logs a heartbeat into processor `cpu`'s buffer, whatever the mask,
    /// in a fresh block (sealing the current one first), and seals that
    /// block too: its block start reports the events lost so far.
    /// [`StreamWriter::flush`] uses it when a processor lost events since
    /// the last block it sent. On a single-writer platform another
    /// processor's buffer gets a request instead ([`Tracer::serve`]).
    ///
    /// [`StreamWriter::flush`]: crate::StreamWriter::flush
    pub fn heartbeat_on(&self, cpu: usize) -> Seal {
        if cfg!(feature = "compiled-out") {
            return Seal::Done;
        }
        let Some(buf) = self.cpus.get(cpu) else {
            return Seal::NoSuchCpu;
        };
        if !self.may_write(cpu) {
            buf.state
                .requests
                .fetch_or(REQ_HEARTBEAT, Ordering::Release);
            return Seal::Requested;
        }
        self.heartbeat_now(cpu, buf);
        Seal::Done
    }

    /// [`Tracer::heartbeat_on`] from any processor, for a buffer whose
    /// writers have stopped (as [`Tracer::seal_stopped`]).
    pub(crate) fn heartbeat_stopped(&self, cpu: usize) {
        if let Some(buf) = self.cpus.get(cpu) {
            if !cfg!(feature = "compiled-out") {
                self.heartbeat_now(cpu, buf);
            }
        }
    }

    fn heartbeat_now(&self, cpu: usize, buf: &CpuBuffer<BLOCKS, BLOCK_WORDS>) {
        self.seal_now(buf);
        let ts = self.platform.timestamp();
        let _ = self.log_on(
            cpu,
            buf,
            Layer::KERNEL,
            Class::CONTROL,
            control::HEARTBEAT,
            control::HEARTBEAT_WORDS,
            |w| w.put(ts),
        );
        self.seal_now(buf);
    }

    /// Pads processor `cpu`'s current block with a filler, so it completes
    /// and a consumer can take it (before a final flush, or to push out a
    /// quiet processor's data). Safe to call from any processor,
    /// concurrently with writers. On a single-writer platform, a call for
    /// another processor's buffer posts a request that the owner carries
    /// out in its next [`Tracer::serve`] (and returns [`Seal::Requested`]).
    pub fn seal(&self, cpu: usize) -> Seal {
        let Some(buf) = self.cpus.get(cpu) else {
            return Seal::NoSuchCpu;
        };
        if !self.may_write(cpu) {
            buf.state.requests.fetch_or(REQ_SEAL, Ordering::Release);
            return Seal::Requested;
        }
        self.seal_now(buf);
        Seal::Done
    }

    /// Seals `cpu`'s block from any processor, with locked atomics, on any
    /// platform: for buffers whose writers have stopped (their threads
    /// exited, the processor halted). If a writer is in fact still logging
    /// there on a single-writer platform, events may be lost or garbled
    /// (never undefined behaviour). [`StreamWriter::finish`] uses it.
    ///
    /// [`StreamWriter::finish`]: crate::StreamWriter::finish
    pub fn seal_stopped(&self, cpu: usize) -> Seal {
        let Some(buf) = self.cpus.get(cpu) else {
            return Seal::NoSuchCpu;
        };
        self.seal_now(buf);
        Seal::Done
    }

    /// Seals with locked atomics: safe from the owner (against its
    /// interrupts' CPU-local operations, since each is one instruction), and
    /// from anywhere on a shared-buffer platform.
    fn seal_now(&self, buf: &CpuBuffer<BLOCKS, BLOCK_WORDS>) {
        let mut old = buf.state.index.load(Ordering::Relaxed);
        loop {
            let offset = old % Self::BW;
            if offset == 0 {
                return;
            }
            let rest = Self::BW - offset;
            match buf.state.index.compare_exchange_weak(
                old,
                old + rest,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    fence(Ordering::Release);
                    let ts = self.platform.timestamp();
                    let (count, block) = buf.block(old);
                    if let Some(w) = block.get(offset as usize) {
                        w.store(
                            Header::encode(ts, 0, Layer::KERNEL, Class::CONTROL, control::FILLER),
                            Ordering::Relaxed,
                        );
                    }
                    count.fetch_add(rest, Ordering::Release);
                    return;
                }
                Err(now) => old = now,
            }
        }
    }

    /// The owner's hook on a single-writer platform: carries out what other
    /// processors requested of this processor's buffer ([`Tracer::seal`],
    /// [`Tracer::heartbeat_on`]). The kernel calls it from every timer
    /// tick; it costs a load and a branch when nothing is asked. Must run
    /// on the processor that owns the buffer (it uses `cpu_id()`). Does
    /// nothing on a shared-buffer platform, where requests are never made.
    #[inline]
    pub fn serve(&self) {
        let cpu = self.platform.cpu_id();
        let Some(buf) = self.cpus.get(cpu) else {
            return;
        };
        if buf.state.requests.load(Ordering::Relaxed) == 0 {
            return;
        }
        self.serve_now(cpu, buf);
    }

    #[cold]
    fn serve_now(&self, cpu: usize, buf: &CpuBuffer<BLOCKS, BLOCK_WORDS>) {
        let asked = buf.state.requests.swap(0, Ordering::Acquire);
        if asked & REQ_HEARTBEAT != 0 {
            self.heartbeat_now(cpu, buf);
        } else if asked & REQ_SEAL != 0 {
            self.seal_now(buf);
        }
    }

    /// Is a request ([`Tracer::seal`], [`Tracer::heartbeat_on`]) for
    /// `cpu`'s owner still waiting to be taken up? (The owner clears it as
    /// it starts the work; to know a seal is done, watch
    /// [`Tracer::reserved_words`] reach the block boundary, as
    /// [`StreamWriter::flush_with`] does.)
    ///
    /// [`StreamWriter::flush_with`]: crate::StreamWriter::flush_with
    pub fn request_pending(&self, cpu: usize) -> bool {
        self.cpus
            .get(cpu)
            .is_some_and(|b| b.state.requests.load(Ordering::Acquire) != 0)
    }
    /// Events dropped on `cpu` because its buffer was full.
    pub fn lost_events(&self, cpu: usize) -> u64 {
        self.cpus
            .get(cpu)
            .map_or(0, |b| b.state.lost.load(Ordering::Relaxed))
    }

    /// Words reserved so far on `cpu` (its index).
    pub fn reserved_words(&self, cpu: usize) -> u64 {
        self.cpus
            .get(cpu)
            .map_or(0, |b| b.state.index.load(Ordering::Acquire))
    }

    /// Copies block `seq` of `cpu` into `out` if it is complete and was not
    /// overwritten while being copied.
    pub fn read_block(&self, cpu: usize, seq: u64, out: &mut [u64; BLOCK_WORDS]) -> BlockRead {
        let Some(buf) = self.cpus.get(cpu) else {
            return BlockRead::NotReady;
        };
        let (count, words) = buf.block(seq * Self::BW);
        let generation = seq / BLOCKS as u64;
        let committed = count.load(Ordering::Acquire);
        let want = (generation + 1) * Self::BW;
        if committed < want {
            // Incomplete, unless writers have lapped it already.
            if self.lapped(buf, seq) {
                return BlockRead::Overwritten;
            }
            return BlockRead::NotReady;
        }
        for (o, w) in out.iter_mut().zip(words) {
            *o = w.load(Ordering::Relaxed);
        }
        // Seqlock-style check: if any word we copied came from a writer of
        // a later generation, its reservation is visible now.
        fence(Ordering::Acquire);
        if committed > want || self.lapped(buf, seq) {
            return BlockRead::Overwritten;
        }
        BlockRead::Ready
    }

    /// Has a writer reserved space in the slot's next generation after
    /// block `seq` (so `seq` is, or is being, overwritten)?
    fn lapped(&self, buf: &CpuBuffer<BLOCKS, BLOCK_WORDS>, seq: u64) -> bool {
        let index = buf.state.index.load(Ordering::Relaxed);
        index > (seq + BLOCKS as u64) * Self::BW
    }

    /// Releases blocks below `seq` on `cpu` to writers ([`Overflow::Stop`]).
    pub fn release(&self, cpu: usize, seq: u64) {
        if let Some(buf) = self.cpus.get(cpu) {
            buf.state.released.fetch_max(seq, Ordering::Release);
        }
    }
}

/// The result of [`Tracer::read_block`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockRead {
    /// The block was copied and is complete.
    Ready,
    /// Not complete yet: try again later.
    NotReady,
    /// Writers have reused the block's slot: it is lost.
    Overwritten,
}

/// Writes an event's payload words; handed to the `fill` closure of
/// [`Tracer::log`].
pub struct EventWriter<'a> {
    words: &'a [AtomicU64],
    at: usize,
}

impl EventWriter<'_> {
    /// Appends one word (ignored past the reserved length).
    #[inline(always)]
    pub fn put(&mut self, word: u64) {
        if let Some(w) = self.words.get(self.at) {
            w.store(word, Ordering::Relaxed);
        }
        self.at += 1;
    }
}

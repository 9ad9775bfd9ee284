//! The log: per-processor buffers, lock-free reservation, commit counts.
//!
//! # Layout
//!
//! Each processor owns a ring of `blocks` blocks of `block_words` 64-bit
//! words (both powers of two). A 64-bit *index* per processor counts words
//! ever reserved; it never wraps in practice (2^64 words). Word `i` lives in
//! ring slot `i % (blocks * block_words)`, and belongs to block *sequence
//! number* `i / block_words`.
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
//! block `g * blocks + s` is in it, and that block is complete exactly when
//! the slot's count reaches `(g + 1) * block_words`. Nothing is ever reset.
//!
//! # Overflow
//!
//! [`Overflow::Wrap`] reuses the oldest block (flight-recorder mode; a slow
//! consumer loses blocks and sees gaps in the sequence numbers).
//! [`Overflow::Stop`] refuses to enter a block the consumer has not
//! released yet; the event is dropped and counted, and the count is carried
//! in the next block start.
use crate::header::{control, Class, Header, Layer, MAX_EVENT_WORDS};
use crate::sync::{fence, AtomicU64, Ordering};

/// What the kernel (or the hosted setup) supplies to the log.
///
/// Both methods are called on every logged event, so they must be cheap
/// and must not log events themselves.
pub trait Platform: Sync {
    /// The current processor's id, `0..cpus`. An id out of range makes the
    /// event be dropped (never a panic).
    fn cpu_id(&self) -> usize;
    /// The current processor's clock (the TSC in the kernel). It must not
    /// go backwards on one processor, and the log must see a full 64-bit
    /// value at least every 2^31 ticks (a heartbeat or any event) for the
    /// readers to follow the wrap of the low 32 bits.
    fn timestamp(&self) -> u64;
}

/// What to do when a writer reaches a block the consumer still holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Overwrite the oldest block.
    Wrap,
    /// Drop new events until the consumer releases a block.
    Stop,
}

/// The shape of the trace memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Processors (one buffer each).
    pub cpus: usize,
    /// Blocks per processor; a power of two, at least 2.
    pub blocks: usize,
    /// Words per block; a power of two, 16 ..= 2^20.
    pub block_words: usize,
}

impl Geometry {
    /// Words in one processor's ring.
    pub const fn ring_words(&self) -> usize {
        self.blocks * self.block_words
    }

    /// Checks the constraints listed on the fields.
    pub const fn check(&self) -> Result<(), ConfigError> {
        if self.cpus == 0 {
            return Err(ConfigError::NoProcessors);
        }
        if !self.blocks.is_power_of_two() || self.blocks < 2 {
            return Err(ConfigError::Blocks(self.blocks));
        }
        if !self.block_words.is_power_of_two()
            || self.block_words < 16
            || self.block_words > (1 << 20)
        {
            return Err(ConfigError::BlockWords(self.block_words));
        }
        Ok(())
    }
}

/// A trace memory that does not fit its geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Zero processors.
    NoProcessors,
    /// Block count not a power of two or below 2.
    Blocks(usize),
    /// Block size not a power of two in 16 ..= 2^20 words.
    BlockWords(usize),
    /// A slice of [`Memory`] has the wrong length: (which, expected, got).
    MemorySize(&'static str, usize, usize),
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::NoProcessors => write!(f, "trace memory for zero processors"),
            ConfigError::Blocks(n) => {
                write!(f, "{n} blocks per processor: need a power of two >= 2")
            }
            ConfigError::BlockWords(n) => {
                write!(
                    f,
                    "{n} words per block: need a power of two in 16..=1048576"
                )
            }
            ConfigError::MemorySize(what, want, got) => {
                write!(
                    f,
                    "trace memory `{what}` has {got} entries, geometry needs {want}"
                )
            }
        }
    }
}

/// Per-processor state, on its own cache lines.
#[repr(align(128))]
pub struct CpuState {
    /// Words ever reserved in this processor's ring.
    index: AtomicU64,
    /// Blocks with a sequence number below this are released by the
    /// consumer (only used by [`Overflow::Stop`]).
    released: AtomicU64,
    /// Events dropped because the buffer was full ([`Overflow::Stop`]).
    lost: AtomicU64,
}

impl CpuState {
    /// A fresh, empty state.
    #[cfg(not(loom))]
    pub const fn new() -> CpuState {
        CpuState {
            index: AtomicU64::new(0),
            released: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        }
    }

    /// A fresh, empty state.
    #[cfg(loom)]
    pub fn new() -> CpuState {
        CpuState {
            index: AtomicU64::new(0),
            released: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        }
    }
}

impl Default for CpuState {
    fn default() -> Self {
        CpuState::new()
    }
}

/// The memory a [`Tracer`] logs into, provided by its owner: statics in
/// the kernel ([`StaticMemory`]), the heap when hosted.
#[derive(Clone, Copy)]
pub struct Memory<'a> {
    /// `cpus * blocks * block_words` event words, processor-major.
    pub words: &'a [AtomicU64],
    /// `cpus * blocks` commit counts, processor-major.
    pub commits: &'a [AtomicU64],
    /// `cpus` per-processor states.
    pub cpus: &'a [CpuState],
}

/// Trace memory as one static: `CPUS` processors of `BLOCKS` blocks of
/// `BLOCK_WORDS` words. All zero, so it lands in `.bss`.
#[cfg(not(loom))]
pub struct StaticMemory<const CPUS: usize, const BLOCKS: usize, const BLOCK_WORDS: usize> {
    words: [[[AtomicU64; BLOCK_WORDS]; BLOCKS]; CPUS],
    commits: [[AtomicU64; BLOCKS]; CPUS],
    cpus: [CpuState; CPUS],
}

#[cfg(not(loom))]
impl<const CPUS: usize, const BLOCKS: usize, const BLOCK_WORDS: usize>
    StaticMemory<CPUS, BLOCKS, BLOCK_WORDS>
{
    /// Zeroed memory, usable in a `static` initialiser.
    #[allow(clippy::declare_interior_mutable_const)]
    pub const fn new() -> Self {
        const ZERO: AtomicU64 = AtomicU64::new(0);
        StaticMemory {
            words: [const { [const { [ZERO; BLOCK_WORDS] }; BLOCKS] }; CPUS],
            commits: [const { [ZERO; BLOCKS] }; CPUS],
            cpus: [const { CpuState::new() }; CPUS],
        }
    }

    /// The geometry this memory was declared with.
    pub const fn geometry(&self) -> Geometry {
        Geometry {
            cpus: CPUS,
            blocks: BLOCKS,
            block_words: BLOCK_WORDS,
        }
    }

    /// The slices a [`Tracer`] needs.
    pub const fn memory(&self) -> Memory<'_> {
        Memory {
            words: self.words.as_flattened().as_flattened(),
            commits: self.commits.as_flattened(),
            cpus: &self.cpus,
        }
    }
}

#[cfg(not(loom))]
impl<const C: usize, const B: usize, const W: usize> Default for StaticMemory<C, B, W> {
    fn default() -> Self {
        Self::new()
    }
}

/// Checks that `memory` has the sizes `geometry` asks for.
pub const fn check_memory(memory: &Memory<'_>, geometry: &Geometry) -> Result<(), ConfigError> {
    if let Err(e) = geometry.check() {
        return Err(e);
    }
    let words = geometry.cpus * geometry.ring_words();
    if memory.words.len() != words {
        return Err(ConfigError::MemorySize("words", words, memory.words.len()));
    }
    let commits = geometry.cpus * geometry.blocks;
    if memory.commits.len() != commits {
        return Err(ConfigError::MemorySize(
            "commits",
            commits,
            memory.commits.len(),
        ));
    }
    if memory.cpus.len() != geometry.cpus {
        return Err(ConfigError::MemorySize(
            "cpus",
            geometry.cpus,
            memory.cpus.len(),
        ));
    }
    Ok(())
}

/// The log: an enable mask, per-processor rings and the platform hooks.
pub struct Tracer<'a, P> {
    /// Not part of the algorithm loom checks, so always `core`'s atomic
    /// (which keeps `Tracer::new` a `const fn` under loom too).
    mask: core::sync::atomic::AtomicU64,
    overflow: Overflow,
    block_shift: u32,
    blocks: usize,
    ring_words: usize,
    words: &'a [AtomicU64],
    commits: &'a [AtomicU64],
    cpus: &'a [CpuState],
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

impl<'a, P: Platform> Tracer<'a, P> {
    /// A tracer over `memory`, shaped by `geometry`, with every class
    /// disabled. A `const fn`, so the kernel can build it in a `static`.
    pub const fn new(
        memory: Memory<'a>,
        geometry: Geometry,
        overflow: Overflow,
        platform: P,
    ) -> Result<Self, ConfigError> {
        if let Err(e) = check_memory(&memory, &geometry) {
            // A const fn cannot run `P`'s destructor; platforms hold no
            // resources worth one.
            core::mem::forget(platform);
            return Err(e);
        }
        Ok(Tracer {
            mask: core::sync::atomic::AtomicU64::new(0),
            overflow,
            block_shift: geometry.block_words.trailing_zeros(),
            blocks: geometry.blocks,
            ring_words: geometry.ring_words(),
            words: memory.words,
            commits: memory.commits,
            cpus: memory.cpus,
            platform,
        })
    }

    /// The geometry of the trace memory.
    pub fn geometry(&self) -> Geometry {
        Geometry {
            cpus: self.cpus.len(),
            blocks: self.blocks,
            block_words: 1 << self.block_shift,
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
    /// keep stale contents, extra ones are ignored).
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
        let Some(state) = self.cpus.get(cpu) else {
            return Err(Dropped::BadCpu);
        };
        let block_words = 1usize << self.block_shift;
        let mut old = state.index.load(Ordering::Relaxed);
        let (ts, start) = loop {
            let ts = self.platform.timestamp();
            let offset = old as usize & (block_words - 1);
            if offset == 0 || offset + len > block_words {
                // Opens a block: filler, block start, maybe an overflow stop.
                return self.log_slow(cpu, state, old, layer, class, minor, len, fill);
            }
            match state.index.compare_exchange_weak(
                old,
                old + len as u64,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break (ts, old),
                Err(now) => old = now,
            }
        };
        // Orders the reservation before the stores below, for a reader
        // checking afterwards that its copy of a block was not overwritten.
        fence(Ordering::Release);
        self.write_event(cpu, start, ts, layer, class, minor, len, fill);
        Ok(())
    }

    /// Stores header and payload at word index `start` and commits them.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn write_event(
        &self,
        cpu: usize,
        start: u64,
        ts: u64,
        layer: Layer,
        class: Class,
        minor: u16,
        len: usize,
        fill: impl FnOnce(&mut EventWriter<'_>),
    ) {
        let base = cpu * self.ring_words + (start as usize & (self.ring_words - 1));
        // In bounds: a reservation never crosses a block, blocks tile the
        // ring, and `Tracer::new` checked the slice lengths.
        let Some(slot) = self.words.get(base..base + len) else {
            return;
        };
        slot[0].store(
            Header::encode(ts, len as u8, layer, class, minor),
            Ordering::Relaxed,
        );
        let mut w = EventWriter {
            words: &slot[1..],
            at: 0,
        };
        fill(&mut w);
        self.commit(cpu, start, len);
    }

    /// Adds `len` committed words to the block holding word `at`.
    #[inline(always)]
    fn commit(&self, cpu: usize, at: u64, len: usize) {
        let slot = (at >> self.block_shift) as usize & (self.blocks - 1);
        if let Some(count) = self.commits.get(cpu * self.blocks + slot) {
            count.fetch_add(len as u64, Ordering::Release);
        }
    }

    /// The slow path: the event opens a new block.
    #[cold]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn log_slow(
        &self,
        cpu: usize,
        state: &CpuState,
        mut old: u64,
        layer: Layer,
        class: Class,
        minor: u16,
        len: usize,
        fill: impl FnOnce(&mut EventWriter<'_>),
    ) -> Result<(), Dropped> {
        let block_words = 1u64 << self.block_shift;
        if len == 0
            || len > MAX_EVENT_WORDS
            || len + control::BLOCK_START_WORDS > block_words as usize
        {
            return Err(Dropped::TooLong);
        }
        loop {
            let ts = self.platform.timestamp();
            let offset = old & (block_words - 1);
            let fits = offset != 0 && offset + len as u64 <= block_words;
            if fits {
                // Another writer opened the block meanwhile: the fast path.
                match state.index.compare_exchange_weak(
                    old,
                    old + len as u64,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        fence(Ordering::Release);
                        self.write_event(cpu, old, ts, layer, class, minor, len, fill);
                        return Ok(());
                    }
                    Err(now) => {
                        old = now;
                        continue;
                    }
                }
            }
            let filler = if offset == 0 { 0 } else { block_words - offset };
            let boundary = old + filler;
            let seq = boundary >> self.block_shift;
            if self.overflow == Overflow::Stop
                && seq >= state.released.load(Ordering::Acquire) + self.blocks as u64
            {
                state.lost.fetch_add(1, Ordering::Relaxed);
                return Err(Dropped::Full);
            }
            let new = boundary + (control::BLOCK_START_WORDS + len) as u64;
            if let Err(now) =
                state
                    .index
                    .compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                old = now;
                continue;
            }
            fence(Ordering::Release);
            if filler != 0 {
                self.write_filler(cpu, old, ts, filler as usize);
            }
            let lost = state.lost.load(Ordering::Relaxed);
            self.write_event(
                cpu,
                boundary,
                ts,
                Layer::KERNEL,
                Class::CONTROL,
                control::BLOCK_START,
                control::BLOCK_START_WORDS,
                |w| {
                    w.put(ts);
                    w.put(seq);
                    w.put(cpu as u64);
                    w.put(lost);
                },
            );
            let at = boundary + control::BLOCK_START_WORDS as u64;
            self.write_event(cpu, at, ts, layer, class, minor, len, fill);
            return Ok(());
        }
    }

    /// Writes a filler of `words` words at `at` (which ends at a block
    /// boundary) and commits it.
    fn write_filler(&self, cpu: usize, at: u64, ts: u64, words: usize) {
        let base = cpu * self.ring_words + (at as usize & (self.ring_words - 1));
        if let Some(first) = self.words.get(base) {
            first.store(
                Header::encode(ts, 0, Layer::KERNEL, Class::CONTROL, control::FILLER),
                Ordering::Relaxed,
            );
        }
        self.commit(cpu, at, words);
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

    /// Pads processor `cpu`'s current block with a filler, so it completes
    /// and a consumer can take it (before a final flush, or to push out a
    /// quiet processor's data). Safe to call from any processor, concurrently
    /// with writers. Returns false if `cpu` is out of range.
    pub fn seal(&self, cpu: usize) -> bool {
        let Some(state) = self.cpus.get(cpu) else {
            return false;
        };
        let block_words = 1u64 << self.block_shift;
        let mut old = state.index.load(Ordering::Relaxed);
        loop {
            let offset = old & (block_words - 1);
            if offset == 0 {
                return true;
            }
            let rest = block_words - offset;
            match state.index.compare_exchange_weak(
                old,
                old + rest,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    fence(Ordering::Release);
                    let ts = self.platform.timestamp();
                    self.write_filler(cpu, old, ts, rest as usize);
                    return true;
                }
                Err(now) => old = now,
            }
        }
    }

    /// Events dropped on `cpu` because its buffer was full.
    pub fn lost_events(&self, cpu: usize) -> u64 {
        self.cpus
            .get(cpu)
            .map_or(0, |s| s.lost.load(Ordering::Relaxed))
    }

    /// Words reserved so far on `cpu` (its index).
    pub fn reserved_words(&self, cpu: usize) -> u64 {
        self.cpus
            .get(cpu)
            .map_or(0, |s| s.index.load(Ordering::Acquire))
    }

    /// Copies block `seq` of `cpu` into `out` (`block_words` long) if it is
    /// complete and was not overwritten while being copied.
    pub fn read_block(&self, cpu: usize, seq: u64, out: &mut [u64]) -> BlockRead {
        let block_words = 1usize << self.block_shift;
        let Some(state) = self.cpus.get(cpu) else {
            return BlockRead::NotReady;
        };
        if out.len() != block_words {
            return BlockRead::NotReady;
        }
        let slot = seq as usize & (self.blocks - 1);
        let generation = seq / self.blocks as u64;
        let Some(count) = self.commits.get(cpu * self.blocks + slot) else {
            return BlockRead::NotReady;
        };
        let committed = count.load(Ordering::Acquire);
        let want = (generation + 1) * block_words as u64;
        if committed < want {
            // Incomplete, unless writers have lapped it already.
            if self.lapped(state, seq) {
                return BlockRead::Overwritten;
            }
            return BlockRead::NotReady;
        }
        let base = cpu * self.ring_words + slot * block_words;
        for (o, w) in out.iter_mut().zip(&self.words[base..base + block_words]) {
            *o = w.load(Ordering::Relaxed);
        }
        // Seqlock-style check: if any word we copied came from a writer of
        // a later generation, its reservation is visible now.
        fence(Ordering::Acquire);
        if committed > want || self.lapped(state, seq) {
            return BlockRead::Overwritten;
        }
        BlockRead::Ready
    }

    /// Has a writer reserved space in the slot after block `seq`'s
    /// generation (so `seq` is, or is being, overwritten)?
    fn lapped(&self, state: &CpuState, seq: u64) -> bool {
        let index = state.index.load(Ordering::Relaxed);
        index > (seq + self.blocks as u64) << self.block_shift
    }

    /// Releases blocks below `seq` on `cpu` to writers ([`Overflow::Stop`]).
    pub fn release(&self, cpu: usize, seq: u64) {
        if let Some(state) = self.cpus.get(cpu) {
            state.released.fetch_max(seq, Ordering::Release);
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

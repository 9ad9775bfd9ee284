//! The trace file format and the stream writer.
//!
//! A trace file is exactly the byte stream the kernel sends out of the
//! guest, so a host can copy a serial port into a file and be done:
//!
//! ```text
//! file   = header record*
//! header = "K42TRACE"  u16 version (1)  u16 header length (32)
//!          u32 flags (bit 0: wrap mode)  u64 clock ticks per second (0: unknown)
//!          u32 processors  u32 words per block
//! record = u32 magic "K42R"  u16 kind  u16 reserved (0)
//!          u32 payload length  u32 FNV-1a-32 checksum of the payload
//!          payload
//! kind 1 = metadata: the declared events (see `meta`); normally first
//! kind 2 = block:    u32 processor  u32 words  u64 block sequence number
//!                    then the block's words, each a little-endian u64
//! ```
//!
//! Integers are little-endian. Blocks of one processor arrive in sequence
//! order, with gaps where blocks were lost; blocks of different processors
//! interleave freely. The record magic and checksum let a reader skip a
//! corrupt record and find the next one.
use crate::log::{BlockRead, Overflow, Platform, Tracer};
use crate::meta::{self, EventDesc};

/// The file magic.
pub const FILE_MAGIC: [u8; 8] = *b"K42TRACE";
/// The format version this crate writes and reads.
pub const VERSION: u16 = 1;
/// File header size in bytes.
pub const HEADER_BYTES: usize = 32;
/// Record magic.
pub const RECORD_MAGIC: [u8; 4] = *b"K42R";
/// Record header size in bytes.
pub const RECORD_BYTES: usize = 16;
/// Record kind: event metadata.
pub const KIND_METADATA: u16 = 1;
/// Record kind: one block.
pub const KIND_BLOCK: u16 = 2;
/// Block record payload prefix (processor, words, sequence) in bytes.
pub const BLOCK_PREFIX_BYTES: usize = 16;
/// Header flag: the log wraps on overflow.
pub const FLAG_WRAP: u32 = 1;

/// FNV-1a, 32 bits, computed incrementally.
#[derive(Clone, Copy, Debug)]
pub struct Fnv(u32);

impl Fnv {
    /// A fresh hash.
    pub const fn new() -> Fnv {
        Fnv(0x811c_9dc5)
    }
    /// Hashes more bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u32).wrapping_mul(0x0100_0193);
        }
    }
    /// The hash so far.
    pub const fn finish(self) -> u32 {
        self.0
    }
}

impl Default for Fnv {
    fn default() -> Self {
        Fnv::new()
    }
}

/// Where a stream goes: a serial port, a virtio console, a file, a `Vec`.
pub trait ByteSink {
    /// The sink's error.
    type Error;
    /// Writes all of `bytes` or fails.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;
}

#[cfg(feature = "std")]
/// Any `std::io::Write` is a sink.
pub struct IoSink<W>(pub W);

#[cfg(feature = "std")]
impl<W: std::io::Write> ByteSink for IoSink<W> {
    type Error = std::io::Error;
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), std::io::Error> {
        self.0.write_all(bytes)
    }
}

#[cfg(feature = "alloc")]
impl ByteSink for alloc::vec::Vec<u8> {
    type Error = core::convert::Infallible;
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// The 32-byte file header.
pub fn file_header(flags: u32, ticks_per_second: u64, cpus: u32, block_words: u32) -> [u8; 32] {
    let mut h = [0u8; HEADER_BYTES];
    h[0..8].copy_from_slice(&FILE_MAGIC);
    h[8..10].copy_from_slice(&VERSION.to_le_bytes());
    h[10..12].copy_from_slice(&(HEADER_BYTES as u16).to_le_bytes());
    h[12..16].copy_from_slice(&flags.to_le_bytes());
    h[16..24].copy_from_slice(&ticks_per_second.to_le_bytes());
    h[24..28].copy_from_slice(&cpus.to_le_bytes());
    h[28..32].copy_from_slice(&block_words.to_le_bytes());
    h
}

/// A 16-byte record header.
pub fn record_header(kind: u16, payload_len: u32, checksum: u32) -> [u8; RECORD_BYTES] {
    let mut h = [0u8; RECORD_BYTES];
    h[0..4].copy_from_slice(&RECORD_MAGIC);
    h[4..6].copy_from_slice(&kind.to_le_bytes());
    h[8..12].copy_from_slice(&payload_len.to_le_bytes());
    h[12..16].copy_from_slice(&checksum.to_le_bytes());
    h
}

/// Writes a metadata record for `tables` to `sink`.
pub fn write_metadata<S: ByteSink>(sink: &mut S, tables: &[&[EventDesc]]) -> Result<(), S::Error> {
    let len = meta::encoded_len(tables);
    let mut fnv = Fnv::new();
    meta::encode(tables, &mut |b| fnv.update(b));
    sink.write_all(&record_header(KIND_METADATA, len as u32, fnv.finish()))?;
    let mut result = Ok(());
    meta::encode(tables, &mut |b| {
        if result.is_ok() {
            result = sink.write_all(b);
        }
    });
    result
}

/// Writes one block record (`words` is the block's contents).
pub fn write_block<S: ByteSink>(
    sink: &mut S,
    cpu: u32,
    seq: u64,
    words: &[u64],
) -> Result<(), S::Error> {
    let mut prefix = [0u8; BLOCK_PREFIX_BYTES];
    prefix[0..4].copy_from_slice(&cpu.to_le_bytes());
    prefix[4..8].copy_from_slice(&(words.len() as u32).to_le_bytes());
    prefix[8..16].copy_from_slice(&seq.to_le_bytes());
    let mut fnv = Fnv::new();
    fnv.update(&prefix);
    for w in words {
        fnv.update(&w.to_le_bytes());
    }
    let len = BLOCK_PREFIX_BYTES + words.len() * 8;
    sink.write_all(&record_header(KIND_BLOCK, len as u32, fnv.finish()))?;
    sink.write_all(&prefix)?;
    // Eight words at a time, so a serial sink sees few calls.
    let mut chunk = [0u8; 64];
    for group in words.chunks(8) {
        for (i, w) in group.iter().enumerate() {
            chunk[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        sink.write_all(&chunk[..group.len() * 8])?;
    }
    Ok(())
}

/// What one [`StreamWriter::poll`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollStats {
    /// Blocks written to the sink.
    pub written: u64,
    /// Blocks skipped because writers had overwritten them.
    pub lost: u64,
    /// After a flush: processors whose seal was requested but not done
    /// yet (single-writer platforms only), so their last block is missing.
    pub pending: u32,
}

/// Serialises completed blocks of a [`Tracer`] to a [`ByteSink`], per
/// processor in sequence order: the kernel's trace daemon.
///
/// ```
/// # use ktrace::{stream::StreamWriter, Overflow, events};
/// let tracer = ktrace::host::tracer::<4, 512>(2, Overflow::Stop);
/// tracer.set_mask(u64::MAX);
/// events::test::mark(tracer, 1, 2);
///
/// let mut scratch = [0u64; 512];
/// let mut out: Vec<u8> = Vec::new();
/// let mut daemon = StreamWriter::new(tracer, &mut scratch);
/// daemon.start(&mut out, events::KERNEL_EVENTS, 0).unwrap();
/// daemon.poll(&mut out, 2).unwrap(); // keep two blocks behind the writers
/// daemon.flush(&mut out).unwrap();   // seal and send everything
/// assert!(out.starts_with(b"K42TRACE"));
/// ```
pub struct StreamWriter<'t, 'a, 's, P, const BLOCKS: usize, const BLOCK_WORDS: usize> {
    tracer: &'t Tracer<'a, P, BLOCKS, BLOCK_WORDS>,
    scratch: &'s mut [u64; BLOCK_WORDS],
    /// Next block to send per processor; up to 64 processors are streamed.
    next: [u64; 64],
    /// Lost-event count carried by the last block sent per processor.
    reported_lost: [u64; 64],
    /// The processor [`poll_some`](Self::poll_some) serves first next.
    turn: usize,
}

impl<'t, 'a, 's, P: Platform, const BLOCKS: usize, const BLOCK_WORDS: usize>
    StreamWriter<'t, 'a, 's, P, BLOCKS, BLOCK_WORDS>
{
    /// A writer for `tracer`, copying blocks through `scratch` (one block).
    /// Processors above 63 are not streamed.
    pub fn new(
        tracer: &'t Tracer<'a, P, BLOCKS, BLOCK_WORDS>,
        scratch: &'s mut [u64; BLOCK_WORDS],
    ) -> Self {
        StreamWriter {
            tracer,
            scratch,
            next: [0; 64],
            reported_lost: [0; 64],
            turn: 0,
        }
    }

    /// Writes the file header and the metadata record.
    pub fn start<S: ByteSink>(
        &mut self,
        sink: &mut S,
        tables: &[&[EventDesc]],
        ticks_per_second: u64,
    ) -> Result<(), S::Error> {
        let g = self.tracer.geometry();
        let flags = if self.tracer.overflow() == Overflow::Wrap {
            FLAG_WRAP
        } else {
            0
        };
        sink.write_all(&file_header(
            flags,
            ticks_per_second,
            g.cpus.min(64) as u32,
            g.block_words as u32,
        ))?;
        write_metadata(sink, tables)
    }

    /// Sends every complete block that is more than `lag` blocks behind the
    /// block the writers are filling on its processor (`lag` = 0: every block
    /// before that one).
    /// Releases sent blocks to writers in [`Overflow::Stop`] mode.
    pub fn poll<S: ByteSink>(&mut self, sink: &mut S, lag: u64) -> Result<PollStats, S::Error> {
        self.poll_some(sink, lag, u64::MAX)
    }

    /// [`poll`](Self::poll), sending at most `max` blocks: for a daemon
    /// that runs in an interrupt handler and must return soon. Processors
    /// take turns at being served first, so one busy processor cannot
    /// starve the others.
    pub fn poll_some<S: ByteSink>(
        &mut self,
        sink: &mut S,
        lag: u64,
        max: u64,
    ) -> Result<PollStats, S::Error> {
        let g = self.tracer.geometry();
        let mut stats = PollStats::default();
        let shift = g.block_words.trailing_zeros();
        let cpus = g.cpus.min(64);
        if cpus == 0 {
            return Ok(stats);
        }
        let first = self.turn % cpus;
        self.turn = (first + 1) % cpus;
        for cpu in (first..cpus).chain(0..first) {
            loop {
                if stats.written >= max {
                    return Ok(stats);
                }
                let seq = self.next[cpu];
                let current = self.tracer.reserved_words(cpu) >> shift;
                if seq + lag >= current {
                    break;
                }
                match self.tracer.read_block(cpu, seq, self.scratch) {
                    BlockRead::Ready => {
                        // Word 4 of the block start: events lost so far.
                        self.reported_lost[cpu] = self.scratch.get(4).copied().unwrap_or(0);
                        write_block(sink, cpu as u32, seq, &self.scratch[..])?;
                        stats.written += 1;
                        self.next[cpu] = seq + 1;
                        self.tracer.release(cpu, seq + 1);
                    }
                    BlockRead::Overwritten => {
                        // Skip to the oldest block still in the ring.
                        stats.lost += 1;
                        let oldest = current.saturating_sub(g.blocks as u64 - 1);
                        self.next[cpu] = (seq + 1).max(oldest);
                    }
                    BlockRead::NotReady => break,
                }
            }
        }
        Ok(stats)
    }

    /// Seals every processor's current block and sends all that is
    /// complete: the end of a trace, with writers still running. A
    /// processor that lost events since its last block start gets one more
    /// block (a block start and a heartbeat), so the trace reports every
    /// loss.
    ///
    /// On a single-writer platform ([`Platform::SINGLE_WRITER`]) the other
    /// processors seal their own buffers when they next call
    /// [`Tracer::serve`] (the kernel: at their next timer tick), so this
    /// sends what is ready and returns; [`PollStats::pending`] counts the
    /// processors not done yet. Use [`flush_with`](Self::flush_with) to
    /// wait for them, or [`finish`](Self::finish) once the writers have
    /// stopped.
    pub fn flush<S: ByteSink>(&mut self, sink: &mut S) -> Result<PollStats, S::Error> {
        self.flush_with(sink, || false)
    }

    /// [`flush`](Self::flush), calling `wait` while some processor has not
    /// sealed yet; `wait` pauses a little and returns false to give up
    /// (then [`PollStats::pending`] says how many are missing).
    pub fn flush_with<S: ByteSink>(
        &mut self,
        sink: &mut S,
        mut wait: impl FnMut() -> bool,
    ) -> Result<PollStats, S::Error> {
        self.flush_inner(sink, false, &mut wait)
    }

    /// Seals every processor's block directly and sends everything, for a
    /// tracer whose writers have all stopped (threads joined, processors
    /// halted). On a single-writer platform a writer still running may lose
    /// events to this (see [`Tracer::seal_stopped`]).
    pub fn finish<S: ByteSink>(&mut self, sink: &mut S) -> Result<PollStats, S::Error> {
        self.flush_inner(sink, true, &mut || false)
    }

    fn flush_inner<S: ByteSink>(
        &mut self,
        sink: &mut S,
        stopped: bool,
        wait: &mut dyn FnMut() -> bool,
    ) -> Result<PollStats, S::Error> {
        let cpus = self.tracer.geometry().cpus.min(64);
        let bw = self.tracer.geometry().block_words as u64;
        // Per processor, the blocks that must be complete and sent: all
        // those holding a word reserved before now.
        let mut want = [0u64; 64];
        for (cpu, want) in want.iter_mut().enumerate().take(cpus) {
            *want = self.tracer.reserved_words(cpu).div_ceil(bw);
            if stopped {
                self.tracer.seal_stopped(cpu);
            } else {
                self.tracer.seal(cpu);
            }
        }
        let mut stats = self.settle(sink, &want[..cpus], wait)?;
        let mut again = false;
        for (cpu, want) in want.iter_mut().enumerate().take(cpus) {
            if self.tracer.lost_events(cpu) > self.reported_lost[cpu] {
                // A heartbeat in a block of its own: the block start
                // carries the lost count.
                *want = (self.tracer.reserved_words(cpu).div_ceil(bw) + 1).max(*want);
                if stopped {
                    self.tracer.heartbeat_stopped(cpu);
                } else {
                    self.tracer.heartbeat_on(cpu);
                }
                again = true;
            }
        }
        if again {
            let more = self.settle(sink, &want[..cpus], wait)?;
            stats.written += more.written;
            stats.lost += more.lost;
            stats.pending = more.pending;
        }
        Ok(stats)
    }

    /// Sends blocks until every processor has completed `want[cpu]`
    /// blocks, or `wait` gives up.
    fn settle<S: ByteSink>(
        &mut self,
        sink: &mut S,
        want: &[u64],
        wait: &mut dyn FnMut() -> bool,
    ) -> Result<PollStats, S::Error> {
        let shift = self.tracer.geometry().block_words.trailing_zeros();
        let mut stats = PollStats::default();
        loop {
            let more = self.poll(sink, 0)?;
            stats.written += more.written;
            stats.lost += more.lost;
            let pending = want
                .iter()
                .enumerate()
                .filter(|&(cpu, &w)| (self.tracer.reserved_words(cpu) >> shift) < w)
                .count() as u32;
            stats.pending = pending;
            if pending == 0 || !wait() {
                return Ok(stats);
            }
        }
    }
}

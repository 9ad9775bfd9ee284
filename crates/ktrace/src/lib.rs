//! K42's tracing facility: one event log for the kernel, servers, libraries
//! and applications, and the file format its tools read.
//!
//! This crate owns the log itself (paper §9, `k42-notes.md` §8): events go
//! into per-processor buffers split into fixed-size blocks, reserved without
//! locks by a compare-and-swap on a 64-bit index and committed with a
//! per-block count. An event never straddles a block (the writer that would
//! cross pads the block with a *filler*), so any block can be read on its
//! own. A 64-bit mask of enabled classes is checked before anything else:
//! a disabled event costs a load and a branch, and the `compiled-out`
//! feature removes the facility altogether.
//!
//! Events are declared once with [`events!`]: class, name, typed fields
//! (strings included) and a print format. The macro generates the logging
//! function and the metadata that goes into the trace, so the tools decode
//! a trace from any build. The kernel's own events are declared in
//! [`events`](mod@events).
//!
//! | module      | owns                                                          |
//! |-------------|---------------------------------------------------------------|
//! | [`header`]  | the header word, layers, classes, the control events          |
//! | [`log`]     | [`Tracer`]: reserve, commit, filler, overflow, block reading |
//! | [`arch`]    | the hand-written instructions: CPU-local `cmpxchg`/`add`, TSC |
//! | [`field`]   | field types and their encoding                               |
//! | [`meta`]    | event metadata and its binary form                           |
//! | [`stream`]  | the trace file format and the no_std [`StreamWriter`]        |
//! | `decode`    | (feature `alloc`) reading trace files, tolerating damage     |
//! | `host`      | (feature `std`) heap memory, [`Platform`]s for threads       |
//!
//! # Setup in the kernel
//!
//! The kernel gives the log static memory (one [`CpuBuffer`] per
//! processor; the block count and size are constants, so the fast path
//! has no multiplications and no bounds checks but one), a processor id
//! and a clock (the TSC) through the [`Platform`] trait:
//!
//! ```
//! use ktrace::{CpuBuffer, Overflow, Platform, Tracer};
//!
//! struct Kernel;
//! impl Platform for Kernel {
//!     // One writer per buffer: its processor and its interrupt handlers.
//!     const SINGLE_WRITER: bool = true;
//!     fn cpu_id(&self) -> usize { 0 /* from the per-processor area */ }
//!     fn timestamp(&self) -> u64 { 42 /* rdtsc */ }
//!     // The fast path needs only the low half: `ktrace::arch::tsc_low()`.
//!     fn timestamp_low(&self) -> u32 { 42 }
//! }
//!
//! // Per processor: 8 blocks of 1024 words (64 KiB), all zero, in .bss.
//! const MAX_CPUS: usize = 4;
//! static BUFFERS: [CpuBuffer<8, 1024>; MAX_CPUS] = [const { CpuBuffer::new() }; MAX_CPUS];
//! static TRACER: Tracer<'static, Kernel, 8, 1024> = Tracer::new(&BUFFERS, Overflow::Wrap, Kernel);
//!
//! // At boot, from the command line (`trace=sched,lock`):
//! TRACER.set_mask(ktrace::events::parse_mask("sched,lock").unwrap());
//! // Anywhere:
//! ktrace::events::test::mark(&TRACER, 1, 2);
//! // From each processor's timer tick (seal requests of the daemon):
//! TRACER.serve();
//! ```
//!
//! A trace daemon (a kernel thread, or the idle loop) moves completed blocks
//! out with a [`StreamWriter`] a couple of blocks behind the writers, to any
//! [`stream::ByteSink`] such as a second serial port; the host copies the
//! bytes into a file (QEMU: `-serial file:boot.ktrace` for COM2, raw
//! bytes), and `ktrace` (tools/ktrace) dumps, analyses, exports and draws
//! it:
//!
//! ```ignore
//! struct Com2;
//! impl ktrace::stream::ByteSink for Com2 {
//!     type Error = core::convert::Infallible;
//!     fn write_all(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
//!         for &b in bytes { uart2_put(b) }
//!         Ok(())
//!     }
//! }
//!
//! let mut scratch = [0u64; 1024]; // one block
//! let mut daemon = StreamWriter::new(&TRACER, &mut scratch);
//! daemon.start(&mut Com2, ktrace::events::KERNEL_EVENTS, tsc_hz)?;
//! loop {
//!     daemon.poll(&mut Com2, 2)?; // two blocks behind the writers
//!     if shutting_down {
//!         // Other processors seal their blocks at their next tick.
//!         daemon.flush_with(&mut Com2, || wait_a_little_unless_timed_out())?;
//!         break;
//!     }
//!     sleep_a_tick();
//! }
//! ```
//!
//! Rules for the platform and the callers:
//! * the timer should call [`Tracer::heartbeat`] at least every 2^31 clock
//!   ticks (on every processor), so readers can follow the 32-bit
//!   timestamps of the header word;
//! * in the kernel a buffer is written only by its processor (and its
//!   interrupt handlers), so a plain `RDTSC` orders correctly, and the
//!   platform sets [`Platform::SINGLE_WRITER`]: the reservation and the
//!   commit then use `cmpxchg` and `add` *without* the `lock` prefix
//!   (module [`arch`]), atomic against this processor's interrupts, which
//!   is all a per-processor buffer needs (Linux's `this_cpu_cmpxchg` rests
//!   on the same fact). The price: logging must not migrate between
//!   `cpu_id()` and the commit (no kernel preemption inside a logging
//!   call), and another processor cannot seal the buffer itself; it posts a
//!   request that the owner carries out in [`Tracer::serve`], which the
//!   timer tick calls;
//! * where threads on several processors share a buffer (hosted
//!   [`host::StdPlatform`]) the default, locked mode applies, and a thread
//!   that migrates between `cpu_id()` and its commit still logs correctly;
//! * logging is lock-free and allocation-free, so it is safe from interrupt
//!   handlers and from the lock code itself.
//!
//! # Usage hosted
//!
//! ```
//! use ktrace::{events, host, Overflow};
//!
//! // Two processors of 4 blocks of 512 words each.
//! let tracer = host::tracer::<4, 512>(2, Overflow::Wrap);
//! tracer.enable(ktrace::Class::TEST);
//! events::test::message(tracer, "hello");
//!
//! // A buffer per thread: the CPU-local fast path, as in the kernel.
//! let mine = host::thread_tracer::<4, 512>(2, Overflow::Wrap);
//! mine.enable(ktrace::Class::TEST);
//! host::ThreadPlatform::set_buffer(1); // this thread writes buffer 1
//! events::test::mark(mine, 7, 8);
//! assert!(mine.reserved_words(1) > 0);
//! ```
//!
//! # The trace file format
//!
//! See [`stream`] for the records and [`header`] for the header word; in
//! short: a 32-byte file header, a metadata record with every declared
//! event (class, name, field names and types, print format), then block
//! records, each tagged with processor id and block sequence number, so a
//! stream of blocks from a serial port can be written straight into a file.
//! Within a block every event is one header word plus one word per scalar
//! field (strings: a length word and the bytes); the first event of each
//! block is a block start carrying the full 64-bit timestamp.
//!
//! # Dependencies and `unsafe`
//!
//! The library denies `unsafe` except in [`arch`] (three small `asm!`
//! blocks: `cmpxchg` and `add` without `lock`, `rdtsc`) and in
//! `host` (reading the TSC, and allocating zeroed buffers bigger than a
//! stack). It has no
//! dependencies (loom only under `cfg(loom)`): the log is a few
//! atomics, and the format is small enough to write by hand, which keeps it
//! documented in one place and usable without an allocator. The decoder
//! needs `alloc` only. The benchmarks compare against the `tracing` crate,
//! which was not used for the log itself: its subscriber model dispatches
//! through a trait object and formats values at run time, while K42's
//! design is a fixed binary layout decoded offline.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

#[allow(unsafe_code)]
pub mod arch;
pub mod events;
pub mod field;
pub mod header;
pub mod log;
mod macros;
pub mod meta;
pub mod stream;
mod sync;

#[cfg(feature = "alloc")]
pub mod decode;
#[cfg(feature = "std")]
pub mod host;

pub use field::{Field, FieldKind};
pub use header::{Class, Header, Layer};
pub use log::{
    BlockRead, CpuBuffer, Dropped, EventWriter, Geometry, Overflow, Platform, Seal, Tracer,
};
pub use meta::{EventDesc, FieldDesc};
pub use stream::StreamWriter;

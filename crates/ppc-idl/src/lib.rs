//! # ppc-idl: K42's interface generator, for Rust traits
//!
//! K42 reached every system service through a *protected procedure call*
//! (PPC, notes §7, paper §7.2): a synchronous call of a method of an object in
//! another address space, on the same processor, with handoff scheduling. The
//! arguments travel in registers plus a per-processor **PPC page** treated as
//! extra registers. Nobody wrote the marshalling by hand: K42 generated the
//! client stubs and the server dispatch code from one annotated class
//! declaration (in/out parameters, buffers, async methods, caller id, rights).
//!
//! This crate owns that generator for K42-rs. From ONE trait declaration
//! marked `#[ppc_idl::interface]` it generates
//!
//! * the trait itself (the server implements it),
//! * `<Trait>Client<'t>`: a stub holding an [`ObjectHandle`] and a
//!   `&dyn` [`Transport`], one method per trait method, which marshals the
//!   arguments into a [`Message`] (registers + page), calls the transport and
//!   unmarshals the reply; every stub method returns `Result<_, PpcError>`,
//! * `<Trait>Server<S>`: a [`Dispatch`] implementation that takes
//!   (method number, caller id, caller rights, request registers + page),
//!   checks the rights, unmarshals, calls `S`'s method and marshals the reply.
//!
//! ## Usage
//!
//! ```
//! use ppc_idl::{interface, LoopbackTransport, ObjectHandle, ProcessId, Rights};
//!
//! #[interface]
//! pub trait Counter {
//!     /// Method 0 (declaration order). Needs right bit 0.
//!     #[ppc(rights = 0b1)]
//!     fn add(&self, x: u64) -> u64;
//!     /// Explicit method number: stable whatever the order.
//!     #[ppc(id = 7)]
//!     fn whoami(&self, #[ppc(caller)] caller: ProcessId) -> u32;
//!     /// An `&mut [u8]` is an out buffer, length-checked against the page.
//!     fn fill(&self, #[ppc(out)] buf: &mut [u8]) -> usize;
//!     /// One-way: no reply, registers only.
//!     #[ppc(async)]
//!     fn poke(&self, x: u32);
//! }
//!
//! struct Impl;
//! impl Counter for Impl {
//!     fn add(&self, x: u64) -> u64 { x + 1 }
//!     fn whoami(&self, caller: ProcessId) -> u32 { caller.0 }
//!     fn fill(&self, buf: &mut [u8]) -> usize { buf.fill(7); buf.len() }
//!     fn poke(&self, _x: u32) {}
//! }
//!
//! let server = CounterServer(Impl);
//! let handle = ObjectHandle::new(ProcessId(1), 0, 0);
//! let grants = [(ProcessId(42), Rights(0b1))];
//! let transport = LoopbackTransport::new(&server, handle, &grants, ProcessId(42));
//! let client = CounterClient::new(&transport, handle);
//! assert_eq!(client.add(41), Ok(42));
//! assert_eq!(client.whoami(), Ok(42));
//! let mut buf = [0u8; 16];
//! assert_eq!(client.fill(&mut buf), Ok(16));
//! assert_eq!(buf, [7; 16]);
//! assert_eq!(CounterClient::WHOAMI, 7);
//! ```
//!
//! ## Parameter kinds
//!
//! | declared as                        | client passes   | travels as                                   |
//! |------------------------------------|-----------------|----------------------------------------------|
//! | `x: T` (`T: Marshal`)              | `T`             | words (registers, then page)                 |
//! | `s: &str`, `b: &[u8]`              | the same        | length word + bytes in the page              |
//! | `#[ppc(out)] b: &mut [u8]`         | `&mut [u8]`     | length word in; bytes back in the reply page |
//! | `#[ppc(out)] x: &mut T`            | `&mut T`        | in-out: value in, new value back             |
//! | `#[ppc(caller)] c: ProcessId`      | nothing         | supplied by the transport (kernel)           |
//!
//! Method attributes: `#[ppc(id = N)]` (explicit method number, else the
//! declaration index), `#[ppc(rights = MASK)]` (the caller must hold every
//! bit, checked by the generated dispatch before the method runs, else
//! [`PpcError::NoRights`]), `#[ppc(async)]` (no reply; arguments must fit the
//! [`PPC_REGS`] registers; the stub uses [`Transport::send`]).
//!
//! Marshalling is checked at compile time: every argument and result type must
//! implement [`Marshal`] / [`Unmarshal`], implemented here for the integers,
//! `bool`, `()`, fixed-size arrays, tuples, `Option`, `Result`, `&str` and
//! `&[u8]`, and derivable for plain structs with `#[derive(Marshal)]`.
//! Anything else (a `Vec`, a raw pointer, a `&mut` return ...) is a compile
//! error saying the type "cannot cross a PPC boundary".
//!
//! ```compile_fail
//! // error: `Vec<u8>` cannot cross a PPC boundary (use `&[u8]`).
//! #[ppc_idl::interface]
//! pub trait Bad {
//!     fn take(&self, v: Vec<u8>);
//! }
//! ```
//!
//! ```compile_fail
//! // error: `NotMarshal` cannot cross a PPC boundary (no #[derive(Marshal)]).
//! pub struct NotMarshal(u32);
//! #[ppc_idl::interface]
//! pub trait Bad {
//!     fn get(&self) -> NotMarshal;
//! }
//! ```
//!
//! ```compile_fail
//! // error: method number 3 already used by `a`.
//! #[ppc_idl::interface]
//! pub trait Bad {
//!     #[ppc(id = 3)]
//!     fn a(&self);
//!     #[ppc(id = 3)]
//!     fn b(&self);
//! }
//! ```
//!
//! The attribute can be spelled `#[ppc::interface]` after
//! `use ppc_idl as ppc;`.
//!
//! ## What the kernel PPC path must provide
//!
//! A [`Transport`] implementation: `call` copies (or maps) the request
//! registers and the per-processor PPC page to the server, hands the processor
//! off to a fresh server thread in the target process, which runs the
//! server's [`Dispatch::dispatch`] with the *kernel's* view of the caller (its
//! process id and the rights recorded for it in the object's export table,
//! never values the caller chose), then hands back with the reply registers
//! and page. `send` queues the registers of an async message in the target
//! dispatcher and raises its soft interrupt. [`LoopbackTransport`] is the
//! in-process model of exactly that contract, used by the tests and benches.
//!
//! ## Cost (loopback floor)
//!
//! `cargo bench -p ppc-idl --bench loopback -- --measurement-time 2
//! --warm-up-time 1` (one run, 2-core shared host; read the ratios): null call
//! 1.0 (about 45 ns), 64 B argument 1.4x, 4 KiB argument 2.0x. The null call is
//! dominated by zeroing the two on-stack [`Message`]s (2 x 4 KiB); a kernel
//! transport that hands the stub the per-processor PPC page directly removes
//! that cost.
//!
//! ## Why a proc-macro (syn + quote)
//!
//! K42 used a separate stub compiler over C++ headers. In Rust the trait *is*
//! the declaration, so an attribute macro keeps the interface, the client and
//! the server in one place and lets rustc's trait solver do the
//! marshalling type check (with `#[diagnostic::on_unimplemented]` messages).
//! `syn` and `quote` are the standard, well-audited way to parse and emit Rust
//! in a proc-macro; they run at build time on the host only, so the runtime
//! crate stays `no_std` with no dependencies. A `macro_rules!` generator was
//! refused: it cannot parse parameter attributes or give span-accurate errors.

#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

mod marshal;
mod transport;

pub use marshal::{Marshal, Reader, Unmarshal, Writer};
pub use ppc_idl_macros::{interface, Marshal};
pub use transport::{CallInfo, Dispatch, LoopbackTransport, Transport};

/// Number of 64-bit argument registers a PPC carries (x86-64: the syscall
/// argument registers plus a few callee-clobbered ones).
pub const PPC_REGS: usize = 8;
/// Size of the per-processor PPC page, the "extra registers".
pub const PPC_PAGE_SIZE: usize = 4096;

/// A method number within an interface.
pub type MethodId = u32;

/// A process id, as the kernel names processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ProcessId(pub u32);

/// A set of rights bits. A call needs every bit its method declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Rights(pub u64);

impl Rights {
    /// No rights at all.
    pub const NONE: Rights = Rights(0);
    /// Every right.
    pub const ALL: Rights = Rights(u64::MAX);

    /// Whether `self` holds every bit of `needed`.
    pub const fn contains(self, needed: Rights) -> bool {
        self.0 & needed.0 == needed.0
    }
}

/// An object handle (notes §7): the exporting process plus an index and a
/// sequence number (so a stale handle to a reused slot is detected). Holding
/// a handle grants nothing by itself: rights are recorded by the exporter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjectHandle {
    /// The server process that exports the object.
    pub server: ProcessId,
    /// Slot in the server's export table.
    pub index: u32,
    /// Sequence number of that slot when the handle was made.
    pub seq: u32,
}

impl ObjectHandle {
    /// A handle from its parts.
    pub const fn new(server: ProcessId, index: u32, seq: u32) -> Self {
        ObjectHandle { server, index, seq }
    }
}

/// Why a PPC failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PpcError {
    /// The caller lacks a right the method requires.
    NoRights,
    /// The interface has no method with this number.
    NoSuchMethod(MethodId),
    /// The arguments or the reply do not fit registers + PPC page (or, for an
    /// async message, the registers alone).
    Overflow,
    /// The message could not be decoded (short, bad length, bad UTF-8, bad
    /// bool or enum tag ...).
    Malformed,
    /// The handle names no live object.
    BadHandle,
    /// The transport could not deliver the call (server gone, queue full).
    Transport,
}

impl core::fmt::Display for PpcError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PpcError::NoRights => f.write_str("caller lacks the rights for this method"),
            PpcError::NoSuchMethod(m) => write!(f, "no method number {m} in this interface"),
            PpcError::Overflow => f.write_str("arguments do not fit registers + PPC page"),
            PpcError::Malformed => f.write_str("malformed PPC message"),
            PpcError::BadHandle => f.write_str("bad object handle"),
            PpcError::Transport => f.write_str("PPC transport failure"),
        }
    }
}

/// One PPC message: the argument registers plus the PPC page.
///
/// The same layout serves the request and the reply. Scalars fill the
/// registers first and then spill into the page as 8-byte words; byte strings
/// always go to the page behind a length word.
#[derive(Clone)]
pub struct Message {
    /// Argument registers.
    pub regs: [u64; PPC_REGS],
    /// The PPC page.
    pub page: [u8; PPC_PAGE_SIZE],
    /// Bytes of `page` in use (set by the [`Writer`]): what a kernel
    /// transport copies.
    pub page_len: usize,
}

impl Default for Message {
    fn default() -> Self {
        Self::new()
    }
}

impl Message {
    /// An empty (zeroed) message.
    pub const fn new() -> Self {
        Message {
            regs: [0; PPC_REGS],
            page: [0; PPC_PAGE_SIZE],
            page_len: 0,
        }
    }

    /// A writer that fills registers then the page.
    pub fn writer(&mut self) -> Writer<'_> {
        Writer::new(self, true)
    }

    /// A writer limited to the registers (async messages).
    pub fn async_writer(&mut self) -> Writer<'_> {
        Writer::new(self, false)
    }

    /// A reader in the same order as [`Message::writer`] wrote.
    pub fn reader(&self) -> Reader<'_> {
        Reader::new(self)
    }
}

//! K42's user-level thread library.
//!
//! In K42 the kernel schedules *dispatchers*, not threads (paper §7.1, notes
//! §6). Each process has one dispatcher per processor it uses, and each
//! dispatcher runs a thread library in user mode that picks which of its
//! threads runs. When a thread waits for a protected procedure call (PPC) or
//! for the kernel to resolve a page fault, the library parks just that thread
//! and runs another: the processor is not given up while work remains.
//!
//! This crate is that library:
//!
//! * [`Dispatcher`]: the run queue and thread table of one dispatcher;
//!   [`spawn`](Dispatcher::spawn), [`yield_now`](Dispatcher::yield_now),
//!   [`exit`](Dispatcher::exit), [`join`](Dispatcher::join);
//! * [`Mutex`] and [`Condvar`]: blocking parks the thread and runs another,
//!   without a kernel call;
//! * blocking on an upcall: [`block_on_ppc`](Dispatcher::block_on_ppc) and
//!   [`block_on_fault`](Dispatcher::block_on_fault) park the thread until
//!   [`complete`](Dispatcher::complete) (or, from another dispatcher,
//!   [`Remote::complete`]) delivers its [`Token`];
//! * the kernel's page-fault upcall: the program's page-fault entry calls
//!   [`block_on_io`](Dispatcher::block_on_io) with the kernel's I/O id,
//!   which parks the faulting thread; the [`SOFT_FAULT`] soft interrupt
//!   makes the scheduler take the completions
//!   ([`Platform::fault_completions`]) and ready the threads, which then
//!   retry their access;
//! * timers: [`sleep_until`](Dispatcher::sleep_until) keeps a heap of
//!   deadlines and registers only the nearest one with the kernel through
//!   [`Platform::set_timer`]; the [`SOFT_TIMER`] soft interrupt fires them;
//! * several dispatchers per process: a [`Remote`] handle (`Send + Sync`)
//!   queues wake-ups in a lock-free queue and raises [`SOFT_WAKEUP`].
//!
//! Threads are cooperative within their dispatcher: preemption between
//! dispatchers is the kernel's job. The context switch (`context.rs`, the
//! only module with `unsafe`) saves the System V callee-saved registers, the
//! stack pointer, `MXCSR` and the x87 control word. A panic that escapes a
//! thread's function aborts the process (it cannot unwind past the thread's
//! first frame); threads report failure through their results instead.
//!
//! # Setup
//!
//! ```toml
//! [dependencies]
//! uthread = { path = "../user/uthread" }                            # hosted
//! uthread = { path = "../user/uthread", default-features = false } # user mode
//! ```
//!
//! Without the `std` feature the crate is `no_std + alloc` and builds for
//! `x86_64-unknown-none`; the program provides a [`Platform`].
//!
//! # Usage
//!
//! ```
//! use std::{cell::Cell, rc::Rc};
//! use uthread::{hosted::StdPlatform, Condvar, Dispatcher, Mutex};
//!
//! let d = Dispatcher::new(StdPlatform::new());
//! let shared = Rc::new((Mutex::new(0u32), Condvar::new()));
//! let done = Rc::new(Cell::new(false));
//!
//! let s = shared.clone();
//! d.spawn(move |d| {
//!     let (m, cv) = &*s;
//!     let g = m.lock(d).unwrap();
//!     let g = cv.wait_while(g, |n| *n < 3).unwrap();
//!     assert_eq!(*g, 3);
//! })
//! .unwrap();
//! let (s, fin) = (shared.clone(), done.clone());
//! d.spawn(move |d| {
//!     let (m, cv) = &*s;
//!     for _ in 0..3 {
//!         *m.lock(d).unwrap() += 1;
//!         cv.notify_all(d);
//!         d.yield_now().unwrap();
//!     }
//!     // A blocking "call": another thread or an upcall completes the token.
//!     let t = d.new_token();
//!     d.complete(t).unwrap();
//!     d.block_on_ppc(t).unwrap();
//!     d.sleep(1_000).unwrap(); // 1 µs on StdPlatform
//!     fin.set(true);
//! })
//! .unwrap();
//! d.run().unwrap();
//! assert!(done.get());
//! ```
//!
//! # What the kernel must provide later
//!
//! The [`Platform`] trait is the dispatcher's view of the kernel. In K42-rs
//! user mode it will be backed by:
//!
//! * a **dispatcher page** shared with the kernel, holding the soft-interrupt
//!   bits ([`SoftInterrupts`]: today an `Arc`, later that page), the
//!   *disabled* flag (set while the library is inside its scheduler so the
//!   kernel saves state in the page instead of upcalling), and the save areas
//!   of an interrupted thread;
//! * **entry points** the kernel upcalls: *run* (enter [`Dispatcher::run`]'s
//!   loop), *interrupt* (soft interrupts pending: the loop's
//!   soft-interrupt handling), *IPC return* (call [`Dispatcher::complete`]
//!   with the token the thread blocked on) and *page fault* (the faulting
//!   thread calls [`Dispatcher::block_on_io`]; the kernel's page-fault
//!   completion soft interrupt becomes [`SOFT_FAULT`], and the completions
//!   come from [`Platform::fault_completions`]: K42-rs's native call
//!   `pfault_take`, see `native-tests`' `pfault.rs`);
//! * native calls: one per-dispatcher **timer request** ([`Platform::set_timer`]),
//!   **yield** to the kernel when idle ([`Platform::idle`]), and pages for
//!   thread stacks ([`Platform::alloc_stack`]), ideally with an unmapped guard
//!   page below each (hosted stacks have none: a thread that overflows its
//!   stack corrupts the heap, so size stacks generously).
//!
//! # Design notes
//!
//! Every switch goes through the scheduler loop on the dispatcher's own stack
//! (thread → scheduler → thread), which keeps soft-interrupt handling in one
//! place at the price of two switches per hand-over. Exited threads' stacks
//! are cached per dispatcher (up to 64) before going back to the platform;
//! [`Dispatcher::trim_stack_cache`] returns them early.
//!
//! # External crates
//!
//! None at run time. `criterion` (dev) for the benchmark. Context-switch
//! crates (`corosensei`, `context`) were refused: they need `std` or do more
//! (unwinding across stacks, guard pages) than a dispatcher wants, and the
//! switch is forty lines of assembly worth reading.

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

#[cfg(not(target_arch = "x86_64"))]
compile_error!("uthread's context switch is written for x86-64 only");

use alloc::boxed::Box;
use alloc::vec;
use core::fmt;

#[allow(unsafe_code)]
mod context;
mod dispatcher;
mod remote;
mod sync;

#[cfg(feature = "std")]
pub mod hosted;

pub use dispatcher::{BlockReason, Dispatcher, Stats, ThreadState};
pub use remote::{Remote, SoftInterrupts, SOFT_FAULT, SOFT_TIMER, SOFT_WAKEUP};
pub use sync::{Condvar, Mutex, MutexGuard};

/// Stack size used by [`Dispatcher::new`].
pub const DEFAULT_STACK_BYTES: usize = 64 * 1024;

/// Smallest stack a thread can get (room for the start frame and a little).
pub const MIN_STACK_BYTES: usize = 4096;

/// Identifies a thread of one dispatcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadId(pub(crate) u64);

impl ThreadId {
    /// The number (unique within the dispatcher, starting at 1).
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

/// Names one pending completion (a PPC reply, a page-fault resolution, a
/// cross-dispatcher wake-up). Never zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token(pub(crate) u64);

impl Token {
    /// The raw value, e.g. to put in a message to another dispatcher.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// A token from its raw value; `None` for zero.
    pub fn from_u64(raw: u64) -> Option<Self> {
        (raw != 0).then_some(Self(raw))
    }
}

/// A thread stack: memory owned by the thread while it exists, handed back
/// to [`Platform::free_stack`] when it exits.
pub struct Stack {
    words: Box<[u64]>,
}

impl Stack {
    /// A heap-allocated stack of at least `bytes` (and at least
    /// [`MIN_STACK_BYTES`]).
    pub fn with_size(bytes: usize) -> Self {
        let n = bytes.max(MIN_STACK_BYTES).div_ceil(8);
        Self {
            words: vec![0u64; n].into_boxed_slice(),
        }
    }

    /// Wraps memory from the caller's allocator.
    pub fn from_words(words: Box<[u64]>) -> Result<Self, Error> {
        if words.len() * 8 < MIN_STACK_BYTES {
            return Err(Error::StackTooSmall);
        }
        Ok(Self { words })
    }

    /// The memory back.
    pub fn into_words(self) -> Box<[u64]> {
        self.words
    }

    /// Size in bytes.
    pub fn len_bytes(&self) -> usize {
        self.words.len() * 8
    }

    pub(crate) fn base_addr(&self) -> usize {
        self.words.as_ptr() as usize
    }

    pub(crate) fn words_mut(&mut self) -> &mut [u64] {
        &mut self.words
    }
}

/// What a dispatcher needs from the kernel (or, hosted, from Linux).
pub trait Platform {
    /// Monotonic clock, in the unit timers use.
    fn now(&self) -> u64;

    /// Registers the dispatcher's single kernel timer at `deadline` (replacing
    /// any earlier registration), or cancels it with `None`. When it expires
    /// the platform raises [`SOFT_TIMER`].
    fn set_timer(&self, deadline: Option<u64>);

    /// Nothing is runnable: give the processor up until a soft interrupt is
    /// pending in `soft` (including [`SOFT_TIMER`] for the registered timer).
    fn idle(&self, soft: &SoftInterrupts);

    /// Memory for a new thread's stack; `None` refuses the thread.
    fn alloc_stack(&self, bytes: usize) -> Option<Stack> {
        Some(Stack::with_size(bytes))
    }

    /// An exited thread's stack, back to the allocator.
    fn free_stack(&self, stack: Stack) {
        drop(stack);
    }

    /// Takes the page-fault completions the kernel queued for this
    /// dispatcher (after [`SOFT_FAULT`]): calls `done(io, result)` for
    /// each (result 0: the page is in; negative: the read failed). None by
    /// default.
    fn fault_completions(&self, done: &mut dyn FnMut(u64, i64)) {
        let _ = done;
    }
}

/// Errors of the thread library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A blocking call was made outside the dispatcher's threads.
    NotInThread,
    /// [`Dispatcher::run`] was called from one of its own threads.
    Reentrant,
    /// [`Platform::alloc_stack`] refused a stack.
    OutOfStacks,
    /// A stack smaller than [`MIN_STACK_BYTES`].
    StackTooSmall,
    /// A token this dispatcher never issued, or already used up.
    UnknownToken,
    /// Another thread is already blocked on this token.
    TokenInUse,
    /// The token was completed twice.
    AlreadyCompleted,
    /// A thread id this dispatcher never handed out.
    UnknownThread,
    /// A thread tried to join itself.
    JoinSelf,
    /// The remote wake-up queue is full; retry later.
    QueueFull,
    /// Internal bookkeeping is inconsistent (a bug).
    Corrupt,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::NotInThread => "not called from a thread of this dispatcher",
            Error::Reentrant => "dispatcher run from one of its own threads",
            Error::OutOfStacks => "no stack for a new thread",
            Error::StackTooSmall => "stack smaller than MIN_STACK_BYTES",
            Error::UnknownToken => "unknown or used-up token",
            Error::TokenInUse => "a thread is already blocked on this token",
            Error::AlreadyCompleted => "token completed twice",
            Error::UnknownThread => "unknown thread id",
            Error::JoinSelf => "a thread cannot join itself",
            Error::QueueFull => "remote wake-up queue full",
            Error::Corrupt => "thread library bookkeeping inconsistent",
        })
    }
}

/// A platform shared with the code that set the dispatcher up (tests, a
/// runtime that inspects its kernel model).
impl<P: Platform + ?Sized> Platform for alloc::rc::Rc<P> {
    fn now(&self) -> u64 {
        (**self).now()
    }
    fn set_timer(&self, deadline: Option<u64>) {
        (**self).set_timer(deadline)
    }
    fn idle(&self, soft: &SoftInterrupts) {
        (**self).idle(soft)
    }
    fn alloc_stack(&self, bytes: usize) -> Option<Stack> {
        (**self).alloc_stack(bytes)
    }
    fn free_stack(&self, stack: Stack) {
        (**self).free_stack(stack)
    }
    fn fault_completions(&self, done: &mut dyn FnMut(u64, i64)) {
        (**self).fault_completions(done)
    }
}

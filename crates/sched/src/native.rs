//! The native call set: the few kernel calls a dispatcher makes, in the
//! spirit of K42's ten (notes §7: set entry point, yield, handoff, IPC call,
//! IPC return, PPC primitive, async IPC, user return-from-interrupt, trap
//! return, timer request).
//!
//! A call arrives as [`Registers`] (`syscall`: number in `rax`, arguments in
//! `rdi, rsi, rdx, r10, r8, r9`). [`NativeCall::decode`] validates them into
//! a typed [`NativeCall`] or a [`CallError`] (never a panic), and
//! [`NativeCall::encode`] is its inverse for user-level stubs. Argument
//! registers a call does not use must be zero, so they stay free for later
//! extensions. [`NativeCall::sched_op`] says what the call asks of the
//! scheduler, and [`Smp::perform`](crate::Smp::perform) does it.
//!
//! | nr | call | arguments | scheduler side |
//! |----|------|-----------|----------------|
//! | 0 | [`SetEntryPoint`](NativeCall::SetEntryPoint) | entry kind, user address (0 clears) | none |
//! | 1 | [`Yield`](NativeCall::Yield) | | [`Scheduler::yield_now`](crate::Scheduler::yield_now) |
//! | 2 | [`Block`](NativeCall::Block) | | block the caller until a wake-up |
//! | 3 | [`Handoff`](NativeCall::Handoff) | dispatcher | [`handoff`](crate::Scheduler::handoff), caller stays runnable |
//! | 4 | [`IpcCall`](NativeCall::IpcCall) | object handle, method + length, 4 words | handoff to the server's dispatcher, caller stays runnable |
//! | 5 | [`IpcReturn`](NativeCall::IpcReturn) | status, length, 4 words | handoff back to the client, server blocks |
//! | 6 | [`AsyncSend`](NativeCall::AsyncSend) | dispatcher, 4 words | wake the target (any processor) |
//! | 7 | [`Timer`](NativeCall::Timer) | kind, time | none now; the kernel's timer wakes later |
//! | 8 | [`SoftInterrupt`](NativeCall::SoftInterrupt) | dispatcher, bits | wake the target |
//! | 9 | [`CreateDispatcher`](NativeCall::CreateDispatcher) | processor, packed params, entry, dispatcher page | [`Smp::create`](crate::Smp::create) |
//! | 10 | [`ExitDispatcher`](NativeCall::ExitDispatcher) | status | exit the caller |
//! | 11 | [`SetSchedParams`](NativeCall::SetSchedParams) | dispatcher or `u64::MAX` (self), packed params | [`set_params`](crate::Scheduler::set_params) |
//!
//! Packed scheduling parameters: bits 0..8 class (0 kernel ... 5 idle),
//! bits 8..21 weight (1..=4096), bit 32 pinned; other bits zero.
//!
//! What stays with the kernel: the rights check on object handles and
//! soft interrupts (only a process's own dispatchers), copying the PPC page,
//! queueing async messages and setting soft-interrupt bits in the target's
//! dispatcher page, the timer queue, and saving/restoring register state.
//! K42's "user return-from-interrupt" and "trap return" are not calls here:
//! the dispatcher page's disabled flag and save areas (issue 8, point 3)
//! make them ordinary returns to user mode.

use core::fmt;

use crate::sched::HandoffMode;
use crate::types::{Class, CpuId, DispatcherId, Error, Params, Time, Weight};

/// The registers of a native call: `rax` and the six argument registers in
/// System V `syscall` order (`rdi, rsi, rdx, r10, r8, r9`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Registers {
    /// Call number (`rax`).
    pub nr: u64,
    /// Arguments.
    pub args: [u64; 6],
}

/// First address above user space (the canonical lower half).
pub const USER_TOP: u64 = 0x0000_8000_0000_0000;
/// Size of the dispatcher page and of the per-processor PPC page.
pub const PAGE_SIZE: u64 = 4096;
/// [`SetSchedParams`](NativeCall::SetSchedParams) target meaning "myself".
pub const SELF: u64 = u64::MAX;

/// A user-space address: non-null and below [`USER_TOP`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserAddr(u64);

impl UserAddr {
    /// Checks `a` is a non-null user address.
    pub fn new(a: u64) -> Result<UserAddr, CallError> {
        if a != 0 && a < USER_TOP {
            Ok(UserAddr(a))
        } else {
            Err(CallError::BadAddress(a))
        }
    }

    /// The address.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A dispatcher's entry points (notes §6): where the kernel enters it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EntryPoint {
    /// Given the processor (after preemption, or when first started).
    Run = 0,
    /// A soft interrupt arrived while enabled.
    Interrupt = 1,
    /// A trap or exception in user mode.
    Trap = 2,
    /// A page fault is being resolved: run another thread.
    PageFault = 3,
    /// An incoming PPC call.
    IpcCall = 4,
    /// A PPC return.
    IpcReturn = 5,
    /// A PPC that could not be delivered (target gone, no rights).
    IpcFault = 6,
    /// A reflected (Linux) system call.
    SystemCall = 7,
}

impl EntryPoint {
    /// All entry points, by number.
    pub const ALL: [EntryPoint; 8] = [
        EntryPoint::Run,
        EntryPoint::Interrupt,
        EntryPoint::Trap,
        EntryPoint::PageFault,
        EntryPoint::IpcCall,
        EntryPoint::IpcReturn,
        EntryPoint::IpcFault,
        EntryPoint::SystemCall,
    ];
}

/// An object handle as K42 names it: the server process and an index (with
/// sequence number) in its object table. Holding one grants nothing; the
/// kernel checks the caller's rights when it resolves the handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjectHandle {
    /// Server process.
    pub pid: u32,
    /// Index and sequence number in the server's object table.
    pub xhandle: u32,
}

impl ObjectHandle {
    fn to_raw(self) -> u64 {
        (u64::from(self.pid) << 32) | u64::from(self.xhandle)
    }
    fn from_raw(raw: u64) -> ObjectHandle {
        ObjectHandle {
            pid: (raw >> 32) as u32,
            xhandle: raw as u32,
        }
    }
}

/// A timer request. The kernel keeps one timer per dispatcher (the user
/// thread library registers only its nearest deadline).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerRequest {
    /// Signal at this absolute time (ns of the kernel clock).
    At(Time),
    /// Signal after this long.
    After(Time),
    /// Cancel the pending request.
    Cancel,
}

/// One native call, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NativeCall {
    /// Sets (or with `None` clears) one of the caller's entry points.
    SetEntryPoint {
        /// Which.
        entry: EntryPoint,
        /// Where.
        address: Option<UserAddr>,
    },
    /// Gives up the rest of the slice.
    Yield,
    /// Nothing to do: sleep until a wake-up (soft interrupt, message,
    /// timer, IPC).
    Block,
    /// Gives the processor to a dispatcher on the same processor.
    Handoff {
        /// Who gets it.
        target: DispatcherId,
    },
    /// A protected procedure call.
    IpcCall {
        /// The object called.
        handle: ObjectHandle,
        /// Method number.
        method: u32,
        /// Bytes of arguments in the PPC page (0..=4096).
        len: u16,
        /// Register arguments.
        words: [u64; 4],
    },
    /// Returns from a PPC to its caller.
    IpcReturn {
        /// Return status.
        status: u64,
        /// Bytes of results in the PPC page (0..=4096).
        len: u16,
        /// Register results.
        words: [u64; 4],
    },
    /// An asynchronous message of a few words, queued in the target.
    AsyncSend {
        /// Receiver (any processor).
        target: DispatcherId,
        /// The message.
        words: [u64; 4],
    },
    /// A timer request.
    Timer(TimerRequest),
    /// Raises soft-interrupt bits in another dispatcher of the same process.
    SoftInterrupt {
        /// Receiver.
        target: DispatcherId,
        /// Bits to set (non-zero).
        bits: u64,
    },
    /// Creates a dispatcher of the caller's process.
    CreateDispatcher {
        /// Its processor.
        cpu: u32,
        /// Its scheduling parameters.
        params: Params,
        /// Its run entry point.
        entry: UserAddr,
        /// Its dispatcher page (page-aligned).
        page: UserAddr,
    },
    /// Ends the calling dispatcher.
    ExitDispatcher {
        /// Exit status.
        status: u64,
    },
    /// Changes a dispatcher's scheduling parameters (`None`: the caller's).
    SetSchedParams {
        /// Whose.
        target: Option<DispatcherId>,
        /// New parameters.
        params: Params,
    },
}

/// Why a native call was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// No call has this number.
    UnknownCall(u64),
    /// No entry point has this number.
    BadEntryPoint(u64),
    /// Not a (non-null) user address.
    BadAddress(u64),
    /// An address that must be page-aligned is not.
    Misaligned(u64),
    /// No such processor.
    BadCpu(u64),
    /// A PPC-page length over 4096 bytes.
    BadLength(u64),
    /// A method number wider than 32 bits.
    BadMethod(u64),
    /// An unknown timer kind, or a cancel with a time.
    BadTimer(u64),
    /// A soft interrupt with no bits.
    NoBits,
    /// An argument register the call does not use (or unused bits of a
    /// packed argument) is not zero.
    Reserved {
        /// Which argument (0 = `rdi`).
        arg: u8,
    },
    /// A return with no call to return to.
    NotInCall,
    /// Refused by the scheduler (bad class or weight, no such dispatcher,
    /// wrong processor, ...).
    Sched(Error),
}

impl From<Error> for CallError {
    fn from(e: Error) -> Self {
        CallError::Sched(e)
    }
}

impl CallError {
    /// The status returned to user space in `rax`: a negative Linux errno
    /// (ENOSYS, EINVAL, EFAULT, ESRCH, EXDEV, EAGAIN), so the Linux
    /// personality can pass it through.
    pub fn code(self) -> i64 {
        match self {
            CallError::UnknownCall(_) => -38,
            CallError::BadAddress(_) => -14,
            CallError::Sched(Error::NoSuchDispatcher) => -3,
            CallError::Sched(Error::WrongCpu { .. }) => -18,
            CallError::Sched(Error::TooManyDispatchers) => -11,
            _ => -22,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::UnknownCall(n) => write!(f, "no native call {n}"),
            CallError::BadEntryPoint(n) => write!(f, "no entry point {n}"),
            CallError::BadAddress(a) => write!(f, "{a:#x} is not a user address"),
            CallError::Misaligned(a) => write!(f, "{a:#x} is not page-aligned"),
            CallError::BadCpu(c) => write!(f, "no processor {c}"),
            CallError::BadLength(l) => write!(f, "length {l} exceeds the PPC page"),
            CallError::BadMethod(m) => write!(f, "method {m:#x} is wider than 32 bits"),
            CallError::BadTimer(k) => write!(f, "bad timer request {k}"),
            CallError::NoBits => f.write_str("soft interrupt with no bits"),
            CallError::Reserved { arg } => write!(f, "argument {arg} must be zero"),
            CallError::NotInCall => f.write_str("not in a PPC call"),
            CallError::Sched(e) => write!(f, "{e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CallError {}

/// Call numbers.
pub mod nr {
    #![allow(missing_docs)]
    pub const SET_ENTRY_POINT: u64 = 0;
    pub const YIELD: u64 = 1;
    pub const BLOCK: u64 = 2;
    pub const HANDOFF: u64 = 3;
    pub const IPC_CALL: u64 = 4;
    pub const IPC_RETURN: u64 = 5;
    pub const ASYNC_SEND: u64 = 6;
    pub const TIMER: u64 = 7;
    pub const SOFT_INTERRUPT: u64 = 8;
    pub const CREATE_DISPATCHER: u64 = 9;
    pub const EXIT_DISPATCHER: u64 = 10;
    pub const SET_SCHED_PARAMS: u64 = 11;
    /// Number of calls.
    pub const COUNT: u64 = 12;
}

/// Packs scheduling parameters into one argument word.
pub fn pack_params(p: Params) -> u64 {
    p.class as u64 | (u64::from(p.weight.get()) << 8) | (u64::from(p.pinned) << 32)
}

/// Unpacks and validates scheduling parameters from an argument word.
pub fn unpack_params(w: u64, arg: u8) -> Result<Params, CallError> {
    if w & !((1 << 33) - 1) != 0 || w & (0x7ff << 21) != 0 {
        return Err(CallError::Reserved { arg });
    }
    Ok(Params {
        class: Class::from_index(w & 0xff)?,
        weight: Weight::new((w >> 8) & 0x1fff)?,
        pinned: w & (1 << 32) != 0,
    })
}

fn length(w: u64) -> Result<u16, CallError> {
    if w <= PAGE_SIZE {
        Ok(w as u16)
    } else {
        Err(CallError::BadLength(w))
    }
}

/// Limits the kernel knows when it decodes a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Number of processors.
    pub cpus: usize,
}

impl NativeCall {
    /// Validates a call's registers. Every malformed call is an error.
    pub fn decode(r: &Registers, limits: Limits) -> Result<NativeCall, CallError> {
        let a = r.args;
        // Arguments from `used` on must be zero.
        let zero_from = |used: usize| -> Result<(), CallError> {
            match a.iter().skip(used).position(|&x| x != 0) {
                Some(i) => Err(CallError::Reserved {
                    arg: (used + i) as u8,
                }),
                None => Ok(()),
            }
        };
        let call = match r.nr {
            nr::SET_ENTRY_POINT => {
                zero_from(2)?;
                let entry = usize::try_from(a[0])
                    .ok()
                    .and_then(|i| EntryPoint::ALL.get(i).copied())
                    .ok_or(CallError::BadEntryPoint(a[0]))?;
                let address = if a[1] == 0 {
                    None
                } else {
                    Some(UserAddr::new(a[1])?)
                };
                NativeCall::SetEntryPoint { entry, address }
            }
            nr::YIELD => {
                zero_from(0)?;
                NativeCall::Yield
            }
            nr::BLOCK => {
                zero_from(0)?;
                NativeCall::Block
            }
            nr::HANDOFF => {
                zero_from(1)?;
                NativeCall::Handoff {
                    target: DispatcherId::from_raw(a[0]),
                }
            }
            nr::IPC_CALL => {
                let method = a[1] & 0xffff_ffff;
                let len = length(a[1] >> 32)?;
                NativeCall::IpcCall {
                    handle: ObjectHandle::from_raw(a[0]),
                    method: method as u32,
                    len,
                    words: [a[2], a[3], a[4], a[5]],
                }
            }
            nr::IPC_RETURN => NativeCall::IpcReturn {
                status: a[0],
                len: length(a[1])?,
                words: [a[2], a[3], a[4], a[5]],
            },
            nr::ASYNC_SEND => {
                zero_from(5)?;
                NativeCall::AsyncSend {
                    target: DispatcherId::from_raw(a[0]),
                    words: [a[1], a[2], a[3], a[4]],
                }
            }
            nr::TIMER => {
                zero_from(2)?;
                NativeCall::Timer(match a[0] {
                    0 => TimerRequest::At(a[1]),
                    1 => TimerRequest::After(a[1]),
                    2 if a[1] == 0 => TimerRequest::Cancel,
                    k => return Err(CallError::BadTimer(k)),
                })
            }
            nr::SOFT_INTERRUPT => {
                zero_from(2)?;
                if a[1] == 0 {
                    return Err(CallError::NoBits);
                }
                NativeCall::SoftInterrupt {
                    target: DispatcherId::from_raw(a[0]),
                    bits: a[1],
                }
            }
            nr::CREATE_DISPATCHER => {
                zero_from(4)?;
                if a[0] >= limits.cpus as u64 {
                    return Err(CallError::BadCpu(a[0]));
                }
                let params = unpack_params(a[1], 1)?;
                let entry = UserAddr::new(a[2])?;
                let page = UserAddr::new(a[3])?;
                if page.get() % PAGE_SIZE != 0 {
                    return Err(CallError::Misaligned(a[3]));
                }
                if page.get() > USER_TOP - PAGE_SIZE {
                    return Err(CallError::BadAddress(a[3]));
                }
                NativeCall::CreateDispatcher {
                    cpu: a[0] as u32,
                    params,
                    entry,
                    page,
                }
            }
            nr::EXIT_DISPATCHER => {
                zero_from(1)?;
                NativeCall::ExitDispatcher { status: a[0] }
            }
            nr::SET_SCHED_PARAMS => {
                zero_from(2)?;
                NativeCall::SetSchedParams {
                    target: (a[0] != SELF).then(|| DispatcherId::from_raw(a[0])),
                    params: unpack_params(a[1], 1)?,
                }
            }
            n => return Err(CallError::UnknownCall(n)),
        };
        Ok(call)
    }

    /// The registers that make this call (for user-level stubs).
    pub fn encode(&self) -> Registers {
        let (nr, args) = match *self {
            NativeCall::SetEntryPoint { entry, address } => (
                nr::SET_ENTRY_POINT,
                [entry as u64, address.map_or(0, UserAddr::get), 0, 0, 0, 0],
            ),
            NativeCall::Yield => (nr::YIELD, [0; 6]),
            NativeCall::Block => (nr::BLOCK, [0; 6]),
            NativeCall::Handoff { target } => (nr::HANDOFF, [target.to_raw(), 0, 0, 0, 0, 0]),
            NativeCall::IpcCall {
                handle,
                method,
                len,
                words: [w0, w1, w2, w3],
            } => (
                nr::IPC_CALL,
                [
                    handle.to_raw(),
                    u64::from(method) | (u64::from(len) << 32),
                    w0,
                    w1,
                    w2,
                    w3,
                ],
            ),
            NativeCall::IpcReturn {
                status,
                len,
                words: [w0, w1, w2, w3],
            } => (nr::IPC_RETURN, [status, u64::from(len), w0, w1, w2, w3]),
            NativeCall::AsyncSend {
                target,
                words: [w0, w1, w2, w3],
            } => (nr::ASYNC_SEND, [target.to_raw(), w0, w1, w2, w3, 0]),
            NativeCall::Timer(t) => (
                nr::TIMER,
                match t {
                    TimerRequest::At(t) => [0, t, 0, 0, 0, 0],
                    TimerRequest::After(t) => [1, t, 0, 0, 0, 0],
                    TimerRequest::Cancel => [2, 0, 0, 0, 0, 0],
                },
            ),
            NativeCall::SoftInterrupt { target, bits } => {
                (nr::SOFT_INTERRUPT, [target.to_raw(), bits, 0, 0, 0, 0])
            }
            NativeCall::CreateDispatcher {
                cpu,
                params,
                entry,
                page,
            } => (
                nr::CREATE_DISPATCHER,
                [
                    u64::from(cpu),
                    pack_params(params),
                    entry.get(),
                    page.get(),
                    0,
                    0,
                ],
            ),
            NativeCall::ExitDispatcher { status } => (nr::EXIT_DISPATCHER, [status, 0, 0, 0, 0, 0]),
            NativeCall::SetSchedParams { target, params } => (
                nr::SET_SCHED_PARAMS,
                [
                    target.map_or(SELF, DispatcherId::to_raw),
                    pack_params(params),
                    0,
                    0,
                    0,
                    0,
                ],
            ),
        };
        Registers { nr, args }
    }

    /// What the call asks of the scheduler. `ctx` supplies what only the
    /// kernel knows: who is calling, which dispatcher on this processor
    /// serves an object handle (after the rights check), and whom a PPC
    /// return goes back to.
    pub fn sched_op(&self, ctx: &impl CallContext) -> Result<SchedOp, CallError> {
        Ok(match *self {
            NativeCall::SetEntryPoint { .. } | NativeCall::Timer(_) => SchedOp::Nothing,
            NativeCall::Yield => SchedOp::Yield,
            NativeCall::Block => SchedOp::Block,
            NativeCall::Handoff { target } => SchedOp::Handoff {
                target,
                mode: HandoffMode::Stay,
            },
            NativeCall::IpcCall { handle, .. } => SchedOp::Handoff {
                target: ctx.resolve(handle)?,
                mode: HandoffMode::Stay,
            },
            NativeCall::IpcReturn { .. } => SchedOp::Handoff {
                target: ctx.ppc_client().ok_or(CallError::NotInCall)?,
                mode: HandoffMode::Block,
            },
            NativeCall::AsyncSend { target, .. } | NativeCall::SoftInterrupt { target, .. } => {
                SchedOp::Wake { target }
            }
            NativeCall::CreateDispatcher { cpu, params, .. } => SchedOp::Create {
                cpu: cpu as CpuId,
                params,
            },
            NativeCall::ExitDispatcher { .. } => SchedOp::Exit,
            NativeCall::SetSchedParams { target, params } => SchedOp::SetParams {
                target: target.unwrap_or(ctx.caller()),
                params,
            },
        })
    }
}

/// What the kernel knows about a call's context, for
/// [`NativeCall::sched_op`].
pub trait CallContext {
    /// The calling dispatcher.
    fn caller(&self) -> DispatcherId;
    /// The dispatcher on this processor that serves `handle`, after checking
    /// the caller's rights on it.
    fn resolve(&self, handle: ObjectHandle) -> Result<DispatcherId, CallError>;
    /// The client whose PPC the caller is serving, if any.
    fn ppc_client(&self) -> Option<DispatcherId>;
}

/// A scheduler operation a native call maps to, performed by
/// [`Smp::perform`](crate::Smp::perform) on the caller's processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedOp {
    /// No scheduling effect.
    Nothing,
    /// The caller yields.
    Yield,
    /// The caller blocks.
    Block,
    /// The caller hands its processor to `target`.
    Handoff {
        /// Who runs next.
        target: DispatcherId,
        /// What happens to the caller.
        mode: HandoffMode,
    },
    /// Wake `target` (after the kernel queued the message or set the bits).
    Wake {
        /// Who.
        target: DispatcherId,
    },
    /// Create a dispatcher.
    Create {
        /// Where.
        cpu: CpuId,
        /// How it is scheduled.
        params: Params,
    },
    /// The caller exits.
    Exit,
    /// Change `target`'s parameters.
    SetParams {
        /// Whose.
        target: DispatcherId,
        /// New parameters.
        params: Params,
    },
}

//! The server framework: K42's PPC server side (notes §7).
//!
//! A server process [`start`](Server::start)s (sets its IPC-call entry
//! point and the stack calls run on), [`export`](Server::export)s objects
//! (each a generated `<Trait>Server` behind `&dyn Dispatch`; the kernel's
//! object index selects one, so a process serves several), grants rights
//! on them, and [`serve`](Server::serve)s: it blocks. For each PPC the
//! kernel starts a fresh activation at the framework's `entry` with the
//! caller's pid, the method, the request length, the rights *the kernel*
//! found for the caller in the object's export record, and the object
//! index; `entry` copies the request out of the PPC region, runs the
//! object's generated dispatch (which checks the rights per method),
//! copies the reply back and ends the call with `ipc_return`.
//!
//! Async messages (four words: `method | object << 32`, three argument
//! words) are taken from the dispatcher page's ring whenever the server
//! wakes without a call, and dispatched with no rights: only methods that
//! need none can be reached that way.
//!
//! Limits (the kernel's, today): one IPC entry and one PPC stack per
//! process and one call at a time per dispatcher, so a server serves on
//! one processor; clients must run there (PPC is same-processor).

use core::sync::atomic::{AtomicU64, Ordering};

use ppc_idl::{CallInfo, Dispatch, Message, ObjectHandle, PpcError, ProcessId, Rights};

use crate::errno::Errno;
use crate::{dispatcher, status, sys, transport};

/// Most objects one server process exports.
pub const MAX_OBJECTS: usize = 16;
/// Bytes of the stack PPCs run on (two messages and a page of out buffer
/// live there during a call).
pub const STACK_SIZE: usize = 64 * 1024;

/// An exported object: the generated dispatch of an implementation.
pub type Object = &'static (dyn Dispatch + Sync);

static OBJECTS: spin::Mutex<[Option<Object>; MAX_OBJECTS]> = spin::Mutex::new([None; MAX_OBJECTS]);
/// The processor whose dispatcher page this server watches.
static CPU: AtomicU64 = AtomicU64::new(0);
/// The request and reply of the call being served.
static MESSAGES: spin::Mutex<(Message, Message)> =
    spin::Mutex::new((Message::new(), Message::new()));
/// Calls served (all objects).
static CALLS: AtomicU64 = AtomicU64::new(0);

#[repr(align(16))]
#[allow(dead_code)] // only its address is used
struct Stack([u8; STACK_SIZE]);
static mut STACK: Stack = Stack([0; STACK_SIZE]);

/// Who a grant is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grantee {
    /// Every process.
    Anyone,
    /// One process.
    Process(ProcessId),
}

/// A server process (there is one per process: the entry point and stack
/// are per process).
pub struct Server {
    _private: (),
}

impl Server {
    /// Sets the IPC-call entry point and stack; `cpu` is the processor
    /// this process's dispatcher runs on (its page holds the message
    /// ring).
    pub fn start(cpu: u64) -> Result<Server, Errno> {
        CPU.store(cpu, Ordering::Relaxed);
        let top = (core::ptr::addr_of_mut!(STACK) as u64 + STACK_SIZE as u64) & !15;
        sys::set_ipc_entry(entry, top)?;
        Ok(Server { _private: () })
    }

    /// Exports `object`: its handle (callable once granted).
    pub fn export(&self, object: Object) -> Result<ObjectHandle, Errno> {
        let h = sys::export()?;
        let mut table = OBJECTS.lock();
        let slot = table.get_mut(h.index as usize).ok_or(Errno::ENOMEM)?;
        *slot = Some(object);
        Ok(h)
    }

    /// Lets `who` call the methods of `handle` that need `rights`
    /// (replacing an earlier grant to the same grantee).
    pub fn grant(&self, handle: ObjectHandle, who: Grantee, rights: Rights) -> Result<(), Errno> {
        let pid = match who {
            Grantee::Anyone => None,
            Grantee::Process(p) => Some(p),
        };
        sys::grant(handle, pid, rights)
    }

    /// Serves calls and messages forever.
    pub fn serve(self) -> ! {
        park()
    }
}

/// Calls served so far.
pub fn calls() -> u64 {
    CALLS.load(Ordering::Relaxed)
}

fn object(index: u64) -> Option<Object> {
    OBJECTS.lock().get(index as usize).copied().flatten()
}

/// Waits for the next wake-up; dispatches the async messages that woke
/// it. A PPC never returns here: it starts afresh at [`entry`].
fn park() -> ! {
    let cpu = CPU.load(Ordering::Relaxed);
    loop {
        let _ = sys::block();
        if dispatcher::take_soft_bits(cpu) & dispatcher::SOFT_MESSAGE != 0 {
            while let Some(m) = dispatcher::next_message(cpu) {
                deliver(&m);
            }
        }
    }
}

fn deliver(m: &dispatcher::AsyncMessage) {
    let Some(obj) = object(m.words[0] >> 32) else {
        return;
    };
    let mut req = Message::new();
    req.regs[..3].copy_from_slice(&m.words[1..]);
    let mut none = Message::new();
    let call = CallInfo {
        method: m.words[0] as u32,
        caller: ProcessId(m.sender),
        rights: Rights::NONE,
    };
    let _ = obj.dispatch(&call, &req, &mut none);
}

/// Where the kernel starts every PPC to this process: see the module
/// docs.
extern "C" fn entry(caller: u64, method: u64, len: u64, rights: u64, index: u64) -> ! {
    CALLS.fetch_add(1, Ordering::Relaxed);
    // One call at a time (one PPC stack per process): the lock is never
    // contended, and keeping the messages here spares zeroing 8 KiB of
    // stack per call.
    let mut msgs = MESSAGES.lock();
    let (req, reply) = &mut *msgs;
    reply.page_len = 0;
    transport::get(req, len as usize);
    let call = CallInfo {
        method: method as u32,
        caller: ProcessId(caller as u32),
        rights: Rights(rights),
    };
    let result = match object(index) {
        Some(obj) => obj.dispatch(&call, req, reply),
        None => Err(PpcError::BadHandle),
    };
    if result.is_err() {
        reply.page_len = 0;
    }
    transport::put(reply);
    let len = reply.page_len;
    drop(msgs);
    let _ = sys::ipc_return(status::encode(result), len);
    // Back only if the caller was gone or a wake-up came for this
    // dispatcher: wait like an idle server.
    park()
}

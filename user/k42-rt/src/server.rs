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
//! A server serves on one processor, or on several with
//! [`Server::serve_also_on`]: a PPC stays on the caller's processor, so a
//! client can call a server that has a dispatcher where the client runs.
//! The kernel keeps one IPC entry point and one PPC stack per process, so
//! the entry point is a stub that first switches to the calling
//! dispatcher's own stack, found through its GS base (the kernel keeps
//! one per dispatcher): calls on several processors run at once without
//! sharing a stack. The kernel takes one call at a time per dispatcher.

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use ppc_idl::{CallInfo, Dispatch, Message, ObjectHandle, PpcError, ProcessId, Rights};

use crate::errno::Errno;
use crate::{dispatcher, status, sys, transport};

/// Most objects one server process exports.
pub const MAX_OBJECTS: usize = 16;
/// Most processors one server process serves on.
pub const MAX_PROCESSORS: usize = 8;
/// Bytes of each dispatcher's PPC stack (the generated dispatch keeps a
/// page of out buffer there during a call).
pub const STACK_SIZE: usize = 64 * 1024;

/// An exported object: the generated dispatch of an implementation.
pub type Object = &'static (dyn Dispatch + Sync);

static OBJECTS: spin::Mutex<[Option<Object>; MAX_OBJECTS]> = spin::Mutex::new([None; MAX_OBJECTS]);
/// Calls served (all objects, all processors).
static CALLS: AtomicU64 = AtomicU64::new(0);

/// What one serving dispatcher needs; its GS base points at its slot
/// (the kernel keeps a GS base per dispatcher, and a PPC activation
/// replaces only the registers), so the entry stub finds its stack
/// there before it touches memory.
#[repr(C)]
struct Slot {
    /// Top of this dispatcher's PPC stack (`gs:[0]`, read by the stub).
    stack_top: AtomicU64,
    /// The slot's own index (`gs:[8]`).
    index: AtomicU64,
    /// The processor the dispatcher runs on.
    cpu: AtomicU64,
}

static SLOTS: [Slot; MAX_PROCESSORS] = [const {
    Slot {
        stack_top: AtomicU64::new(0),
        index: AtomicU64::new(0),
        cpu: AtomicU64::new(u64::MAX),
    }
}; MAX_PROCESSORS];
/// Slots handed out.
static USED: AtomicUsize = AtomicUsize::new(0);
/// The request and reply of the call each dispatcher is serving (one at
/// a time per dispatcher: the kernel refuses a second), kept here so a
/// call does not zero 8 KiB of stack.
static MESSAGES: [spin::Mutex<(Message, Message)>; MAX_PROCESSORS] =
    [const { spin::Mutex::new((Message::new(), Message::new())) }; MAX_PROCESSORS];

#[repr(align(16))]
#[allow(dead_code)] // only its address is used
struct Stack([u8; STACK_SIZE]);
static mut STACKS: [Stack; MAX_PROCESSORS] = [const { Stack([0; STACK_SIZE]) }; MAX_PROCESSORS];

// The IPC-call entry the kernel jumps to, on the one stack the kernel
// knows per process: switch to this dispatcher's own stack (from its GS
// base) first, so calls on several processors never share a stack; the
// argument registers pass through to `entry`.
global_asm!(
    ".global k42_rt_ipc_entry",
    "k42_rt_ipc_entry:",
    "mov rsp, gs:[0]",
    "call {entry}",
    "ud2",
    entry = sym entry,
);

extern "C" {
    fn k42_rt_ipc_entry();
}

/// Takes slot `k` for a dispatcher on `cpu`; its stack top.
fn claim(cpu: u64) -> Result<(usize, u64), Errno> {
    let k = USED.fetch_add(1, Ordering::AcqRel);
    let Some(slot) = SLOTS.get(k) else {
        USED.fetch_sub(1, Ordering::AcqRel);
        return Err(Errno::ENOMEM);
    };
    // SAFETY: only the address of the k-th stack is taken (no reference).
    let base = unsafe { core::ptr::addr_of_mut!(STACKS[k]) } as u64;
    let top = (base + STACK_SIZE as u64) & !15;
    slot.stack_top.store(top, Ordering::Relaxed);
    slot.index.store(k as u64, Ordering::Relaxed);
    slot.cpu.store(cpu, Ordering::Release);
    Ok((k, top))
}

/// Points this dispatcher's GS base at slot `k`.
fn adopt(k: usize) -> Result<(), Errno> {
    sys::set_gs_base(&SLOTS[k] as *const Slot as u64)
}

/// The slot of the running dispatcher.
fn this_slot() -> usize {
    let k: u64;
    // SAFETY: every serving dispatcher points its GS base at its slot
    // (`adopt`) before it can be called or park; word 1 is the index.
    unsafe { asm!("mov {}, gs:[8]", out(reg) k, options(nostack, readonly, preserves_flags)) };
    k as usize
}

/// A secondary dispatcher's first code: adopt its slot, then wait.
extern "C" fn secondary(cpu: u64) -> ! {
    let k = SLOTS
        .iter()
        .position(|s| s.cpu.load(Ordering::Acquire) == cpu)
        .unwrap_or(0);
    if adopt(k).is_err() {
        sys::exit(1);
    }
    park()
}

/// Who a grant is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grantee {
    /// Every process.
    Anyone,
    /// One process.
    Process(ProcessId),
}

/// A server process (one per process: the kernel keeps one IPC entry
/// point per process).
pub struct Server {
    _private: (),
}

impl Server {
    /// Sets the IPC-call entry point; `cpu` is the processor this
    /// dispatcher runs on (its page holds the message ring). The framework
    /// owns the GS base of every serving dispatcher.
    pub fn start(cpu: u64) -> Result<Server, Errno> {
        let (k, top) = claim(cpu)?;
        adopt(k)?;
        let stub = k42_rt_ipc_entry as *const () as u64;
        sys::set_entry_point(crate::nr::ENTRY_IPC_CALL, stub, top)?;
        Ok(Server { _private: () })
    }

    /// Serves on processor `cpu` too: a second dispatcher of this process
    /// there, with its own PPC stack (clients on `cpu` can call then;
    /// `EBUSY` if this process has a dispatcher there already).
    pub fn serve_also_on(&self, cpu: u64) -> Result<(), Errno> {
        let (_, top) = claim(cpu)?;
        sys::create_dispatcher(cpu, secondary, top)
    }

    /// [`start`](Server::start) on the first processor of a
    /// comma-separated list (`"0"`, `"0,3"`: a program's argument) and
    /// [`serve_also_on`](Server::serve_also_on) the others.
    pub fn start_on(list: &str) -> Result<Server, Errno> {
        let mut cpus = list
            .split(',')
            .map(|c| crate::args::parse_u64(c).ok_or(Errno::EINVAL));
        let server = Server::start(cpus.next().ok_or(Errno::EINVAL)??)?;
        for cpu in cpus {
            server.serve_also_on(cpu?)?;
        }
        Ok(server)
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
/// it. A PPC never returns here: it starts afresh at the entry stub.
fn park() -> ! {
    let cpu = SLOTS[this_slot()].cpu.load(Ordering::Relaxed);
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

/// Where every PPC to this process runs, on the serving dispatcher's own
/// stack (the stub switched to it): see the module docs.
extern "C" fn entry(caller: u64, method: u64, len: u64, rights: u64, index: u64) -> ! {
    CALLS.fetch_add(1, Ordering::Relaxed);
    // One call at a time per dispatcher: the lock is never contended.
    let mut msgs = MESSAGES[this_slot()].lock();
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

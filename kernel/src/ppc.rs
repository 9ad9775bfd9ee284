//! Protected procedure calls (K42's PPC, notes §7, paper §7.2): a
//! synchronous call of a method of an object exported by another process,
//! on the same processor, by handoff.
//!
//! Every process has, at [`PPC_VA`], a per-processor region of two pages:
//! the **register block** ([`PPC_REGS`] words, the `Message::regs` of
//! `ppc-idl`) and the **PPC page** (up to 4 KiB of arguments). A call
//!
//! 1. checks the handle against the server's export table (a stale
//!    sequence number or a dead object is `-EBADF`) and looks up the
//!    *rights the server granted the caller* there (a handle alone grants
//!    nothing; the server's generated dispatch checks them per method);
//! 2. copies the caller's register block and `len` bytes of its PPC page
//!    into the server's, on this processor;
//! 3. starts the server's dispatcher on this processor at its IPC entry
//!    point, on its PPC stack, with (caller pid, method, length, rights,
//!    object index) in the argument registers: a fresh activation per
//!    call;
//! 4. hands the processor to it (`sched` handoff: the server runs on the
//!    caller's time and class, the caller blocks).
//!
//! The server's `ipc_return(status, len)` copies its register block and
//! reply page back, puts `status` and `len` in the caller's `rax`/`rdx`,
//! and hands the processor back. Larger data would go through shared
//! memory (a shared segment, `mm`).
//!
//! **Released calls and the IPC-return entry** (K42's *IPC return* entry
//! point, notes §6-7, paper §7): a server that blocks while serving (it
//! waits for a message, its timer, a futex) would keep its caller's
//! dispatcher, and all the caller's user-level threads, blocked with it.
//! A client that registered an IPC-return entry (`set_entry_point(5,
//! entry, 0)`) and names the call with a non-zero *call id* (its fourth
//! argument, chosen by the client: its thread library uses the parked
//! thread's token) lets the kernel release it:
//!
//! 1. when the server blocks with such a call in hand
//!    ([`server_blocks`], from `dispatch::user_block`), the caller's
//!    `ipc_call` returns `-EINPROGRESS` and its dispatcher is made
//!    runnable: its library parks the calling thread and runs others;
//! 2. the server's later `ipc_return` copies its register block and `len`
//!    bytes of its PPC page into a **per-call reply buffer** in the kernel
//!    (the client's own PPC region may be in use by its other threads),
//!    wakes the client and waits for the next call;
//! 3. the next time the client's dispatcher is entered (not disabled), the
//!    kernel upcalls its IPC-return entry as `entry(save_area, id,
//!    status, len)` (`rdi, rsi, rdx, rcx`; the interrupted frame is in the
//!    dispatcher page's save area, the disabled flag set, as for every
//!    upcall, `crate::dispatch`). The handler readies the thread parked on
//!    `id` and resumes;
//! 4. that thread, running again, calls `ipc_take(id)`: the reply goes to
//!    its PPC region, and the call returns `status` with `len` in `rdx`,
//!    exactly as a call that was never released.
//!
//! Errors: a server that ends while a released call is pending completes
//! it with `-ESRCH` ("IPC fault"), through the same entry; a client that
//! ends drops its pending calls, and the server's later return is
//! discarded (it just waits for the next call); `ipc_take` of an unknown
//! id is `-EINVAL`, of one not answered yet `-EAGAIN`; an id already
//! pending is `-EBUSY`. A call without an id, or from a client without the
//! entry, is never released: today's synchronous path, untouched (one
//! test of the id in `ipc_call`, one of a flag in `ipc_return`). At most
//! [`MAX_PENDING`] released calls per client dispatcher; beyond that a
//! call simply waits.
//!
//! Native calls: `export(cookie)` → handle, `grant(handle, pid, rights)`,
//! `set_entry_point(kind, entry, stack)`, `ipc_call(handle, method, len,
//! id)`, `ipc_return(status, len)`, `ipc_take(id)`, `block()`. A handle is `pid << 32 | index <<
//! 16 | seq`.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use crate::arch::trap::TrapFrame;
use crate::arch::uaccess::{copy_from_user, copy_to_user};
use crate::dispatch::{self, Dispatcher, Process};
use crate::sync::IrqMutex;
use crate::syscall::{Errno, SyscallResult};

/// The per-processor PPC region of every process (register block, then
/// the PPC page).
pub const PPC_VA: u64 = 0x7e00_0000_0000;
/// The PPC page: arguments and results beyond the registers.
pub const PPC_PAGE_VA: u64 = PPC_VA + 4096;
/// Words in the register block.
pub const PPC_REGS: usize = 8;
/// Bytes of the PPC region.
pub const PPC_REGION: u64 = 2 * 4096;

/// One exported object.
pub struct Export {
    seq: u16,
    live: bool,
    /// (pid, rights) granted by the exporter; pid `u32::MAX`: everyone.
    grants: Vec<(u32, u64)>,
}

/// Everyone, in a grant.
pub const ANYONE: u32 = u32::MAX;

pub(crate) fn handle(pid: u32, index: usize, seq: u16) -> u64 {
    (u64::from(pid) << 32) | ((index as u64) << 16) | u64::from(seq)
}

fn split(h: u64) -> (u32, usize, u16) {
    ((h >> 32) as u32, ((h >> 16) & 0xffff) as usize, h as u16)
}

fn current() -> Result<alloc::sync::Arc<dispatch::Dispatcher>, Errno> {
    dispatch::current().ok_or(Errno::Enosys)
}

/// `export(cookie)`: a new object of the calling process; its handle.
pub fn export() -> SyscallResult {
    let me = current()?;
    let mut ex = me.process.exports.lock();
    if ex.len() >= 0xffff {
        return Err(Errno::Enomem);
    }
    ex.push(Export {
        seq: 1,
        live: true,
        grants: Vec::new(),
    });
    Ok(handle(me.process.pid, ex.len() - 1, 1))
}

/// `grant(handle, pid, rights)`: lets `pid` (or [`ANYONE`]) call the
/// methods needing `rights` on one of the caller's own objects.
pub fn grant(h: u64, pid: u64, rights: u64) -> SyscallResult {
    let me = current()?;
    let (owner, index, seq) = split(h);
    if owner != me.process.pid || pid > u64::from(u32::MAX) {
        return Err(Errno::Einval);
    }
    let mut ex = me.process.exports.lock();
    let e = ex
        .get_mut(index)
        .filter(|e| e.live && e.seq == seq)
        .ok_or(Errno::Ebadf)?;
    e.grants.retain(|(p, _)| u64::from(*p) != pid);
    e.grants.push((pid as u32, rights));
    Ok(0)
}

/// `set_entry_point(kind, entry, stack)`, kinds numbered as
/// `sched::native::EntryPoint`: the run entry (0: where a preempted
/// dispatcher restarts, `dispatch`), the interrupt entry (1: soft interrupts,
/// delivered by `dispatch` as an upcall), the trap entry (2: exceptions in
/// user mode, `dispatch::user_trap`), the page-fault entry (3,
/// `crate::mm::upcall`), the IPC-call entry (4, with its stack), the
/// IPC-return entry (5, replies of released calls) and the system-call entry of a system library (7,
/// `syscall::reflect`) exist so far; 0 clears one.
pub fn set_entry_point(kind: u64, entry: u64, stack: u64) -> SyscallResult {
    let me = current()?;
    let slot = match kind {
        0 => Some(&me.process.run_entry),
        1 => Some(&me.process.interrupt_entry),
        2 => Some(&me.process.trap_entry),
        3 => Some(&me.process.pfault_entry),
        5 => Some(&me.process.ipc_return_entry),
        7 => Some(&me.process.syscall_entry),
        _ => None,
    };
    if let Some(slot) = slot {
        if entry >= ::mm::USER_END {
            return Err(Errno::Einval);
        }
        slot.store(entry, Ordering::Release);
        return Ok(0);
    }
    if kind != 4 || entry >= ::mm::USER_END || stack >= ::mm::USER_END || !stack.is_multiple_of(16)
    {
        return Err(Errno::Einval);
    }
    me.process.ipc_entry.store(entry, Ordering::Release);
    me.process.ipc_stack.store(stack, Ordering::Release);
    Ok(0)
}

/// Copies the register block and `len` bytes of the PPC page of the
/// running process (this processor's copy) into `to`'s.
fn copy_ppc(to: &Process, len: usize) -> Result<(), Errno> {
    let mut buf = alloc::vec![0u8; PPC_REGS * 8 + len];
    let (regs, page) = buf.split_at_mut(PPC_REGS * 8);
    copy_from_user(regs, PPC_VA)?;
    copy_from_user(page, PPC_PAGE_VA)?;
    let space = to.space().ok_or(Errno::Esrch)?;
    space.write(PPC_VA, regs).map_err(|_| Errno::Efault)?;
    space.write(PPC_PAGE_VA, page).map_err(|_| Errno::Efault)?;
    Ok(())
}

/// `ipc_call(handle, method, len, id)`: see the module docs. Returns the
/// server's status (its `ipc_return`), with the reply length in `rdx`;
/// `-EINPROGRESS` if the call was released (`id` non-zero, the caller
/// has an IPC-return entry, the server blocked).
pub fn ipc_call(h: u64, method: u64, len: u64, id: u64) -> SyscallResult {
    let me = current()?;
    let cpu = crate::arch::percpu::current_id();
    if len > 4096 || method > u64::from(u32::MAX) {
        return Err(Errno::Einval);
    }
    let (pid, index, seq) = split(h);
    let server = dispatch::process(pid).ok_or(Errno::Ebadf)?;
    let rights = {
        let ex = server.exports.lock();
        let e = ex
            .get(index)
            .filter(|e| e.live && e.seq == seq)
            .ok_or(Errno::Ebadf)?;
        e.grants
            .iter()
            .filter(|(p, _)| *p == me.process.pid || *p == ANYONE)
            .fold(0, |r, (_, g)| r | g)
    };
    let sid = *server.dispatchers.lock().get(&cpu).ok_or(Errno::Esrch)?;
    let sd = dispatch::get(sid).ok_or(Errno::Esrch)?;
    let entry = server.ipc_entry.load(Ordering::Acquire);
    let stack = server.ipc_stack.load(Ordering::Acquire);
    if entry == 0 {
        return Err(Errno::Eagain); // not serving yet
    }
    if sid == me.id {
        return Err(Errno::Edeadlk); // a dispatcher cannot call itself
    }
    // The server must be waiting for calls (blocked, its context saved).
    let waiting =
        matches!(dispatch::smp().info(sid), Ok((_, i)) if i.state == sched::State::Blocked);
    if !waiting {
        return Err(Errno::Eagain);
    }
    // A call that may be released is marked, and recorded below.
    let releasable = id != 0 && me.process.ipc_return_entry.load(Ordering::Acquire) != 0;
    if releasable && CALLS.lock().contains_key(&(me.id.to_raw(), id)) {
        return Err(Errno::Ebusy); // that id is pending already
    }
    let serving = (me.id.to_raw() + 1) | if releasable { RELEASABLE } else { 0 };
    if sd
        .serving
        .compare_exchange(0, serving, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(Errno::Ebusy); // one call at a time per server dispatcher
    }
    if let Err(e) = copy_ppc(&server, len as usize) {
        sd.serving.store(0, Ordering::Release);
        return Err(e);
    }
    {
        let Some(mut ctx) = sd.ctx.try_lock() else {
            sd.serving.store(0, Ordering::Release);
            return Err(Errno::Eagain); // it is being switched to right now
        };
        ctx.frame = TrapFrame {
            rip: entry,
            rsp: stack - 8,
            rdi: u64::from(me.process.pid),
            rsi: method,
            rdx: len,
            rcx: rights,
            r8: index as u64,
            rflags: 0x202,
            ..TrapFrame::default()
        };
    }
    if releasable {
        SERVED.lock().insert(
            sid.to_raw(),
            Served {
                client: me.id.to_raw(),
                id,
                released: false,
            },
        );
    }
    dispatch::user_handoff(sid);
    Ok(0)
}

/// `ipc_return(status, len)`: ends the call being served; see the module
/// docs.
pub fn ipc_return(status: u64, len: u64) -> SyscallResult {
    let me = current()?;
    if len > 4096 {
        return Err(Errno::Einval);
    }
    let serving = me.serving.swap(0, Ordering::AcqRel);
    if serving == 0 {
        return Err(Errno::Einval); // not serving a call
    }
    let mut served = None;
    if serving & RELEASABLE != 0 {
        served = SERVED.lock().remove(&me.id.to_raw());
        if let Some(s) = served.as_ref().filter(|s| s.released) {
            return_released(s, status, len);
            return Ok(0);
        }
    }
    let client = serving & !RELEASABLE;
    let cid = sched::DispatcherId::from_raw(client - 1);
    let Some(cd) = dispatch::get(cid) else {
        // The caller is gone: just wait for the next call.
        dispatch::user_block();
        return Ok(0);
    };
    copy_ppc(&cd.process, len as usize)?;
    {
        // The client is blocked in its call, its context saved; a client
        // that is somehow running cannot take the reply.
        let Some(mut ctx) = cd.ctx.try_lock() else {
            if let Some(s) = served {
                SERVED.lock().insert(me.id.to_raw(), s);
            }
            me.serving.store(serving, Ordering::Release);
            return Err(Errno::Eagain);
        };
        ctx.frame.rax = status;
        ctx.frame.rdx = len;
    }
    dispatch::user_handoff(cid);
    Ok(0)
}

/// The `serving` flag of a call that may be released (client dispatcher
/// ids are far below it).
const RELEASABLE: u64 = 1 << 63;

/// The kernel's own wake-up bit for a client whose released call has its
/// reply (never written to the dispatcher page; the run loop clears it).
pub const SOFT_IPC_RETURN: u64 = 1 << 61;

/// Released calls pending per client dispatcher, at most.
pub const MAX_PENDING: usize = 64;

/// The releasable call a server dispatcher is serving.
struct Served {
    /// The client dispatcher (raw id).
    client: u64,
    /// Its call id.
    id: u64,
    /// Whether the client was released.
    released: bool,
}

/// A released call, by (client dispatcher, call id).
enum Call {
    /// The server has not returned yet.
    Waiting,
    /// The reply: status, length, the register block then the page.
    Done {
        status: u64,
        len: u64,
        data: Vec<u8>,
        /// The IPC-return upcall has been made.
        told: bool,
    },
}

/// Server dispatcher (raw id) → the releasable call it serves.
static SERVED: IrqMutex<BTreeMap<u64, Served>> = IrqMutex::new(BTreeMap::new());
/// Released calls, until their reply is taken.
static CALLS: IrqMutex<BTreeMap<(u64, u64), Call>> = IrqMutex::new(BTreeMap::new());

/// `e` as a status in `rax`.
fn neg(e: Errno) -> u64 {
    (-(e as i64)) as u64
}

/// The running server dispatcher `d` is about to block: if it serves a
/// releasable call not yet released, its client's `ipc_call` returns
/// `-EINPROGRESS` and the client is made runnable.
pub fn server_blocks(d: &Dispatcher) {
    if d.serving.load(Ordering::Acquire) & RELEASABLE == 0 {
        return;
    }
    let mut served = SERVED.lock();
    let Some(s) = served.get_mut(&d.id.to_raw()).filter(|s| !s.released) else {
        return;
    };
    let Some(cd) = dispatch::get(sched::DispatcherId::from_raw(s.client)) else {
        return;
    };
    let mut calls = CALLS.lock();
    if calls.keys().filter(|(c, _)| *c == s.client).count() >= MAX_PENDING {
        return; // it waits, as an unreleased call does
    }
    {
        // Blocked in its call, its context saved.
        let Some(mut ctx) = cd.ctx.try_lock() else {
            return;
        };
        ctx.frame.rax = neg(Errno::Einprogress);
        ctx.frame.rdx = s.id;
    }
    calls.insert((s.client, s.id), Call::Waiting);
    s.released = true;
    drop((calls, served));
    dispatch::signal(&cd, 0);
}

/// `ipc_return` of a released call: the reply goes to its buffer (if the
/// client still waits for it), the client is woken for its IPC-return
/// upcall, and the server waits for its next call.
fn return_released(s: &Served, status: u64, len: u64) {
    let mut data = alloc::vec![0u8; PPC_REGS * 8 + len as usize];
    let (regs, page) = data.split_at_mut(PPC_REGS * 8);
    let (status, len) = match copy_from_user(regs, PPC_VA).and(copy_from_user(page, PPC_PAGE_VA)) {
        Ok(()) => (status, len),
        Err(_) => (neg(Errno::Efault), 0),
    };
    let delivered = match CALLS.lock().get_mut(&(s.client, s.id)) {
        Some(c @ Call::Waiting) => {
            *c = Call::Done {
                status,
                len,
                data,
                told: false,
            };
            true
        }
        _ => false, // the client ended: the reply is dropped
    };
    if delivered {
        if let Some(cd) = dispatch::get(sched::DispatcherId::from_raw(s.client)) {
            dispatch::signal(&cd, SOFT_IPC_RETURN);
        }
    }
    dispatch::user_block();
}

/// A reply of `d` the IPC-return upcall has not announced yet: its id.
pub fn reply_ready(d: &Dispatcher) -> Option<u64> {
    let raw = d.id.to_raw();
    CALLS
        .lock()
        .range((raw, 0)..=(raw, u64::MAX))
        .find(|(_, c)| matches!(c, Call::Done { told: false, .. }))
        .map(|((_, id), _)| *id)
}

/// The IPC-return upcall for `d`'s call `id` is being made: its status
/// and length (the reply stays until `ipc_take`).
pub fn reply_delivered(d: &Dispatcher, id: u64) -> (u64, u64) {
    match CALLS.lock().get_mut(&(d.id.to_raw(), id)) {
        Some(Call::Done {
            status, len, told, ..
        }) => {
            *told = true;
            (*status, *len)
        }
        _ => (neg(Errno::Esrch), 0),
    }
}

/// `ipc_take(id)`: the reply of the calling dispatcher's released call
/// `id` goes to its PPC region; returns its status, the length in `rdx`
/// (`len_out`). `-EAGAIN` while the server has not returned, `-EINVAL`
/// for an id that names no released call of this dispatcher.
pub fn ipc_take(id: u64, len_out: &mut u64) -> SyscallResult {
    let me = current()?;
    let key = (me.id.to_raw(), id);
    let (status, len, data) = {
        let mut calls = CALLS.lock();
        match calls.remove(&key) {
            None => return Err(Errno::Einval),
            Some(Call::Waiting) => {
                calls.insert(key, Call::Waiting);
                return Err(Errno::Eagain);
            }
            Some(Call::Done {
                status, len, data, ..
            }) => (status, len, data),
        }
    };
    let (regs, page) = data.split_at(PPC_REGS * 8);
    copy_to_user(PPC_VA, regs)?;
    copy_to_user(PPC_PAGE_VA, page)?;
    *len_out = len;
    Ok(status)
}

/// Dispatcher `d` ends: its pending released calls are dropped (a later
/// return is discarded); if it was serving a released call, that call
/// completes with `-ESRCH` (the IPC fault) and its client is told.
pub fn forget(d: &Dispatcher) {
    let raw = d.id.to_raw();
    CALLS.lock().retain(|(c, _), _| *c != raw);
    let Some(s) = SERVED.lock().remove(&raw) else {
        return;
    };
    if !s.released {
        // Its client still waits in `ipc_call`: the call fails there.
        if let Some(cd) = dispatch::get(sched::DispatcherId::from_raw(s.client)) {
            if let Some(mut ctx) = cd.ctx.try_lock() {
                ctx.frame.rax = neg(Errno::Esrch);
                drop(ctx);
                dispatch::signal(&cd, 0);
            }
        }
        return;
    }
    let faulted = match CALLS.lock().get_mut(&(s.client, s.id)) {
        Some(c @ Call::Waiting) => {
            *c = Call::Done {
                status: neg(Errno::Esrch),
                len: 0,
                data: alloc::vec![0u8; PPC_REGS * 8],
                told: false,
            };
            true
        }
        _ => false,
    };
    if faulted {
        if let Some(cd) = dispatch::get(sched::DispatcherId::from_raw(s.client)) {
            dispatch::signal(&cd, SOFT_IPC_RETURN);
        }
    }
}

/// Starts the `Echo` server of `/bin/native-tests` on this processor and
/// runs it until it waits for calls; returns its dispatcher and the handle
/// of its object. `client` is the one process granted right 0b1.
pub(crate) fn start_echo_server(client: u32) -> (alloc::sync::Arc<dispatch::Dispatcher>, u64) {
    let pid = dispatch::alloc_pid();
    let d = start(
        pid,
        crate::arch::percpu::current_id(),
        "ppc-server",
        &alloc::format!("{client}"),
    );
    let blocked = || {
        matches!(dispatch::smp().info(d.id), Ok((_, i)) if i.state == sched::State::Blocked)
            || d.status().is_some()
    };
    dispatch::run_loop(&blocked);
    assert_eq!(d.status(), None, "the server is up");
    (d, handle(pid, 0, 1))
}

/// Runs `/bin/native-tests <case> <handle>` as process `pid` on this
/// processor to its end; returns its status.
pub(crate) fn run_client(pid: u32, case: &str, h: u64) -> u64 {
    let d = start(
        pid,
        crate::arch::percpu::current_id(),
        case,
        &alloc::format!("{h:x}"),
    );
    dispatch::run_loop(&|| d.status().is_some());
    d.status().unwrap()
}

/// Starts `/bin/native-tests <case> <arg>` as process `pid`, pinned to
/// processor `cpu`.
pub(crate) fn start(
    pid: u32,
    cpu: usize,
    case: &str,
    arg: &str,
) -> alloc::sync::Arc<dispatch::Dispatcher> {
    use crate::process::{default_params, start_with, Personality};
    let argv: [&[u8]; 3] = [b"native-tests", case.as_bytes(), arg.as_bytes()];
    start_with(
        "/bin/native-tests",
        &argv,
        Personality::Native,
        pid,
        cpu,
        default_params(),
    )
    .unwrap()
}

/// Runs `d` on this processor until it blocks (or ends).
pub(crate) fn run_until_blocked(d: &dispatch::Dispatcher) {
    dispatch::run_loop(&|| {
        matches!(dispatch::smp().info(d.id), Ok((_, i)) if i.state == sched::State::Blocked)
            || d.status().is_some()
    });
}

ktest::ktest! {
    /// Async messages across processors: a sender on the last processor
    /// queues 100 messages in the ring of a receiver on processor 0 (which
    /// blocks between them); all arrive, in order of the ring; a stale
    /// handle is refused.
    fn ppc_async_messages_cross_processors() {
        use crate::mm::user::{usage, usage_back_to};
        let base = usage();
        let rpid = dispatch::alloc_pid();
        crate::process::capture();
        let recv = start(rpid, crate::arch::percpu::current_id(), "async-recv", "0,100");
        run_until_blocked(&recv);
        let last = crate::arch::percpu::online() - 1;
        let send = start(dispatch::alloc_pid(), last, "async-send", &alloc::format!("{:x},0,100", handle(rpid, 0, 1)));
        dispatch::run_loop_everywhere(&|| recv.status().is_some() && send.status().is_some());
        let out = crate::process::take_captured();
        assert_eq!((recv.status(), send.status()), (Some(0), Some(0)), "{out}");
        assert!(out.contains("got=100 sum=4954950"), "{out}");
        drop((recv, send));
        assert_eq!(usage_back_to(base), base);
    }

    /// User-level threads (`uthread` on the native calls): a thread waiting
    /// for the answer to its request (sent by message to a server, which
    /// answers by message) does not stop its dispatcher's other thread,
    /// which keeps running and sleeps on the kernel timer meanwhile.
    fn ppc_user_threads_keep_running_while_one_waits() {
        let cpu = crate::arch::percpu::current_id();
        let spid = dispatch::alloc_pid();
        let server = start(spid, cpu, "async-echo", &alloc::format!("{cpu}"));
        run_until_blocked(&server);
        crate::process::capture();
        let client = start(dispatch::alloc_pid(), cpu, "threads", &alloc::format!("{:x},{cpu}", handle(spid, 0, 1)));
        dispatch::run_loop(&|| client.status().is_some());
        let out = crate::process::take_captured();
        dispatch::kill(&server, 0);
        assert_eq!(client.status(), Some(0), "{out}");
        assert!(out.contains("reply=true"), "{out}");
    }

    /// The interrupt entry point: a message to a dispatcher that never
    /// blocks arrives as an upcall (context saved, handler run, resumed).
    fn ppc_soft_interrupt_upcall() {
        let cpu = crate::arch::percpu::current_id();
        let rpid = dispatch::alloc_pid();
        crate::process::capture();
        let recv = start(rpid, cpu, "upcall", &alloc::format!("{cpu}"));
        // Let it set up (it then spins, preempted at each tick).
        let t0 = crate::time::now_ns();
        dispatch::run_loop(&|| crate::time::now_ns() > t0 + 30_000_000 || recv.status().is_some());
        let send = start(dispatch::alloc_pid(), cpu, "async-send", &alloc::format!("{:x},{cpu},1", handle(rpid, 0, 1)));
        dispatch::run_loop(&|| recv.status().is_some() && send.status().is_some());
        let out = crate::process::take_captured();
        assert_eq!((recv.status(), send.status()), (Some(0), Some(0)), "{out}");
        assert!(out.contains("upcalls=1"), "{out}");
    }

    /// Soft interrupts between two dispatchers of one process on two
    /// processors; a second dispatcher on the same processor is refused.
    fn ppc_soft_interrupts_between_dispatchers() {
        let n = crate::arch::percpu::online();
        if n < 2 {
            crate::println!("    (needs two processors)");
            return;
        }
        crate::process::capture();
        let main = start(dispatch::alloc_pid(), 0, "softirq", &alloc::format!("{}", n - 1));
        let pid = main.process.pid;
        dispatch::run_loop_everywhere(&|| dispatch::process(pid).is_none());
        let out = crate::process::take_captured();
        assert_eq!(main.status(), Some(0), "{out}");
        assert!(out.contains("answered"), "{out}");
    }

    /// Released calls (the IPC-return entry): a server (`ipcret-server`)
    /// blocks 30 ms on its timer in every call. A client with two
    /// user-level threads and an IPC-return entry: thread A's call is
    /// released, thread B counts while A waits, the upcall readies A and
    /// `ipc_take` gives it the right reply. Without the entry the call is
    /// the old synchronous one (B does not run meanwhile). A client that
    /// ends with its call pending: the server's return is dropped and it
    /// serves on. A server that ends with a call pending: the client gets
    /// `-ESRCH` through its entry. `ipc_take` of an unknown or taken id:
    /// `-EINVAL`. Nothing leaked.
    fn ppc_released_call_lets_other_threads_run() {
        use crate::mm::user::{usage, usage_back_to};
        let base = usage();
        let cpu = crate::arch::percpu::current_id();
        let spid = dispatch::alloc_pid();
        let server = start(spid, cpu, "ipcret-server", "");
        run_until_blocked(&server);
        let h = handle(spid, 0, 1);
        let client = |mode: &str| {
            crate::process::capture();
            let c = start(dispatch::alloc_pid(), cpu, "ipcret-client", &alloc::format!("{h:x},{mode},{cpu}"));
            dispatch::run_loop(&|| c.status().is_some());
            (c.status(), crate::process::take_captured())
        };
        let (status, out) = client("ok");
        assert_eq!(status, Some(0), "{out}");
        assert!(out.contains("released=true status=42 value=42 upcalls=1"), "{out}");
        assert!(out.contains("B counted"), "{out}");
        assert!(out.contains("unknown_id=-22 taken_again=-22"), "{out}");
        let (status, out) = client("plain");
        assert_eq!(status, Some(0), "{out}");
        assert!(out.contains("released=false status=42 value=42 upcalls=0 b_ran_while_a_waited=0"), "{out}");
        // The client ends with its call pending; the server returns later
        // into nothing, and waits for the next call.
        let (status, out) = client("leave");
        assert_eq!(status, Some(0), "{out}");
        assert!(out.contains("released, leaving"), "{out}");
        dispatch::run_loop(&|| {
            server.serving.load(Ordering::Acquire) == 0
                && matches!(dispatch::smp().info(server.id), Ok((_, i)) if i.state == sched::State::Blocked)
        });
        assert!(CALLS.lock().is_empty() && SERVED.lock().is_empty());
        let (status, out) = client("ok");
        assert_eq!(status, Some(0), "the server serves on: {out}");
        // The server ends with the call pending: the IPC fault.
        let (status, out) = client("die");
        assert_eq!(status, Some(0), "{out}");
        assert!(out.contains("released=true status=-3"), "{out}");
        assert_eq!(server.status(), Some(3));
        assert!(CALLS.lock().is_empty() && SERVED.lock().is_empty());
        drop(server);
        assert_eq!(usage_back_to(base), base, "the processes left nothing behind");
    }

    /// A PPC through generated stubs: a method with the right granted
    /// works, the caller id is the kernel's, a method needing a right not
    /// granted fails with NoRights, a stale or unknown handle with
    /// BadHandle, 4000 bytes of arguments travel in the PPC page.
    fn ppc_call_rights_and_bad_handles() {
        use crate::mm::user::{usage, usage_back_to};
        let base = usage();
        let client = dispatch::alloc_pid();
        let (server, h) = start_echo_server(client);
        crate::process::capture();
        let status = run_client(client, "ppc-client", h);
        let out = crate::process::take_captured();
        assert_eq!(status, 0, "{out}");
        assert!(out.contains(&alloc::format!("whoami=Ok({client})")), "{out}");
        // A process without the grant: NoRights on `add`.
        let stranger = dispatch::alloc_pid();
        crate::process::capture();
        let status = run_client(stranger, "ppc-client", h);
        let out = crate::process::take_captured();
        assert_eq!(status, 1, "{out}");
        assert!(out.contains("add=Err(NoRights)"), "{out}");
        dispatch::kill(&server, 0);
        assert_eq!(server.status(), Some(0));
        assert_eq!(usage_back_to(base), base, "the three processes left nothing behind");
    }
}

ktest::kbench! {
    /// User-level threads in a K42-rs process: create + run + exit, and a
    /// yield between two threads, in cycles (the program prints them).
    fn uthread_in_qemu() {
        let d = start(dispatch::alloc_pid(), crate::arch::percpu::current_id(), "thread-bench", "");
        dispatch::run_loop(&|| d.status().is_some());
        assert_eq!(d.status(), Some(0));
    }

    /// Async message throughput, in cycles per message: 2000 messages from
    /// a sender to a receiver that blocks between batches, on one
    /// processor and (if there are two) across processors.
    fn ppc_async_throughput() {
        let n = crate::arch::percpu::online();
        for cross in [false, true] {
            if cross && n < 2 {
                continue;
            }
            let rpid = dispatch::alloc_pid();
            let recv = start(rpid, 0, "async-recv", "0,2000");
            dispatch::run_loop(&|| {
                matches!(dispatch::smp().info(recv.id), Ok((_, i)) if i.state == sched::State::Blocked)
            });
            let cpu = if cross { n - 1 } else { 0 };
            let t0 = crate::arch::cpu::rdtsc();
            let send = start(dispatch::alloc_pid(), cpu, "async-send", &alloc::format!("{:x},0,2000", handle(rpid, 0, 1)));
            dispatch::run_loop_everywhere(&|| recv.status().is_some() && send.status().is_some());
            let cycles = (crate::arch::cpu::rdtsc() - t0) / 2000;
            crate::println!(
                "kbench: ppc.async {} cycles/message={cycles} (sender start to last message taken)",
                if cross { "cross-processor" } else { "same-processor" }
            );
        }
    }

    /// PPC round trips through the generated stubs, in cycles: a null
    /// call, 64 B and 4 KiB of arguments (the user program prints the
    /// `kbench:` line).
    fn ppc_round_trip() {
        let client = dispatch::alloc_pid();
        let (server, h) = start_echo_server(client);
        assert_eq!(run_client(client, "ppc-bench", h), 0);
        dispatch::kill(&server, 0);
    }
}

/// The dispatcher pages: one per processor, in one region of every
/// process; the dispatcher on processor k uses page k.
pub const DISPATCHER_VA: u64 = 0x7d00_0000_0000;
/// Bytes of the dispatcher-page region (one page per possible processor).
pub const DISPATCHER_REGION: u64 = 4096 * crate::arch::percpu::MAX_CPUS as u64;
/// Offsets in a dispatcher page (u64 words): pending soft-interrupt bits,
/// the message ring's consumer (user) and producer (kernel) counters, then
/// the ring of [`RING`] messages of [`MSG_WORDS`] words (sender pid, then
/// the four words).
pub mod page {
    /// Pending soft-interrupt bits (the kernel ORs, the user clears):
    /// 1 a message ([`SOFT_MESSAGE`](super::SOFT_MESSAGE)), 2 the timer
    /// (`syscall::timer`), 4 a child ended (`dispatch::SOFT_CHILD`), 8 a
    /// Linux signal (`syscall::signal`), 16 page-fault completions
    /// (`mm::upcall::SOFT_PFAULT`). Bits 62 and 63 (vfork, futex) are
    /// the kernel's own wake-ups and never reach the page.
    pub const SOFT_BITS: u64 = 0;
    /// Messages consumed (written by the user).
    pub const HEAD: u64 = 8;
    /// Messages produced (written by the kernel).
    pub const TAIL: u64 = 16;
    /// The disabled flag: while non-zero the kernel delivers no
    /// interrupt upcall (it sets the flag itself when it delivers one;
    /// the handler clears it before resuming).
    pub const DISABLED: u64 = 24;
    /// The ring.
    pub const RING_AT: u64 = 64;
}
/// Messages the ring holds.
pub const RING: u64 = 32;
/// Words per message.
pub const MSG_WORDS: u64 = 5;
/// Soft-interrupt bit: a message is queued.
pub const SOFT_MESSAGE: u64 = 1;

/// Address of the dispatcher page of processor `cpu`.
pub fn page_of(cpu: usize) -> u64 {
    DISPATCHER_VA + 4096 * cpu as u64
}

pub(crate) fn read_word(space: &crate::mm::user::Space, va: u64) -> Result<u64, Errno> {
    let mut b = [0u8; 8];
    space.read(va, &mut b).map_err(|_| Errno::Efault)?;
    Ok(u64::from_le_bytes(b))
}

pub(crate) fn write_word(space: &crate::mm::user::Space, va: u64, v: u64) -> Result<(), Errno> {
    space.write(va, &v.to_le_bytes()).map_err(|_| Errno::Efault)
}

/// Raises `bits` in dispatcher `to` (its page and the kernel's wake-up
/// token) and wakes it, on whatever processor it is.
fn raise(to: &dispatch::Dispatcher, cpu: usize, bits: u64) -> Result<(), Errno> {
    let space = to.process.space().ok_or(Errno::Esrch)?;
    let at = page_of(cpu) + page::SOFT_BITS;
    // The page word is the user's view; only this path sets it, under the
    // process's page lock so two senders do not lose each other's bits.
    let _g = to.process.page_lock.lock();
    let old = read_word(&space, at)?;
    write_word(&space, at, old | bits)?;
    drop(_g);
    dispatch::signal(to, bits);
    Ok(())
}

/// Raises `bits` in `d` on the processor it belongs to (the timer tick
/// uses it; errors, e.g. a process going away, are ignored).
pub fn raise_on_home(d: &dispatch::Dispatcher, bits: u64) {
    let home = d
        .process
        .dispatchers
        .lock()
        .iter()
        .find(|(_, id)| **id == d.id)
        .map(|(cpu, _)| *cpu);
    if let Some(cpu) = home {
        let _ = raise(d, cpu, bits);
    }
}

/// `async_send(handle, cpu, w0, w1, w2, w3)`: queues a message of four
/// words for the dispatcher on processor `cpu` of the process exporting
/// `handle` (the sender needs some right on it), and signals it with
/// [`SOFT_MESSAGE`]. `-EAGAIN` when its ring is full.
pub fn async_send(h: u64, cpu: u64, words: [u64; 4]) -> SyscallResult {
    let me = current()?;
    let (pid, index, seq) = split(h);
    let target = dispatch::process(pid).ok_or(Errno::Ebadf)?;
    {
        let ex = target.exports.lock();
        let e = ex
            .get(index)
            .filter(|e| e.live && e.seq == seq)
            .ok_or(Errno::Ebadf)?;
        let rights = e
            .grants
            .iter()
            .filter(|(p, _)| *p == me.process.pid || *p == ANYONE)
            .fold(0, |r, (_, g)| r | g);
        if rights == 0 {
            return Err(Errno::Eperm);
        }
    }
    let cpu = cpu as usize;
    let tid = *target.dispatchers.lock().get(&cpu).ok_or(Errno::Esrch)?;
    let td = dispatch::get(tid).ok_or(Errno::Esrch)?;
    let space = target.space().ok_or(Errno::Esrch)?;
    let base = page_of(cpu);
    {
        let _g = target.page_lock.lock(); // one producer at a time
        let head = read_word(&space, base + page::HEAD)?;
        let tail = read_word(&space, base + page::TAIL)?;
        if tail.wrapping_sub(head) >= RING {
            return Err(Errno::Eagain);
        }
        let at = base + page::RING_AT + (tail % RING) * MSG_WORDS * 8;
        let mut msg = [0u8; (MSG_WORDS * 8) as usize];
        msg[..8].copy_from_slice(&u64::from(me.process.pid).to_le_bytes());
        for (i, w) in words.iter().enumerate() {
            msg[8 + i * 8..16 + i * 8].copy_from_slice(&w.to_le_bytes());
        }
        space.write(at, &msg).map_err(|_| Errno::Efault)?;
        write_word(&space, base + page::TAIL, tail + 1)?;
    }
    raise(&td, cpu, SOFT_MESSAGE)?;
    Ok(0)
}

/// `soft_interrupt(cpu, bits)`: raises `bits` in the caller's own
/// process's dispatcher on processor `cpu` (not the kernel's own
/// [`SOFT_FUTEX`](crate::syscall::futex::SOFT_FUTEX)).
pub fn soft_interrupt(cpu: u64, bits: u64) -> SyscallResult {
    let me = current()?;
    if bits == 0 || bits & crate::syscall::futex::SOFT_FUTEX != 0 {
        return Err(Errno::Einval);
    }
    let cpu = cpu as usize;
    let tid = *me
        .process
        .dispatchers
        .lock()
        .get(&cpu)
        .ok_or(Errno::Esrch)?;
    let td = dispatch::get(tid).ok_or(Errno::Esrch)?;
    raise(&td, cpu, bits)?;
    Ok(0)
}

/// `create_dispatcher(cpu, entry, stack)`: a dispatcher of the caller's
/// process on processor `cpu` (one per processor), starting at `entry`
/// with `rdi = cpu` on `stack`, in the caller's scheduling class.
pub fn create_dispatcher(cpu: u64, entry: u64, stack: u64) -> SyscallResult {
    let me = current()?;
    let cpu = cpu as usize;
    if cpu >= crate::arch::percpu::online()
        || entry >= ::mm::USER_END
        || stack >= ::mm::USER_END
        || !stack.is_multiple_of(16)
    {
        return Err(Errno::Einval);
    }
    if me.process.dispatchers.lock().contains_key(&cpu) {
        return Err(Errno::Ebusy);
    }
    let mut ctx = crate::arch::usermode::UserContext::new(entry, stack - 8);
    ctx.frame.rdi = cpu as u64;
    let params = dispatch::smp()
        .info(me.id)
        .map(|(_, i)| i.params)
        .map_err(|_| Errno::Esrch)?;
    dispatch::create(&me.process, ctx, cpu, params.pinned()).map_err(|e| match e {
        dispatch::CreateError::Busy => Errno::Ebusy,
        dispatch::CreateError::Dying => Errno::Esrch,
        dispatch::CreateError::Sched(_) => Errno::Enomem,
    })?;
    Ok(0)
}

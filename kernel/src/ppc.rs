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
//! Native calls: `export(cookie)` → handle, `grant(handle, pid, rights)`,
//! `set_entry_point(kind, entry, stack)`, `ipc_call(handle, method, len)`,
//! `ipc_return(status, len)`, `block()`. A handle is `pid << 32 | index <<
//! 16 | seq`.

use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use crate::arch::trap::TrapFrame;
use crate::arch::uaccess::copy_from_user;
use crate::dispatch::{self, Process};
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

fn handle(pid: u32, index: usize, seq: u16) -> u64 {
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

/// `set_entry_point(kind, entry, stack)`: only the IPC-call entry (kind
/// 4) exists so far.
pub fn set_entry_point(kind: u64, entry: u64, stack: u64) -> SyscallResult {
    let me = current()?;
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

/// `ipc_call(handle, method, len)`: see the module docs. Returns the
/// server's status (its `ipc_return`), with the reply length in `rdx`.
pub fn ipc_call(h: u64, method: u64, len: u64) -> SyscallResult {
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
    if sd
        .serving
        .compare_exchange(0, me.id.to_raw() + 1, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(Errno::Ebusy); // one call at a time per server dispatcher
    }
    if let Err(e) = copy_ppc(&server, len as usize) {
        sd.serving.store(0, Ordering::Release);
        return Err(e);
    }
    {
        let mut ctx = sd.ctx.lock();
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
    let client = me.serving.swap(0, Ordering::AcqRel);
    if client == 0 {
        return Err(Errno::Einval); // not serving a call
    }
    let cid = sched::DispatcherId::from_raw(client - 1);
    let Some(cd) = dispatch::get(cid) else {
        // The caller is gone: just wait for the next call.
        dispatch::user_block();
        return Ok(0);
    };
    copy_ppc(&cd.process, len as usize)?;
    {
        let mut ctx = cd.ctx.lock();
        ctx.frame.rax = status;
        ctx.frame.rdx = len;
    }
    dispatch::user_handoff(cid);
    Ok(0)
}

/// Starts the `Echo` server of `/bin/native-tests` on this processor and
/// runs it until it waits for calls; returns its dispatcher and the handle
/// of its object. `client` is the one process granted right 0b1.
fn start_echo_server(client: u32) -> (alloc::sync::Arc<dispatch::Dispatcher>, u64) {
    use alloc::format;
    let cpu = crate::arch::percpu::current_id();
    let archive = crate::process::initramfs().expect("initramfs");
    let image = cpio::find(archive, "/bin/native-tests")
        .unwrap()
        .unwrap()
        .data;
    let arg = format!("{client}");
    let (space, ctx) =
        crate::process::load(image, &[b"native-tests", b"ppc-server", arg.as_bytes()]).unwrap();
    let pid = dispatch::alloc_pid();
    let p = dispatch::new_process(space, pid);
    let params =
        sched::Params::new(sched::Class::TimeSharing, sched::Weight::new(100).unwrap()).pinned();
    let d = dispatch::create(&p, ctx, cpu, params).unwrap();
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
fn run_client(pid: u32, case: &str, h: u64) -> u64 {
    use alloc::format;
    let cpu = crate::arch::percpu::current_id();
    let archive = crate::process::initramfs().expect("initramfs");
    let image = cpio::find(archive, "/bin/native-tests")
        .unwrap()
        .unwrap()
        .data;
    let arg = format!("{h:x}");
    let (space, ctx) =
        crate::process::load(image, &[b"native-tests", case.as_bytes(), arg.as_bytes()]).unwrap();
    let p = dispatch::new_process(space, pid);
    let params =
        sched::Params::new(sched::Class::TimeSharing, sched::Weight::new(100).unwrap()).pinned();
    let d = dispatch::create(&p, ctx, cpu, params).unwrap();
    dispatch::run_loop(&|| d.status().is_some());
    d.status().unwrap()
}

ktest::ktest! {
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

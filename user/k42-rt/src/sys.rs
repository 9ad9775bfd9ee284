//! Typed wrappers of the native calls (`kernel::syscall`), one per call.
//!
//! Each returns `Result<_, Errno>`; the kernel checks every argument (a
//! bad pointer is `EFAULT`, an unknown call `ENOSYS`), so none of these
//! is `unsafe` to call.

use core::arch::asm;

use ppc_idl::{ObjectHandle, ProcessId, Rights};

use crate::errno::Errno;
use crate::nr;

/// A raw system call with six arguments; returns `rax` and `rdx`.
#[inline]
pub fn syscall6(nr: u64, a: [u64; 6]) -> (i64, u64) {
    let r: i64;
    let d: u64;
    // SAFETY: `syscall` clobbers rcx and r11 only (and rdx carries a
    // second result); the kernel validates every argument and never
    // touches this program's memory except through checked user copies.
    unsafe {
        asm!("syscall", inlateout("rax") nr as i64 => r, in("rdi") a[0], in("rsi") a[1],
             inlateout("rdx") a[2] => d, in("r10") a[3], in("r8") a[4], in("r9") a[5],
             lateout("rcx") _, lateout("r11") _, options(nostack))
    };
    (r, d)
}

/// A raw system call with up to three arguments.
#[inline]
pub fn syscall3(nr: u64, a: u64, b: u64, c: u64) -> (i64, u64) {
    syscall6(nr, [a, b, c, 0, 0, 0])
}

fn check(nr: u64, a: u64, b: u64, c: u64) -> Result<u64, Errno> {
    Errno::from_ret(syscall3(nr, a, b, c).0)
}

/// Ends the calling dispatcher with `status` (the low 8 bits are kept).
pub fn exit(status: u64) -> ! {
    syscall3(nr::EXIT, status, 0, 0);
    // The kernel never returns from exit; the loop satisfies `!`.
    loop {
        core::hint::spin_loop();
    }
}

/// Gives up the rest of this slice.
pub fn yield_now() -> Result<(), Errno> {
    check(nr::YIELD, 0, 0, 0).map(drop)
}

/// Waits for a PPC, an async message or a soft interrupt (returns at
/// once if a soft interrupt came since the last block).
pub fn block() -> Result<(), Errno> {
    check(nr::BLOCK, 0, 0, 0).map(drop)
}

/// The IPC-call entry: the kernel starts each call at `entry(caller pid,
/// method, request length, caller rights, object index)` on `stack_top`.
pub type IpcEntry = extern "C" fn(u64, u64, u64, u64, u64) -> !;

/// Sets where PPCs to this process enter, and the stack they run on
/// (16-byte aligned top).
pub fn set_ipc_entry(entry: IpcEntry, stack_top: u64) -> Result<(), Errno> {
    check(
        nr::SET_ENTRY_POINT,
        nr::ENTRY_IPC_CALL,
        entry as *const () as u64,
        stack_top,
    )
    .map(drop)
}

/// `set_entry_point(kind, entry, stack)` with a raw entry address (an
/// assembly stub); kinds as in `sched::native::EntryPoint`.
pub fn set_entry_point(kind: u64, entry: u64, stack_top: u64) -> Result<(), Errno> {
    check(nr::SET_ENTRY_POINT, kind, entry, stack_top).map(drop)
}

/// `ipc_call(handle, method, len)`: the register block and `len` bytes of
/// the PPC page (this processor's) go to the server. Returns the raw
/// status (see [`crate::status`]) and the reply length.
pub fn ipc_call(handle: u64, method: u32, len: usize) -> (i64, usize) {
    let (s, d) = syscall3(nr::IPC_CALL, handle, u64::from(method), len as u64);
    (s, d as usize)
}

/// `ipc_call` naming the call `id` (non-zero): with an IPC-return entry
/// registered, `None` means the call was released (`-EINPROGRESS`): the
/// reply comes through the entry, then [`ipc_take`]. Otherwise as
/// [`ipc_call`].
pub fn ipc_call_id(handle: u64, method: u32, len: usize, id: u64) -> Option<(i64, usize)> {
    let (s, d) = syscall6(
        nr::IPC_CALL,
        [handle, u64::from(method), len as u64, id, 0, 0],
    );
    (s != -(Errno::EINPROGRESS.0 as i64)).then_some((s, d as usize))
}

/// The reply of the released call `id`, into the register block and PPC
/// page: the raw status and the length, as [`ipc_call`] gives them
/// (`-EAGAIN` before the server returned, `-EINVAL` for an unknown id).
pub fn ipc_take(id: u64) -> (i64, usize) {
    let (s, d) = syscall3(nr::IPC_TAKE, id, 0, 0);
    (s, d as usize)
}

/// Ends the PPC being served with `status` and `len` reply bytes in the
/// PPC page. Does not come back unless there was no call to end (then
/// `EINVAL`), or the caller was gone (`Ok`, after waiting for the next
/// wake-up).
pub fn ipc_return(status: u64, len: usize) -> Result<(), Errno> {
    check(nr::IPC_RETURN, status, len as u64, 0).map(drop)
}

/// Queues four words for the dispatcher on processor `cpu` of the process
/// exporting `handle` (`EAGAIN` when its ring is full, `EPERM` without any
/// right on the object).
pub fn async_send(handle: ObjectHandle, cpu: u64, words: [u64; 4]) -> Result<(), Errno> {
    let h = crate::to_raw(handle).ok_or(Errno::EBADF)?;
    Errno::from_ret(
        syscall6(
            nr::ASYNC_SEND,
            [h, cpu, words[0], words[1], words[2], words[3]],
        )
        .0,
    )
    .map(drop)
}

/// Raises soft-interrupt `bits` in this process's dispatcher on `cpu`.
pub fn soft_interrupt(cpu: u64, bits: u64) -> Result<(), Errno> {
    check(nr::SOFT_INTERRUPT, cpu, bits, 0).map(drop)
}

/// Starts a dispatcher of this process on processor `cpu` at `entry(cpu)`
/// on `stack_top` (`EBUSY` if there is one there already).
pub fn create_dispatcher(
    cpu: u64,
    entry: extern "C" fn(u64) -> !,
    stack_top: u64,
) -> Result<(), Errno> {
    check(
        nr::CREATE_DISPATCHER,
        cpu,
        entry as *const () as u64,
        stack_top,
    )
    .map(drop)
}

/// Exports a new object of this process: its handle. Nobody may call it
/// until [`grant`]ed.
pub fn export() -> Result<ObjectHandle, Errno> {
    check(nr::EXPORT, 0, 0, 0).map(crate::from_raw)
}

/// Lets process `pid` (or everyone, for `None`) call the methods of one
/// of this process's objects that need `rights`.
pub fn grant(handle: ObjectHandle, pid: Option<ProcessId>, rights: Rights) -> Result<(), Errno> {
    let h = crate::to_raw(handle).ok_or(Errno::EBADF)?;
    let who = pid.map_or(nr::ANYONE, |p| u64::from(p.0));
    check(nr::GRANT, h, who, rights.0).map(drop)
}

/// When [`set_timer`] fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// At this [`clock`] time (nanoseconds).
    At(u64),
    /// This many nanoseconds from now.
    After(u64),
    /// Never: cancels the timer.
    Cancel,
}

/// Sets this dispatcher's one timer (the thread library registers only
/// its nearest deadline); when it passes, the kernel raises
/// [`SOFT_TIMER`](crate::dispatcher::SOFT_TIMER) and wakes the dispatcher.
pub fn set_timer(d: Deadline) -> Result<(), Errno> {
    let (kind, time) = match d {
        Deadline::At(t) => (0, t),
        Deadline::After(t) => (1, t),
        Deadline::Cancel => (2, 0),
    };
    check(nr::TIMER, kind, time, 0).map(drop)
}

/// Takes the page-fault completions the kernel queued for this
/// dispatcher (after [`SOFT_PFAULT`](crate::dispatcher::SOFT_PFAULT)):
/// fills `buf` with `[io, result]` pairs (result 0: the page is in, retry
/// the access; a negated errno: the read failed) and returns how many.
/// At most 256 at once.
pub fn pfault_take(buf: &mut [[u64; 2]]) -> Result<usize, Errno> {
    let max = buf.len().min(256) as u64;
    check(nr::PFAULT_TAKE, buf.as_mut_ptr() as u64, max, 0).map(|n| n as usize)
}

/// The kernel clock, in nanoseconds.
pub fn clock() -> Result<u64, Errno> {
    check(nr::CLOCK, 0, 0, 0)
}

/// Unix time in nanoseconds at the kernel clock's zero, from the
/// auxiliary vector (0 until the runtime read it, or without an RTC).
static EPOCH: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Records the boot's Unix time (the runtime's start-up does).
pub fn set_epoch(ns: u64) {
    EPOCH.store(ns, core::sync::atomic::Ordering::Relaxed);
}

/// The wall clock: nanoseconds since the Unix epoch.
pub fn wall_clock() -> Result<u64, Errno> {
    Ok(clock()? + EPOCH.load(core::sync::atomic::Ordering::Relaxed))
}

/// Memory protection for [`map_anon`] and [`protect`] (Linux's bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prot(pub u64);

impl Prot {
    /// `PROT_READ`.
    pub const READ: Prot = Prot(1);
    /// `PROT_READ | PROT_WRITE`.
    pub const READ_WRITE: Prot = Prot(3);
    /// `PROT_READ | PROT_EXEC`.
    pub const READ_EXEC: Prot = Prot(5);
}

/// Maps `len` bytes of zeroed anonymous memory at `addr` (page aligned;
/// the caller chooses the address).
pub fn map_anon(addr: u64, len: u64, prot: Prot) -> Result<(), Errno> {
    check(nr::MAP_ANON, addr, len, prot.0).map(drop)
}

/// Unmaps `len` bytes at `addr`.
pub fn unmap(addr: u64, len: u64) -> Result<(), Errno> {
    check(nr::UNMAP, addr, len, 0).map(drop)
}

/// Changes the protection of `len` bytes at `addr`.
pub fn protect(addr: u64, len: u64, prot: Prot) -> Result<(), Errno> {
    check(nr::PROTECT, addr, len, prot.0).map(drop)
}

/// Maps `len` bytes of zeroed memory at `addr` that a fork shares with
/// the child instead of copying (Linux `MAP_SHARED | MAP_ANONYMOUS`).
pub fn map_shared(addr: u64, len: u64, prot: Prot) -> Result<(), Errno> {
    check(nr::MAP_SHARED, addr, len, prot.0).map(drop)
}

/// Lets process `pid` map `len` bytes of this process's shared memory at
/// `addr` (made by [`map_shared`]) with `prot`: a handle to pass to it.
pub fn share(addr: u64, len: u64, pid: ProcessId, prot: Prot) -> Result<u64, Errno> {
    Errno::from_ret(syscall6(nr::SHARE, [addr, len, u64::from(pid.0), prot.0, 0, 0]).0)
}

/// Maps the memory another process [`share`]d with this one at `addr`:
/// its length. `EBADF`: no such handle (or its maker ended); `EPERM`: not
/// granted to this process.
pub fn map_handle(handle: u64, addr: u64) -> Result<u64, Errno> {
    check(nr::MAP_HANDLE, handle, addr, 0)
}

/// `share`'s `prot` bit: the grantee maps a private, copy-on-write view.
pub const SHARE_PRIVATE: u64 = 1 << 3;
/// `share`'s `prot` bit: the handle is good for one mapping.
pub const SHARE_ONCE: u64 = 1 << 4;

/// Sets the end of a file kept in the shared memory that starts at
/// `addr` (made by [`map_shared`]) to `size` bytes (`None`: no end): the
/// pages past the one holding it leave every mapping of it, in every
/// process, and an access there faults. The pages dropped.
pub fn shared_end(addr: u64, size: Option<u64>) -> Result<u64, Errno> {
    check(nr::SHARED_END, addr, size.unwrap_or(u64::MAX), 0)
}

/// Resolves the faults of `[addr, addr + len)` for a read (or a write)
/// now: `EFAULT` if a page cannot be had (no mapping, its protection, past
/// the end of a mapped file).
pub fn probe(addr: u64, len: u64, write: bool) -> Result<(), Errno> {
    check(nr::PROBE, addr, len, u64::from(write)).map(drop)
}

/// Sleeps while the word at `addr` holds `expected` (`EAGAIN` if it does
/// not), until [`futex_wake`] (`Ok`), `timeout_ns` (`ETIMEDOUT`; 0: no
/// timeout) or a soft interrupt (`EINTR`).
pub fn futex_wait(
    addr: &core::sync::atomic::AtomicU32,
    expected: u32,
    timeout_ns: u64,
) -> Result<(), Errno> {
    check(
        nr::FUTEX_WAIT,
        addr.as_ptr() as u64,
        u64::from(expected),
        timeout_ns,
    )
    .map(drop)
}

/// Wakes up to `n` dispatchers sleeping on the word at `addr` (in any
/// process, for shared memory): how many woke.
pub fn futex_wake(addr: &core::sync::atomic::AtomicU32, n: u32) -> Result<u32, Errno> {
    check(nr::FUTEX_WAKE, addr.as_ptr() as u64, u64::from(n), 0).map(|w| w as u32)
}

/// An entry of the boot image (`kernel/src/syscall/bootfs.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootEntry {
    /// `st_mode`: the type and permission bits.
    pub mode: u32,
    /// A file's bytes, a symbolic link's target length, 0 otherwise.
    pub size: u64,
}

/// Bytes of a boot entry's record before its name.
pub const BOOT_RECORD: usize = 16;

/// Entry `i` of the boot image and its name (as stored: no leading `/`),
/// read through `buf`. `ENOENT` past the last entry, `ENAMETOOLONG` if
/// the record does not fit `buf`.
pub fn boot_entry(i: u32, buf: &mut [u8]) -> Result<(BootEntry, &[u8]), Errno> {
    let a = [
        u64::from(i),
        buf.as_mut_ptr() as u64,
        buf.len() as u64,
        0,
        0,
        0,
    ];
    let len = Errno::from_ret(syscall6(nr::BOOT_ENTRY, a).0)? as usize;
    if len > buf.len() {
        return Err(Errno::ENAMETOOLONG);
    }
    let word = |at: usize| u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
    let entry = BootEntry {
        mode: word(0),
        size: u64::from(word(8)) | u64::from(word(12)) << 32,
    };
    Ok((entry, &buf[BOOT_RECORD..len]))
}

/// Copies entry `i`'s data (a file's contents, a link's target) from
/// `offset` into `buf`: the bytes copied, 0 at the end.
pub fn boot_read(i: u32, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let a = [
        u64::from(i),
        offset,
        buf.as_mut_ptr() as u64,
        buf.len() as u64,
        0,
        0,
    ];
    Errno::from_ret(syscall6(nr::BOOT_READ, a).0).map(|n| n as usize)
}

/// The machine now: processors online, their mask, the frames and the
/// caller's processor.
pub fn machine() -> Result<crate::machine::Machine, Errno> {
    use crate::machine::{Machine, RECORD};
    let mut b = [0u8; RECORD];
    check(nr::MACHINE, b.as_mut_ptr() as u64, b.len() as u64, 0)?;
    Ok(Machine::from_bytes(&b))
}

/// Writes to the kernel console (the console server's back end; at most
/// [`nr::CONSOLE_MAX`] bytes at once).
pub fn console_write(bytes: &[u8]) -> Result<usize, Errno> {
    check(
        nr::CONSOLE_WRITE,
        bytes.as_ptr() as u64,
        bytes.len() as u64,
        0,
    )
    .map(|n| n as usize)
}

/// Sets the FS base (thread-local storage).
pub fn set_fs_base(base: u64) -> Result<(), Errno> {
    check(nr::SET_FS_BASE, base, 0, 0).map(drop)
}

/// Sets the GS base.
pub fn set_gs_base(base: u64) -> Result<(), Errno> {
    check(nr::SET_GS_BASE, base, 0, 0).map(drop)
}

/// The time-stamp counter (allowed in user mode).
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no memory effects; CR4.TSD is clear.
    unsafe { core::arch::x86_64::_rdtsc() }
}

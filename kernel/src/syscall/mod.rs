//! System calls: the declarative table and the dispatcher that
//! `syscall_entry` calls (one file per call, Asterinas style).
//!
//! Numbers: native K42-rs calls are `NATIVE | nr`, with `nr` from the
//! `sched` crate's native call set (set entry point, yield, block,
//! handoff, IPC call and return, async send, timer, soft interrupt,
//! create/exit dispatcher, scheduling parameters), then the kernel's own
//! from `sched::native::nr::COUNT` on (export and grant, resume, memory,
//! clock, process id, fork/wait/exec and vfork (`vfork.rs`), shared
//! memory between processes
//! (`shared.rs`), futexes (`futex.rs`), Linux signals and process groups
//! (`signal.rs`, `pgrp.rs`), page-fault completions
//! (`pfault_take.rs`), the machine's processors and memory
//! (`machine.rs`)); `DEBUG | nr` are the kernel's
//! debugging calls (the console and its terminal, `terminal.rs`, until
//! the console server exists). Linux
//! system-call numbers below `NATIVE` are reflected to the system library
//! of a Linux process ([`reflect`]). Anything not in [`TABLE`] returns
//! `-ENOSYS`, is logged once per number, and is traced like every call.
//!
//! A handler gets a [`Context`] (the six argument registers and the
//! caller's saved frame, which calls such as `resume` and `fork_process`
//! read or replace) and returns a value or an [`Errno`]; the value goes to
//! the caller's `rax`. User pointers go through `arch::uaccess`, so a bad
//! one is `-EFAULT`.

mod block;
pub mod bootfs;
pub mod console_read;
mod console_write;
mod exec;
mod exit;
mod fork;
pub mod futex;
mod ipc;
mod ipc_take;
mod machine;
mod memory;
mod pfault_take;
pub mod pgrp;
mod probe;
mod process_id;
pub mod reflect;
mod set_fs_base;
pub mod shared;
mod shared_end;
pub mod signal;
pub mod terminal;
pub mod timer;
pub mod vfork;
mod yield_now;

use crate::arch::trap::TrapFrame;
use crate::arch::{cpu, usermode};
use core::sync::atomic::{AtomicU64, Ordering};

/// Base of the native call numbers.
pub const NATIVE: u64 = 0x4b42_0000;
/// `export`: a native call beyond the `sched` crate's dozen (object
/// handles live in the kernel, not the scheduler).
pub const EXPORT: u64 = sched::native::nr::COUNT;
/// `grant`: see [`EXPORT`].
pub const GRANT: u64 = sched::native::nr::COUNT + 1;
/// `resume(save_area, call)`: return from a reflected system call
/// ([`reflect`]); it replaces the caller's frame (and traces the end of
/// call `call - 1`, if not 0).
pub const RESUME: u64 = sched::native::nr::COUNT + 2;
/// `map_anon(addr, len, prot)`.
pub const MAP_ANON: u64 = sched::native::nr::COUNT + 3;
/// `unmap(addr, len)`.
pub const UNMAP: u64 = sched::native::nr::COUNT + 4;
/// `protect(addr, len, prot)`.
pub const PROTECT: u64 = sched::native::nr::COUNT + 5;
/// `clock()`: the kernel clock in nanoseconds.
pub const CLOCK: u64 = sched::native::nr::COUNT + 6;
/// `process_id()`: the calling process's id (what PPC servers see).
pub const PROCESS_ID: u64 = sched::native::nr::COUNT + 7;
/// `fork_process()`: see `fork.rs`.
pub const FORK_PROCESS: u64 = sched::native::nr::COUNT + 8;
/// `wait_child(pid)`: see `fork.rs`.
pub const WAIT_CHILD: u64 = sched::native::nr::COUNT + 9;
/// `exec(path, argv, envp, inherit, inherit_len, image)`: see `exec.rs`.
pub const EXEC: u64 = sched::native::nr::COUNT + 10;
/// `boot_entry(i, buf, len)`: see `bootfs.rs`.
pub const BOOT_ENTRY: u64 = sched::native::nr::COUNT + 19;
/// `boot_read(i, offset, buf, len)`: see `bootfs.rs`.
pub const BOOT_READ: u64 = sched::native::nr::COUNT + 20;
/// Base of the kernel debugging calls.
pub const DEBUG: u64 = 0x4b42_1000;
/// `map_shared(addr, len, prot)`: see `shared.rs`.
pub const MAP_SHARED: u64 = sched::native::nr::COUNT + 11;
/// `share(addr, len, pid, prot)`: see `shared.rs`.
pub const SHARE: u64 = sched::native::nr::COUNT + 12;
/// `map_handle(handle, addr)`: see `shared.rs`.
pub const MAP_HANDLE: u64 = sched::native::nr::COUNT + 13;
/// `shared_end(addr, size)`: see `shared_end.rs`.
pub const SHARED_END: u64 = sched::native::nr::COUNT + 32;
/// `probe(addr, len, write)`: see `probe.rs`.
pub const PROBE: u64 = sched::native::nr::COUNT + 33;
/// `futex_wait(addr, expected, timeout_ns)`: see `futex.rs`.
pub const FUTEX_WAIT: u64 = sched::native::nr::COUNT + 14;
/// `futex_wake(addr, n)`: see `futex.rs`.
pub const FUTEX_WAKE: u64 = sched::native::nr::COUNT + 15;
/// `signal_send(pid, sig, code, value)`: see `signal.rs`.
pub const SIGNAL_SEND: u64 = sched::native::nr::COUNT + 16;
/// `signal_take(buf, max)`: see `signal.rs`.
pub const SIGNAL_TAKE: u64 = sched::native::nr::COUNT + 17;
/// `process_group(op, pid, pgid)`: see `pgrp.rs`.
pub const PROCESS_GROUP: u64 = sched::native::nr::COUNT + 18;
/// `vfork_process(frame, pid_at, tid_at)`: see `vfork.rs`.
pub const VFORK_PROCESS: u64 = sched::native::nr::COUNT + 28;
/// `pfault_take(buf, max)`: the calling dispatcher's page-fault
/// completions; see `pfault_take.rs` and `crate::mm::upcall`.
pub const PFAULT_TAKE: u64 = sched::native::nr::COUNT + 36;
/// `ipc_take(id)`: the reply of a released PPC; see `ipc_take.rs` and
/// `crate::ppc`.
pub const IPC_TAKE: u64 = sched::native::nr::COUNT + 37;
/// `machine(buf, len)`: the processors online and the memory; see
/// `machine.rs`.
pub const MACHINE: u64 = sched::native::nr::COUNT + 38;

/// A Linux-compatible error number (returned negated in `rax`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i64)]
pub enum Errno {
    /// Not permitted.
    Eperm = 1,
    /// No such file or directory.
    Enoent = 2,
    /// No such process.
    Esrch = 3,
    /// Input/output error.
    Eio = 5,
    /// Argument list too long.
    E2big = 7,
    /// Not an executable format.
    Enoexec = 8,
    /// Bad handle.
    Ebadf = 9,
    /// No child processes.
    Echild = 10,
    /// Try again.
    Eagain = 11,
    /// Out of memory.
    Enomem = 12,
    /// Permission denied.
    Eacces = 13,
    /// Bad address.
    Efault = 14,
    /// Busy.
    Ebusy = 16,
    /// No such device (the console has no input).
    Enodev = 19,
    /// Not a terminal (the console is not the caller's controlling
    /// terminal).
    Enotty = 25,
    /// Not a directory.
    Enotdir = 20,
    /// The call would deadlock.
    Edeadlk = 35,
    /// A path too long.
    Enametoolong = 36,
    /// Too many symbolic links (or nested interpreters).
    Eloop = 40,
    /// Invalid argument.
    Einval = 22,
    /// No such call.
    Enosys = 38,
    /// Interrupted (by a soft interrupt).
    Eintr = 4,
    /// Timed out.
    Etimedout = 110,
    /// In progress (a released PPC, `crate::ppc`).
    Einprogress = 115,
}

impl From<crate::arch::uaccess::Efault> for Errno {
    fn from(_: crate::arch::uaccess::Efault) -> Self {
        Errno::Efault
    }
}

/// What a handler returns.
pub type SyscallResult = Result<u64, Errno>;

/// What a handler gets.
pub struct Context<'a> {
    /// The arguments: `rdi, rsi, rdx, r10, r8, r9`.
    pub args: [u64; 6],
    /// The caller's registers, saved by `syscall_entry`; the caller
    /// returns to them (after [`dispatch`] stores the result in `rax`).
    pub frame: &'a mut TrapFrame,
}

/// One system call.
pub struct Syscall {
    /// Its number (`rax`).
    pub nr: u64,
    /// Its name, for logs and traces.
    pub name: &'static str,
    /// The handler.
    pub handler: fn(&mut Context<'_>) -> SyscallResult,
}

macro_rules! syscall_table {
    ($($nr:expr => $name:literal, $handler:path;)*) => {
        /// Every system call the kernel serves.
        pub static TABLE: &[Syscall] = &[
            $(Syscall { nr: $nr, name: $name, handler: $handler },)*
        ];
    };
}

syscall_table! {
    NATIVE | sched::native::nr::SET_ENTRY_POINT => "set_entry_point", ipc::sys_set_entry_point;
    NATIVE | sched::native::nr::YIELD           => "yield",           yield_now::sys_yield;
    NATIVE | sched::native::nr::BLOCK           => "block",           block::sys_block;
    NATIVE | sched::native::nr::IPC_CALL        => "ipc_call",        ipc::sys_ipc_call;
    NATIVE | sched::native::nr::IPC_RETURN      => "ipc_return",      ipc::sys_ipc_return;
    NATIVE | sched::native::nr::ASYNC_SEND      => "async_send",      ipc::sys_async_send;
    NATIVE | sched::native::nr::SOFT_INTERRUPT  => "soft_interrupt",  ipc::sys_soft_interrupt;
    NATIVE | sched::native::nr::CREATE_DISPATCHER => "create_dispatcher", ipc::sys_create_dispatcher;
    NATIVE | EXPORT                             => "export",          ipc::sys_export;
    NATIVE | sched::native::nr::TIMER           => "timer",           timer::sys_timer;
    NATIVE | CLOCK                              => "clock",           timer::sys_clock;
    NATIVE | PROCESS_ID                         => "process_id",      process_id::sys_process_id;
    NATIVE | RESUME                             => "resume",          reflect::sys_resume;
    NATIVE | FORK_PROCESS                       => "fork_process",    fork::sys_fork_process;
    NATIVE | WAIT_CHILD                         => "wait_child",      fork::sys_wait_child;
    NATIVE | VFORK_PROCESS                      => "vfork_process",   vfork::sys_vfork_process;
    NATIVE | PFAULT_TAKE                        => "pfault_take",     pfault_take::sys_pfault_take;
    NATIVE | IPC_TAKE                           => "ipc_take",        ipc_take::sys_ipc_take;
    NATIVE | MACHINE                            => "machine",         machine::sys_machine;
    NATIVE | EXEC                               => "exec",            exec::sys_exec;
    NATIVE | BOOT_ENTRY                         => "boot_entry",      bootfs::sys_boot_entry;
    NATIVE | BOOT_READ                          => "boot_read",       bootfs::sys_boot_read;
    NATIVE | MAP_ANON                           => "map_anon",        memory::sys_map_anon;
    NATIVE | UNMAP                              => "unmap",           memory::sys_unmap;
    NATIVE | PROTECT                            => "protect",         memory::sys_protect;
    NATIVE | MAP_SHARED                         => "map_shared",      shared::sys_map_shared;
    NATIVE | SHARE                              => "share",           shared::sys_share;
    NATIVE | MAP_HANDLE                         => "map_handle",      shared::sys_map_handle;
    NATIVE | SHARED_END                         => "shared_end",      shared_end::sys_shared_end;
    NATIVE | PROBE                              => "probe",           probe::sys_probe;
    NATIVE | FUTEX_WAIT                         => "futex_wait",      futex::sys_futex_wait;
    NATIVE | FUTEX_WAKE                         => "futex_wake",      futex::sys_futex_wake;
    NATIVE | SIGNAL_SEND                        => "signal_send",     signal::sys_signal_send;
    NATIVE | SIGNAL_TAKE                        => "signal_take",     signal::sys_signal_take;
    NATIVE | PROCESS_GROUP                      => "process_group",   pgrp::sys_process_group;
    NATIVE | GRANT                              => "grant",           ipc::sys_grant;
    NATIVE | sched::native::nr::EXIT_DISPATCHER => "exit_dispatcher", exit::sys_exit;
    DEBUG                                       => "console_write",   console_write::sys_console_write;
    DEBUG | 1                                   => "set_fs_base",     set_fs_base::sys_set_fs_base;
    DEBUG | 2                                   => "set_gs_base",     set_fs_base::sys_set_gs_base;
    DEBUG | 3                                   => "kernel_log",      console_write::sys_kernel_log;
    DEBUG | 4                                   => "console_read",    console_read::sys_console_read;
    DEBUG | 5                                   => "terminal",        terminal::sys_terminal;
}

/// Unknown numbers seen (a bit each for the first 64 distinct ones, so
/// each is logged once).
static UNKNOWN_LOGGED: spin::Mutex<alloc::vec::Vec<u64>> = spin::Mutex::new(alloc::vec::Vec::new());

/// System calls served, all processors.
pub static CALLS: AtomicU64 = AtomicU64::new(0);

fn unknown(nr: u64) -> SyscallResult {
    let mut seen = UNKNOWN_LOGGED.lock();
    if !seen.contains(&nr) && seen.len() < 256 {
        seen.push(nr);
        log::warn!("unimplemented system call {nr:#x}: ENOSYS");
    }
    Err(Errno::Enosys)
}

/// Names every call in the trace (so `ktrace` shows names, not numbers).
pub fn trace_names() {
    for call in TABLE {
        ktrace::events::syscall::name(&crate::trace::TRACER, call.nr, call.name);
    }
}

/// Called by `syscall_entry` with interrupts off, on the kernel stack,
/// with the user's registers in `frame`. Returns to user mode by
/// `sysret` with `frame` (checked here), unless the call ended the
/// program.
pub extern "C" fn dispatch(frame: &mut TrapFrame) {
    cpu::enable_interrupts();
    CALLS.fetch_add(1, Ordering::Relaxed);
    let nr = frame.rax;
    let args = [
        frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9,
    ];
    let t = &crate::trace::TRACER;
    ktrace::events::syscall::enter(t, nr, args[0], args[1], args[2]);
    // Killed by another processor since it last entered: it goes no
    // further (the interrupt that says so may not have arrived yet).
    if crate::dispatch::leave_if_killed() {
        return leave(frame);
    }
    // A Linux call in a process with a system library: reflected to it.
    if nr < NATIVE {
        if let Some(entry) = reflect::entry() {
            reflect::reflect(frame, entry);
            return leave(frame);
        }
    }
    let result = match TABLE.iter().find(|s| s.nr == nr) {
        Some(call) => (call.handler)(&mut Context { args, frame }),
        None => unknown(nr),
    };
    let value = match result {
        Ok(v) => v,
        Err(e) => (-(e as i64)) as u64,
    };
    ktrace::events::syscall::exit(t, nr, value as i64);
    frame.rax = value;
    leave(frame);
}

/// Back to user mode with `frame`, checked.
fn leave(frame: &mut TrapFrame) {
    cpu::disable_interrupts();
    if !usermode::sanitize(frame) {
        // `sysret` to a non-canonical address would fault in the kernel.
        log::warn!(
            "user context returns to a bad address {:#x}: stopped",
            frame.rip
        );
        usermode::finish(128 + 11);
    }
}

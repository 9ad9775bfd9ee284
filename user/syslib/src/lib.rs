//! # syslib: the Linux system library of K42-rs
//!
//! K42 ran unmodified Linux binaries by **trap reflection** (paper §10,
//! notes §10): a Linux program's `syscall` instruction traps into the
//! kernel, which does not implement Linux at all; it saves the program's
//! registers and re-enters the process at the entry point of its *system
//! library*, a user-level library that implements the Linux call with K42
//! services (native kernel calls, PPCs to servers, state kept in the
//! process). This crate is that library's logic; `src/main.rs` is the
//! static executable `/lib/k42-syslib` the kernel loads beside every Linux
//! program (its start-up, the reflection entry and the real native calls).
//!
//! What this crate owns:
//!
//! - the **declarative table** of Linux calls ([`table::TABLE`]: number,
//!   name, handler), one file per call under `calls/` (Asterinas style),
//!   numbers and flags from `linux-raw-sys`;
//! - the **address-space layout** of the Linux process ([`mem::Layout`]):
//!   the program's segments, its stack, `brk`, where `mmap` puts things.
//!   In K42 the layout belongs to user level (regions and FCMs); the
//!   kernel here only maps what the library asks for, at fixed addresses;
//! - **signals** ([`signal`]): actions, mask, pending set, handler
//!   frames and `rt_sigreturn`, faults as signals, the alarm; the kernel
//!   only carries the notification (`signal_send`, a soft interrupt);
//! - the rest of the per-process Linux state: resource limits, the FS/GS
//!   bases, the terminal settings of the console, the random generator,
//!   the CPU affinity mask;
//! - the **machine** as Linux programs see it ([`machine`]): processors
//!   online and memory from the kernel's `machine` call, for
//!   `sched_getaffinity`, `/proc/cpuinfo`, `/proc/meminfo` and `sysinfo`.
//!
//! - the **direct-branch vector** ([`abi::DIRECT_VECTOR`], paper §10): a
//!   read-only page with the address of the library's call entry, so a
//!   program built with `include/k42-syslib.h` calls the same table without
//!   a trap (`docs/perf/syslib.md`: 97% faster than reflection under TCG).
//!
//! The calls are plain functions over the [`Native`] trait (the native
//! K42-rs calls), so the host unit tests run every call against a mock
//! kernel that checks the library never touches memory it has not
//! validated.
//!
//! ## User pointers
//!
//! The library runs in the program's address space, so a bad pointer in a
//! call would fault in the library. Every pointer is checked against the
//! library's own map of the address space ([`mem::Layout::check`]) before
//! it is read or written, and is `-EFAULT` otherwise: the library made
//! every mapping a Linux program can have, so its map is the truth (a
//! probing copy through the kernel would cost a native call per pointer).
//!
//! ## Setup and usage
//!
//! ```
//! use syslib::{Native, Outcome, Startup, Syslib};
//! # use syslib::mock::MockNative;
//! let mut native = MockNative::new();
//! // The kernel's initial stack and the program's segments (the mock
//! // builds them as the kernel would).
//! let start: Startup = native.linux_process(&[b"hello"], &[b"HOME=/"]);
//! let mut lib = Syslib::start(native, start);
//! // A reflected `getpid()` (39):
//! assert_eq!(lib.handle(39, [0; 6]), Outcome::Return(1));
//! // `exit_group(3)` (231) ends the process:
//! assert_eq!(lib.handle(231, [3, 0, 0, 0, 0, 0]), Outcome::Exit(3));
//! ```
//!
//! ## Crates
//!
//! `linux-raw-sys` (no_std, generated from the Linux UAPI headers, the
//! numbers `rustix` uses): call numbers, errno values, flags and the
//! structure layouts, which the calls serialise field by field (checked
//! against `size_of` of the `linux-raw-sys` structures), so the crate
//! needs no `unsafe`. `libc` was refused: it describes a C library's view,
//! not the kernel ABI, and is not no_std-clean for this target.
#![no_std]
#![deny(unsafe_code)]

#[cfg(any(test, feature = "mock"))]
extern crate std;

extern crate alloc;

pub mod abi;
pub mod calls;
pub mod fd;
pub mod fs;
pub mod machine;
pub mod mem;
#[cfg(any(test, feature = "mock"))]
pub mod mock;
pub mod pipe;
pub mod signal;
pub mod table;
pub mod threads;
pub mod tty;

use core::fmt::Write as _;
use linux_raw_sys::general as g;

pub use mem::{Access, Layout};

/// A Linux error number (returned to the program negated in `rax`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub u32);

macro_rules! errnos {
    ($($name:ident),*) => {
        impl Errno {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                pub const $name: Errno = Errno(linux_raw_sys::errno::$name);
            )*
        }
    };
}
errnos!(
    EPERM,
    ENXIO,
    ENOENT,
    ESRCH,
    EBADF,
    ECHILD,
    EAGAIN,
    ENOMEM,
    EACCES,
    EFAULT,
    EEXIST,
    ENODEV,
    ENOTDIR,
    EISDIR,
    EINVAL,
    EMFILE,
    ENOTTY,
    ESPIPE,
    EROFS,
    ERANGE,
    ENAMETOOLONG,
    ENOSYS,
    ENOTEMPTY,
    ELOOP,
    EOPNOTSUPP
);

impl Errno {
    /// As `rax` holds it.
    pub fn to_return(self) -> u64 {
        (-(i64::from(self.0))) as u64
    }
}

/// What a call returns: a value, or an errno.
pub type SysResult = Result<u64, Errno>;

/// The native K42-rs calls the library is built on (the real ones wrap the
/// `syscall` instruction with numbers `0x4b42_0000 | n`; the tests use
/// `mock::MockNative`).
pub trait Native {
    /// The kernel's debugging console (until there is a console server).
    fn console_write(&mut self, bytes: &[u8]);
    /// A diagnostic line for the kernel's log, outside the program's
    /// output (the console, if the kernel has no such call).
    fn kernel_log(&mut self, bytes: &[u8]) {
        self.console_write(bytes);
    }
    /// `map_anon(addr, len, prot)`: zero-filled memory at a fixed,
    /// page-aligned address; `prot` in Linux `PROT_*` bits.
    fn map_anon(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno>;
    /// `unmap(addr, len)`.
    fn unmap(&mut self, addr: u64, len: u64) -> Result<(), Errno>;
    /// `protect(addr, len, prot)`.
    fn protect(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno>;
    /// The FS base of the calling context (the debug call `set_fs_base`).
    fn set_fs_base(&mut self, base: u64) -> Result<(), Errno>;
    /// The GS base.
    fn set_gs_base(&mut self, base: u64) -> Result<(), Errno>;
    /// Reads process memory the caller has validated with
    /// [`Layout::check`] (or that the kernel set up: the initial stack).
    fn read(&self, addr: u64, buf: &mut [u8]);
    /// Writes process memory the caller has validated.
    fn write(&mut self, addr: u64, bytes: &[u8]);
    /// The kernel's clock (`clock()`): nanoseconds since boot, if the
    /// kernel has the call.
    fn clock_ns(&self) -> Option<u64>;
    /// The time-stamp counter.
    fn cycles(&self) -> u64;
    /// Its frequency, if the kernel or the processor says.
    fn cycles_hz(&self) -> Option<u64>;
    /// 64 bits from the processor's random number generator, if it has one.
    fn hardware_random(&mut self) -> Option<u64>;
    /// This process's id in the kernel (`process_id()`), if the kernel
    /// says.
    fn process_id(&self) -> Option<u32> {
        None
    }
    /// The machine now: the processors online and the memory
    /// (`kernel::syscall::machine`), if the kernel says ([`machine`]).
    fn machine(&self) -> Option<machine::Machine> {
        None
    }
    /// `fork_process()`: a copy of this process, started from the
    /// program's frame of the reflected call with `rax` = 0; the child's
    /// id.
    fn fork_process(&mut self) -> Result<u32, Errno> {
        Err(Errno::ENOSYS)
    }
    /// `wait_child(pid)` (0: any; as an `i32`, negative: any in process
    /// group `-pid`): an ended child's id and status, EAGAIN
    /// while children run, ECHILD if there is none.
    fn wait_child(&mut self, pid: u32) -> Result<(u32, u64), Errno> {
        let _ = pid;
        Err(Errno::ECHILD)
    }
    /// `block()`: sleeps until a soft interrupt (a child's end).
    fn block(&mut self) {}
    /// `exec(path, argv, envp, inherit, image)`: replaces the program
    /// with the Linux program at `path` (absolute, NUL-terminated; in the
    /// initramfs unless `image` gives the file's contents), `argv` and
    /// `envp` the program's `execve` arrays (read by the kernel), the new
    /// library starting with `inherit` (`calls::execve`). Returns only if
    /// it failed, with the error; the process is then unchanged.
    fn exec(
        &mut self,
        path: &[u8],
        argv: u64,
        envp: u64,
        inherit: &[u8],
        image: Option<&[u8]>,
    ) -> Errno {
        let _ = (path, argv, envp, inherit, image);
        Errno::ENOSYS
    }
    /// [`exec`](Native::exec) of the boot image's file `index` (a file
    /// the file server still holds as the initramfs has it), named
    /// `path`: the kernel takes the bytes from the initramfs.
    fn exec_boot(
        &mut self,
        path: &[u8],
        argv: u64,
        envp: u64,
        inherit: &[u8],
        index: u32,
    ) -> Errno {
        let _ = (path, argv, envp, inherit, index);
        Errno::ENOSYS
    }
    /// A synchronous PPC to a server's object (`ipc_call`, through the
    /// per-processor PPC page): `req` in, `reply` out.
    fn ppc_call(
        &mut self,
        handle: ppc_idl::ObjectHandle,
        method: ppc_idl::MethodId,
        req: &ppc_idl::Message,
        reply: &mut ppc_idl::Message,
    ) -> Result<(), ppc_idl::PpcError> {
        let _ = (handle, method, req, reply);
        Err(ppc_idl::PpcError::BadHandle)
    }
    /// `map_shared(addr, len, prot)`: as [`map_anon`](Native::map_anon),
    /// but a fork shares the memory instead of copying it
    /// (`MAP_SHARED | MAP_ANONYMOUS`).
    fn map_shared(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        let _ = (addr, len, prot);
        Err(Errno::ENOSYS)
    }
    /// `futex_wait(addr, expected, timeout_ns)`: sleeps while the word at
    /// `addr` holds `expected` (`EAGAIN` if not) until a wake (`Ok`), the
    /// timeout (`ETIMEDOUT`; 0: none) or a soft interrupt (`EINTR`).
    fn futex_wait(&mut self, addr: u64, expected: u32, timeout_ns: u64) -> Result<(), Errno> {
        let _ = (addr, expected, timeout_ns);
        Err(Errno::ENOSYS)
    }
    /// `futex_wake(addr, n)`: wakes up to `n` sleepers on the word at
    /// `addr`; how many woke.
    fn futex_wake(&mut self, addr: u64, n: u32) -> Result<u32, Errno> {
        let _ = (addr, n);
        Err(Errno::ENOSYS)
    }
    /// `console_read(buf)`: the bytes typed on the console so far (0:
    /// none yet, never waits); `ENODEV` when nobody can type (the reader
    /// then sees end of file).
    fn console_read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        let _ = buf;
        Err(Errno::ENODEV)
    }
    /// `terminal(op, a, b)`: the console as the controlling terminal
    /// (`kernel::syscall::terminal`; ops in [`tty::op`]): `ENOTTY` when
    /// it is not this process's.
    fn terminal(&mut self, op: u64, a: u64, b: u64) -> Result<u64, Errno> {
        let _ = (op, a, b);
        Err(Errno::ENOTTY)
    }
    /// The console's `termios` the kernel keeps for the session that has
    /// it (`terminal` ops `SAVE`/`LOAD`, [`tty::op`]): `save` stores
    /// `buf`, else it is filled; whether the kernel took or had one
    /// (`ENOTTY`: the console is not this process's terminal).
    fn terminal_settings(&mut self, save: bool, buf: &mut [u8; 36]) -> Result<bool, Errno> {
        let _ = (save, buf);
        Err(Errno::ENOTTY)
    }
    /// Sleeps `ns` nanoseconds (`EINTR` if a soft interrupt came first).
    fn sleep_ns(&mut self, ns: u64) -> Result<(), Errno> {
        let _ = ns;
        Err(Errno::ENOSYS)
    }
    /// `signal_send(pid, sig, code, value)`: queues a signal for the
    /// process `pid` (0: the caller's group, -1: every Linux process but
    /// the caller, < -1: group `-pid`); `sig` 0 only checks
    /// (`ESRCH`, `EPERM`).
    fn signal_send(&mut self, pid: i64, sig: u32, code: i32, value: u64) -> Result<(), Errno> {
        let _ = (pid, sig, code, value);
        Err(Errno::ENOSYS)
    }
    /// `signal_take(buf, max)`: moves the kernel's queued signals for this
    /// process into `out` (sig, `pid | code << 32`, value, 0); how many.
    fn signal_take(&mut self, out: &mut [[u64; 4]]) -> Result<usize, Errno> {
        let _ = out;
        Ok(0)
    }
    /// Clears `bits` in this dispatcher's soft-interrupt word (its page)
    /// and returns those that were set.
    fn soft_take(&mut self, bits: u64) -> u64 {
        let _ = bits;
        0
    }
    /// The dispatcher's timer: raise `SOFT_TIMER` at `clock()` time `at`
    /// (0: cancel).
    fn timer(&mut self, at: u64) {
        let _ = at;
    }
    /// `process_group(op, pid, pgid)` (`kernel::syscall::pgrp`).
    fn process_group(&mut self, op: u64, pid: i64, pgid: i64) -> Result<u64, Errno> {
        let _ = (op, pid, pgid);
        Err(Errno::ENOSYS)
    }
    /// Saves the program's FPU/SSE registers (FXSAVE, 512 bytes) at
    /// `addr` (validated, 16-byte aligned) and gives a signal handler a
    /// clean FPU.
    fn fpu_save(&mut self, addr: u64) {
        let _ = addr;
    }
    /// Loads the program's FPU/SSE registers from a (validated) FXSAVE
    /// area at `addr`.
    fn fpu_restore(&mut self, addr: u64) {
        let _ = addr;
    }
    /// [`wait_child`](Native::wait_child) with Linux's `WUNTRACED` (2)
    /// and `WCONTINUED` (8) in `options`: a child's stop is status
    /// `0x1000 | signal`, its continuation `0x2000`.
    fn wait_child_options(&mut self, pid: u32, options: u64) -> Result<(u32, u64), Errno> {
        let _ = options;
        self.wait_child(pid)
    }
    /// `map_handle(handle, addr)`: maps memory another process shared
    /// with this one (`share`) at `addr`: its length.
    fn map_handle(&mut self, handle: u64, addr: u64) -> Result<u64, Errno> {
        let _ = (handle, addr);
        Err(Errno::ENOSYS)
    }
    /// `probe(addr, len, write)`: the kernel resolves the pages of
    /// `[addr, addr + len)` for a read (a write) now; `EFAULT` if one
    /// cannot be had (past the end of a mapped file: [`Layout::probe_files`]).
    fn probe(&self, addr: u64, len: u64, write: bool) -> Result<(), Errno> {
        let _ = (addr, len, write);
        Ok(())
    }
    /// A library context for new thread `tid` ([`threads`]): its own
    /// library stack, the caller's FPU/SSE registers, and a start that
    /// calls [`Syslib::thread_started`] and resumes the frame it returns
    /// (`EAGAIN` without memory for it).
    fn thread_create(&mut self, tid: u32) -> Result<(), Errno> {
        let _ = tid;
        Err(Errno::EAGAIN)
    }
    /// Suspends the library context of thread `from` (and the program's
    /// FPU/SSE registers) and continues `to`'s; returns when a switch
    /// comes back to `from`. Library entries run on `to`'s stack from now
    /// on.
    fn thread_switch(&mut self, from: u32, to: u32) {
        let _ = (from, to);
        unreachable!("thread_switch without thread_create");
    }
    /// Frees ended thread `tid`'s library context (never the running
    /// one's).
    fn thread_free(&mut self, tid: u32) {
        let _ = tid;
    }
    /// Makes the library's entries run on the stack below `top` from now
    /// on, and returns the previous top (a vfork child's entries must not
    /// use the stack its parent waits on). 0 changes nothing.
    fn swap_entry_stack(&mut self, top: u64) -> u64 {
        let _ = top;
        0
    }
    /// `vfork_process(frame, pid_at, tid_at)` (`calls::vfork`): a child in
    /// this address space that starts from the program frame `frame`,
    /// its library entries on a stack of their own and the library free
    /// for them; the kernel writes its id (u32) at both addresses of
    /// `ids_at` before it runs. Returns its id once it exec'd or ended.
    fn vfork_process(
        &mut self,
        frame: &[u64; abi::frame::WORDS],
        ids_at: [u64; 2],
    ) -> Result<u32, Errno> {
        let _ = (frame, ids_at);
        Err(Errno::ENOSYS)
    }
}

/// What the kernel hands the library when it starts it.
#[derive(Clone, Copy, Debug)]
pub struct Startup {
    /// The program's initial stack pointer (argc, argv, envp, auxv).
    pub rsp: u64,
    /// The program's entry point.
    pub entry: u64,
    /// The first page after the program's highest segment.
    pub brk_start: u64,
    /// The processor of this dispatcher.
    pub cpu: u64,
    /// The system name server's object handle (0: none), where the
    /// library finds the file system (`ramfs`).
    pub names: u64,
}

/// What the library does after a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Resume the program with this `rax`.
    Return(u64),
    /// End the process with this status.
    Exit(u8),
}

/// A Linux signal action, as `rt_sigaction` passes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    /// `sa_handler` (`SIG_DFL` = 0, `SIG_IGN` = 1, or a function).
    pub handler: u64,
    /// `sa_flags`.
    pub flags: u64,
    /// `sa_restorer`.
    pub restorer: u64,
    /// `sa_mask`.
    pub mask: u64,
}

/// A resource limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    /// Soft.
    pub cur: u64,
    /// Hard.
    pub max: u64,
}

/// `RLIM_INFINITY`.
pub const RLIM_INFINITY: u64 = u64::MAX;

/// Everything the library keeps about the Linux process (a copy is a
/// vfork child's view, `calls::vfork`).
#[derive(Clone)]
pub struct State {
    /// The address-space layout.
    pub mem: Layout,
    /// The process id the program sees (the kernel does not name it to the
    /// library yet: the first Linux process of a space is 1).
    pub pid: u32,
    /// The processor this dispatcher runs on.
    pub cpu: u64,
    /// `set_tid_address`'s pointer (cleared and woken at thread exit, once
    /// there are threads).
    pub clear_child_tid: u64,
    /// The FS and GS bases (`arch_prctl`).
    pub fs_base: u64,
    /// See `fs_base`.
    pub gs_base: u64,
    /// Signal actions, index = signal - 1.
    pub actions: [SigAction; 64],
    /// Blocked signals (bit = signal - 1).
    pub blocked: u64,
    /// Resource limits, by `RLIMIT_*`.
    pub rlimits: [Rlimit; g::RLIM_NLIMITS as usize],
    /// The CPU affinity `sched_setaffinity` set (bit = processor;
    /// [`machine::ALL`] at start): reported, not enforced
    /// (`calls::sched_setaffinity`).
    pub affinity: u64,
    /// The console's terminal settings (`TCGETS`/`TCSETS`).
    pub termios: calls::ioctl::Termios,
    /// The console's window size (`TIOCGWINSZ`).
    pub winsize: [u16; 4],
    /// State of the fallback random generator (seeded from `AT_RANDOM`).
    pub random: u64,
    /// TSC at start-up, and its frequency.
    pub clock: calls::clock_gettime::Clock,
    /// Numbers already reported as unimplemented (a bit per number; those
    /// from 1023 up share the last).
    pub logged: [u64; 16],
    /// Set by `exit`/`exit_group`.
    pub exit: Option<u8>,
    /// The file descriptors.
    pub fds: fd::Table,
    /// The working directory (absolute, normalized).
    pub cwd: alloc::string::String,
    /// The file-mode creation mask.
    pub umask: u32,
    /// The program's path (`AT_EXECFN`), for `/proc/self/exe`.
    pub exe: alloc::string::String,
    /// The parent's process id, as the program sees it (0: none).
    pub ppid: u32,
    /// The system name server's handle (0: none).
    pub names: u64,
    /// The file server, once looked up.
    pub fs_server: Option<ppc_idl::ObjectHandle>,
    /// `set_robust_list`'s head (walked at thread exit, once there are
    /// threads).
    pub robust_list: u64,
    /// Unix time in nanoseconds at the kernel clock's zero (aux entry
    /// `AT_K42_EPOCH`; 0: no wall clock), for `CLOCK_REALTIME`.
    pub epoch_ns: u64,
    /// Typed input of the console not read yet.
    pub tty: tty::Input,
    /// Pending signals, the alternate stack, the alarm (`signal`).
    pub sig: signal::Signals,
    /// The file server's doorbell (`pipe`), once mapped.
    pub doorbell: pipe::Doorbell,
    /// The program's threads (`threads`): which runs, and the others.
    pub threads: threads::Threads,
}

/// The library: the Linux state of the process and the native calls.
pub struct Syslib<N: Native> {
    /// The native calls.
    pub native: N,
    /// The Linux state.
    pub state: State,
}

/// What a call's handler gets besides its arguments.
pub struct Ctx<'a> {
    /// The process's Linux state.
    pub st: &'a mut State,
    /// The native calls.
    pub native: &'a mut dyn Native,
}

impl Ctx<'_> {
    /// Checks `[addr, addr + len)` and reads it into `buf`.
    pub fn read_user(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        self.st.mem.check(addr, buf.len() as u64, Access::Read)?;
        let len = buf.len() as u64;
        let mem = &self.st.mem;
        mem.probe_files(self.native, addr, len, Access::Read)?;
        self.native.read(addr, buf);
        Ok(())
    }

    /// Checks `[addr, addr + bytes.len())` and writes `bytes` there.
    pub fn write_user(&mut self, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
        self.st.mem.check(addr, bytes.len() as u64, Access::Write)?;
        let len = bytes.len() as u64;
        let mem = &self.st.mem;
        mem.probe_files(self.native, addr, len, Access::Write)?;
        self.native.write(addr, bytes);
        Ok(())
    }

    /// Reads a little-endian u64 from the program.
    pub fn read_u64(&self, addr: u64) -> Result<u64, Errno> {
        let mut b = [0u8; 8];
        self.read_user(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Writes a u64 to the program.
    pub fn write_u64(&mut self, addr: u64, v: u64) -> Result<(), Errno> {
        self.write_user(addr, &v.to_le_bytes())
    }

    /// A line on the console, prefixed with the library's name.
    pub fn log(&mut self, args: core::fmt::Arguments<'_>) {
        log(self.native, args);
    }
}

/// A diagnostic line from the library, to the kernel's log (not the
/// program's output, which the differential tests compare).
pub fn log(native: &mut dyn Native, args: core::fmt::Arguments<'_>) {
    let mut line = Line::new();
    let _ = line.write_str("[k42-syslib] ");
    let _ = line.write_fmt(args);
    let _ = line.write_str("\n");
    native.kernel_log(line.as_bytes());
}

/// A fixed buffer to format into (no allocation, so logging works
/// anywhere); text beyond
/// its size is cut.
pub struct Line {
    buf: [u8; 160],
    len: usize,
}

impl Line {
    /// Empty.
    pub const fn new() -> Self {
        Line {
            buf: [0; 160],
            len: 0,
        }
    }
    /// What was written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Reads a u64 the kernel put on the initial stack.
fn peek(native: &dyn Native, addr: u64) -> u64 {
    let mut b = [0u8; 8];
    native.read(addr, &mut b);
    u64::from_le_bytes(b)
}

impl<N: Native> Syslib<N> {
    /// Sets the library up for the program the kernel loaded: reads the
    /// auxiliary vector on the initial stack, records the program's
    /// segments (from its program headers), its stack and its `brk`.
    pub fn start(native: N, start: Startup) -> Self {
        let mut mem = Layout::new(start.brk_start);
        // argc, argv..., 0, envp..., 0, auxv pairs.
        let argc = peek(&native, start.rsp);
        let mut p = start.rsp + 8 * (argc + 2);
        while peek(&native, p) != 0 {
            p += 8;
        }
        p += 8;
        let (mut phdr, mut phnum, mut random, mut execfn) = (0, 0, 0, 0);
        let mut exe_path = 0;
        let mut epoch_ns = 0;
        for _ in 0..64 {
            let (key, value) = (peek(&native, p), peek(&native, p + 8));
            match key as u32 {
                linux_raw_sys::auxvec::AT_NULL => break,
                linux_raw_sys::auxvec::AT_PHDR => phdr = value,
                linux_raw_sys::auxvec::AT_PHNUM => phnum = value,
                linux_raw_sys::auxvec::AT_RANDOM => random = value,
                linux_raw_sys::auxvec::AT_EXECFN => execfn = value,
                abi::AT_K42_EXE => exe_path = value,
                abi::AT_K42_EPOCH => epoch_ns = value,
                _ => {}
            }
            p += 16;
        }
        let mut native = native;
        if let Err(e) = mem.add_program(&native, phdr, phnum) {
            log(
                &mut native,
                format_args!(
                    "program headers unreadable ({e:?}): pointers into the program are EFAULT"
                ),
            );
        }
        mem.add_stack(start.rsp);
        let seed = if random != 0 {
            peek(&native, random) ^ peek(&native, random + 8).rotate_left(32)
        } else {
            native.cycles()
        };
        let clock = calls::clock_gettime::Clock::new(&mut native);
        // `/proc/self/exe`: the executable's path from the kernel, else
        // the one the program was started by.
        if exe_path != 0 {
            execfn = exe_path;
        }
        let mut exe = alloc::string::String::new();
        if execfn != 0 {
            for i in 0..fs::PATH_MAX as u64 {
                let mut b = [0u8];
                native.read(execfn + i, &mut b);
                if b[0] == 0 {
                    break;
                }
                exe.push(char::from(b[0]));
            }
        }
        let pid = native.process_id().unwrap_or(1);
        let state = State {
            mem,
            pid,
            cpu: start.cpu,
            clear_child_tid: 0,
            fs_base: 0,
            gs_base: 0,
            actions: [SigAction::default(); 64],
            blocked: 0,
            rlimits: calls::prlimit64::defaults(),
            affinity: machine::ALL,
            termios: calls::ioctl::Termios::console(),
            winsize: [24, 80, 0, 0],
            random: seed,
            clock,
            logged: [0; 16],
            exit: None,
            fds: fd::Table::with_console(),
            cwd: alloc::string::String::from("/"),
            umask: 0o022,
            exe,
            ppid: 0,
            names: start.names,
            fs_server: None,
            robust_list: 0,
            epoch_ns,
            tty: tty::Input::default(),
            sig: signal::Signals::default(),
            doorbell: pipe::Doorbell::Unknown,
            threads: threads::Threads::new(pid),
        };
        Syslib { native, state }
    }

    /// Performs Linux call `nr` with the argument registers
    /// `rdi, rsi, rdx, r10, r8, r9` (an interrupted call is `EINTR`: this
    /// path has no frame to deliver signals in or restart).
    pub fn handle(&mut self, nr: u64, args: [u64; 6]) -> Outcome {
        match self.call(nr, args) {
            Outcome::Return(v)
                if v == signal::ERESTARTSYS.to_return()
                    || v == signal::ERESTARTNOHAND.to_return() =>
            {
                Outcome::Return(Errno(linux_raw_sys::errno::EINTR).to_return())
            }
            o => o,
        }
    }

    /// A reflected call in the program's saved frame `f` (the save
    /// area): performs it, stores its result, then delivers pending
    /// signals (`signal::deliver`), which may change the whole frame.
    /// `Some(status)`: the process ends.
    pub fn handle_frame(&mut self, f: &mut [u64; abi::frame::WORDS]) -> Option<u8> {
        let (nr, args) = abi::frame::call(f);
        self.state.sig.frame = *f;
        let outcome = self.call(nr, args);
        *f = self.state.sig.frame;
        match outcome {
            Outcome::Exit(status) => Some(status),
            Outcome::Return(v) => {
                f[abi::frame::RAX] = v;
                let call = (nr != u64::from(g::__NR_rt_sigreturn)).then_some(nr);
                self.deliver(f, call)
            }
        }
    }

    /// The dispatcher has the processor again after a preemption (the run
    /// entry): the next ready thread runs, this one (its frame `f`) after
    /// it (`threads::yield_now`: the time slices of the program's
    /// threads), then pending signals are delivered into `f`.
    pub fn preempted(&mut self, f: &mut [u64; abi::frame::WORDS]) -> Option<u8> {
        self.state.sig.frame = *f;
        threads::yield_now(&mut Ctx {
            st: &mut self.state,
            native: &mut self.native,
        });
        *f = self.state.sig.frame;
        self.deliver(f, None)
    }

    /// A new thread's first moment, on its own library stack
    /// ([`Native::thread_create`]): the program frame it starts from.
    pub fn thread_started(&mut self) -> [u64; abi::frame::WORDS] {
        threads::started(&mut Ctx {
            st: &mut self.state,
            native: &mut self.native,
        })
    }

    /// The program was interrupted in user mode by a soft interrupt (the
    /// interrupt entry): pending signals are delivered into `f`.
    pub fn interrupt(&mut self, f: &mut [u64; abi::frame::WORDS]) -> Option<u8> {
        self.state.sig.frame = *f;
        self.deliver(f, None)
    }

    /// An exception of the program (the trap entry), as a signal.
    pub fn trap(
        &mut self,
        f: &mut [u64; abi::frame::WORDS],
        vector: u64,
        error: u64,
        cr2: u64,
    ) -> Option<u8> {
        self.state.sig.frame = *f;
        let mut ctx = Ctx {
            st: &mut self.state,
            native: &mut self.native,
        };
        signal::fault(&mut ctx, f[signal::RIP], vector, error, cr2);
        self.deliver(f, None)
    }

    fn deliver(&mut self, f: &mut [u64; abi::frame::WORDS], call: Option<u64>) -> Option<u8> {
        let mut ctx = Ctx {
            st: &mut self.state,
            native: &mut self.native,
        };
        let end = signal::deliver(&mut ctx, f, call);
        if end.is_some() {
            fs::close_all(&mut ctx);
        }
        end
    }

    /// [`handle`](Self::handle) as the call returns it (an interrupted
    /// call's restart codes included).
    fn call(&mut self, nr: u64, args: [u64; 6]) -> Outcome {
        let mut ctx = Ctx {
            st: &mut self.state,
            native: &mut self.native,
        };
        let result = match table::lookup(nr) {
            Some(call) => (call.handler)(&mut ctx, args),
            None => unimplemented(&mut ctx, nr),
        };
        if let Some(status) = ctx.st.exit {
            fs::close_all(&mut ctx);
            return Outcome::Exit(status);
        }
        Outcome::Return(match result {
            Ok(v) => v,
            Err(e) => e.to_return(),
        })
    }
}

/// `-ENOSYS`, logged the first time for each number.
fn unimplemented(ctx: &mut Ctx<'_>, nr: u64) -> SysResult {
    let mut line = Line::new();
    let _ = write!(line, "unimplemented Linux system call {nr}: ENOSYS");
    log_once(
        ctx,
        nr.min(1022) as u32,
        core::str::from_utf8(line.as_bytes()).unwrap_or(""),
    );
    Err(Errno::ENOSYS)
}

/// Logs `what` the first time `key` (a call number below 1023, or any
/// other key for the library's own notes, which share the last slot)
/// comes by.
pub fn log_once(ctx: &mut Ctx<'_>, key: u32, what: &str) {
    let slot = (key as usize).min(1023);
    let bit = 1u64 << (slot % 64);
    if ctx.st.logged[slot / 64] & bit == 0 {
        ctx.st.logged[slot / 64] |= bit;
        ctx.log(format_args!("{what}"));
    }
}

/// Rounds down to a page.
pub const fn page_down(a: u64) -> u64 {
    a & !(mem::PAGE - 1)
}

/// Rounds up to a page (`None` on overflow).
pub const fn page_up(a: u64) -> Option<u64> {
    match a.checked_add(mem::PAGE - 1) {
        Some(v) => Some(v & !(mem::PAGE - 1)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::mem::{Kind, PROT_EXEC, PROT_READ, PROT_WRITE, STACK_TOP};
    use crate::mock::{t::*, DATA, TEXT};
    use crate::{table, Errno};
    use linux_raw_sys::general as g;

    #[test]
    fn start_up_records_the_program_and_its_stack() {
        let l = lib();
        let areas = l.state.mem.areas();
        assert_eq!(areas.len(), 3, "{areas:?}");
        assert_eq!(
            (areas[0].start, areas[0].end, areas[0].prot),
            (TEXT, TEXT + 0x2000, PROT_READ | PROT_EXEC)
        );
        assert_eq!(
            (areas[1].start, areas[1].end, areas[1].prot),
            (DATA, DATA + 0x3000, PROT_READ | PROT_WRITE)
        );
        assert_eq!((areas[2].end, areas[2].kind), (STACK_TOP, Kind::Stack));
        assert_eq!(l.state.mem.brk, crate::mock::BRK_START);
        assert_ne!(l.state.random, 0, "seeded from AT_RANDOM");
    }

    #[test]
    fn the_program_may_pass_its_own_memory() {
        let mut l = lib();
        // Text is readable (write it out), not writable (uname into it).
        assert_eq!(call(&mut l, g::__NR_write, &[1, TEXT + 64, 4]), 4);
        assert_eq!(call(&mut l, g::__NR_uname, &[TEXT]), err(Errno::EFAULT));
        assert_eq!(call(&mut l, g::__NR_uname, &[DATA + 0x100]), 0);
        assert_eq!(call(&mut l, g::__NR_uname, &[STACK_TOP - 4096]), 0);
        assert_eq!(
            call(&mut l, g::__NR_uname, &[STACK_TOP - 100]),
            err(Errno::EFAULT)
        );
    }

    #[test]
    fn unknown_calls_are_enosys_and_logged_once() {
        let mut l = lib();
        assert_eq!(call(&mut l, 1000, &[]), err(Errno::ENOSYS));
        assert_eq!(call(&mut l, 1000, &[]), err(Errno::ENOSYS));
        assert_eq!(call(&mut l, g::__NR_socket, &[]), err(Errno::ENOSYS));
        let v = l.handle(u64::MAX, [0; 6]);
        assert_eq!(v, crate::Outcome::Return(Errno::ENOSYS.to_return()));
        let log = l.native.console_text();
        assert_eq!(log.matches("system call 1000:").count(), 1, "{log}");
        assert_eq!(
            log.matches(&std::format!("system call {}:", g::__NR_socket))
                .count(),
            1,
            "{log}"
        );
        assert_eq!(log.lines().count(), 3, "{log}");
    }

    #[test]
    fn the_table_finds_every_call_by_number() {
        assert!(table::TABLE.len() >= 28);
        for c in table::TABLE {
            assert_eq!(table::lookup(c.nr.into()).map(|x| x.name), Some(c.name));
        }
        assert_eq!(table::name(g::__NR_write.into()), Some("write"));
        assert_eq!(table::name(g::__NR_exit_group.into()), Some("exit_group"));
        assert_eq!(table::name(g::__NR_fork.into()), Some("fork"));
        assert!(table::lookup(g::__NR_socket.into()).is_none());
        assert!(table::lookup(u64::MAX).is_none());
        assert!(table::lookup(table::MAX_NR as u64).is_none());
    }

    #[test]
    fn every_call_file_is_in_the_table() {
        let files = include_str!("calls/mod.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';'));
        for f in files {
            assert!(
                table::TABLE.iter().any(|c| c.name == f),
                "calls/{f}.rs has no line in table.rs"
            );
        }
    }
}

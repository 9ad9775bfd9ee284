//! The native call numbers (`kernel::syscall`) and the fixed addresses
//! the kernel maps into every process (`kernel::ppc`).

/// Base of the native calls: `NATIVE | n`, n from the `sched` crate's
/// native call set.
pub const NATIVE: u64 = 0x4b42_0000;
/// Base of the kernel's debugging calls.
pub const DEBUG: u64 = 0x4b42_1000;

/// `set_entry_point(kind, entry, stack)`.
pub const SET_ENTRY_POINT: u64 = NATIVE;
/// `yield()`.
pub const YIELD: u64 = NATIVE | 1;
/// `block()`: until a PPC, a message or a soft interrupt.
pub const BLOCK: u64 = NATIVE | 2;
/// `ipc_call(handle, method, len, id)` → status, reply length in `rdx`;
/// with a non-zero `id` and an IPC-return entry, `-EINPROGRESS` when the
/// call is released (the server blocked): the reply comes later
/// ([`ENTRY_IPC_RETURN`], [`IPC_TAKE`]).
pub const IPC_CALL: u64 = NATIVE | 4;
/// `ipc_return(status, len)`.
pub const IPC_RETURN: u64 = NATIVE | 5;
/// `timer(kind, time)`: kind 0 an absolute deadline ([`CLOCK`] time), 1
/// a relative one, 2 cancels.
pub const TIMER: u64 = NATIVE | 7;
/// `async_send(handle, cpu, w0, w1, w2, w3)`.
pub const ASYNC_SEND: u64 = NATIVE | 6;
/// `soft_interrupt(cpu, bits)`.
pub const SOFT_INTERRUPT: u64 = NATIVE | 8;
/// `create_dispatcher(cpu, entry, stack)`.
pub const CREATE_DISPATCHER: u64 = NATIVE | 9;
/// `exit(status)`: ends the calling dispatcher.
pub const EXIT: u64 = NATIVE | 10;
/// `export()` → a new object handle of the caller.
pub const EXPORT: u64 = NATIVE | 12;
/// `grant(handle, pid, rights)`.
pub const GRANT: u64 = NATIVE | 13;
/// `map_anon(addr, len, prot)`: Linux `PROT_*` bits.
pub const MAP_ANON: u64 = NATIVE | 15;
/// `unmap(addr, len)`.
pub const UNMAP: u64 = NATIVE | 16;
/// `protect(addr, len, prot)`.
pub const PROTECT: u64 = NATIVE | 17;
/// `clock()`: the kernel clock in nanoseconds.
pub const CLOCK: u64 = NATIVE | 18;
/// `map_shared(addr, len, prot)`: anonymous memory a fork shares.
pub const MAP_SHARED: u64 = NATIVE | 23;
/// `share(addr, len, pid, prot)` → a handle process `pid` may map.
pub const SHARE: u64 = NATIVE | 24;
/// `map_handle(handle, addr)` → the length mapped.
pub const MAP_HANDLE: u64 = NATIVE | 25;
/// `shared_end(addr, size)`: a file's end in shared memory.
pub const SHARED_END: u64 = NATIVE | 44;
/// `probe(addr, len, write)`: the pages are there for this access.
pub const PROBE: u64 = NATIVE | 45;
/// `futex_wait(addr, expected, timeout_ns)`.
pub const FUTEX_WAIT: u64 = NATIVE | 26;
/// `futex_wake(addr, n)` → how many woke.
pub const FUTEX_WAKE: u64 = NATIVE | 27;
/// `boot_entry(i, buf, len)` → the entry record's length.
pub const BOOT_ENTRY: u64 = NATIVE | 31;
/// `boot_read(i, offset, buf, len)` → the bytes copied.
pub const BOOT_READ: u64 = NATIVE | 32;
/// `console_write(ptr, len)` (debugging call; the console server's).
pub const CONSOLE_WRITE: u64 = DEBUG;
/// `set_fs_base(base)`.
pub const SET_FS_BASE: u64 = DEBUG | 1;
/// `set_gs_base(base)`.
pub const SET_GS_BASE: u64 = DEBUG | 2;

/// The entry-point kind of the IPC-call entry (`set_entry_point`).
pub const ENTRY_IPC_CALL: u64 = 4;
/// The entry-point kind of the page-fault entry (`set_entry_point`): the
/// kernel enters it at `entry(save_area, io, address)` when an access
/// waits for I/O (`kernel::mm::upcall`).
pub const ENTRY_PAGE_FAULT: u64 = 3;
/// `pfault_take(buf, max)` → how many `(io, result)` pairs were written:
/// the page-fault completions queued for the calling dispatcher.
pub const PFAULT_TAKE: u64 = NATIVE | 48;
/// The entry-point kind of the IPC-return entry (`set_entry_point`): the
/// kernel enters it at `entry(save_area, id, status, len)` when the
/// server of a released call returns (`kernel::ppc`, "Released calls").
pub const ENTRY_IPC_RETURN: u64 = 5;
/// `ipc_take(id)` → status, reply length in `rdx`: the reply of the
/// calling dispatcher's released call `id`, into its PPC region.
pub const IPC_TAKE: u64 = NATIVE | 49;
/// `machine(buf, len)` → the record's size: the processors online and
/// the memory ([`crate::machine::Machine`]).
pub const MACHINE: u64 = NATIVE | 50;
/// Grant to every process (`grant`'s pid).
pub const ANYONE: u64 = u32::MAX as u64;

/// The per-processor PPC region: the register block ...
pub const PPC_VA: u64 = 0x7e00_0000_0000;
/// ... and the PPC page after it.
pub const PPC_PAGE_VA: u64 = PPC_VA + 4096;
/// The dispatcher pages: page k for the dispatcher on processor k.
pub const DISPATCHER_VA: u64 = 0x7d00_0000_0000;
/// Most bytes the console call takes at once.
pub const CONSOLE_MAX: usize = 4096;

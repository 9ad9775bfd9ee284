//! The K42-rs kernel interface the library uses: native call numbers and
//! the entry-point kind of reflected system calls (`kernel::syscall`,
//! `sched::native`; a host test checks them against `sched`).

/// Native calls are `NATIVE | n`; they are never reflected.
pub const NATIVE: u64 = 0x4b42_0000;
/// `set_entry_point(kind, entry, stack)`.
pub const SET_ENTRY_POINT: u64 = NATIVE;
/// `exit_dispatcher(status)`.
pub const EXIT: u64 = NATIVE | 10;
/// The first kernel call beyond the `sched` crate's twelve.
const KERNEL: u64 = 12;
/// `resume(save_area)`: back to the program after a reflected call.
pub const RESUME: u64 = NATIVE | (KERNEL + 2);
/// `map_anon(addr, len, prot)`.
pub const MAP_ANON: u64 = NATIVE | (KERNEL + 3);
/// `unmap(addr, len)`.
pub const UNMAP: u64 = NATIVE | (KERNEL + 4);
/// `protect(addr, len, prot)`.
pub const PROTECT: u64 = NATIVE | (KERNEL + 5);
/// `clock()`: nanoseconds since boot.
pub const CLOCK: u64 = NATIVE | (KERNEL + 6);
/// `process_id()`: this process's id in the kernel.
pub const PROCESS_ID: u64 = NATIVE | (KERNEL + 7);
/// `fork_process()`: a copy of the process from the reflected call.
pub const FORK_PROCESS: u64 = NATIVE | (KERNEL + 8);
/// `wait_child(pid)`: an ended child's `status << 32 | pid`.
pub const WAIT_CHILD: u64 = NATIVE | (KERNEL + 9);
/// `exec(path, argv, envp, inherit, inherit_len, image)`: replace the
/// program.
pub const EXEC: u64 = NATIVE | (KERNEL + 10);
/// `map_shared(addr, len, prot)`: anonymous memory a fork shares.
pub const MAP_SHARED: u64 = NATIVE | (KERNEL + 11);
/// `futex_wait(addr, expected, timeout_ns)`.
pub const FUTEX_WAIT: u64 = NATIVE | (KERNEL + 14);
/// `futex_wake(addr, n)`.
pub const FUTEX_WAKE: u64 = NATIVE | (KERNEL + 15);
/// `block()`: sleep until a soft interrupt.
pub const BLOCK: u64 = NATIVE | 2;
/// The kernel's debugging calls: the console.
pub const CONSOLE_WRITE: u64 = 0x4b42_1000;
/// `set_fs_base(base)`.
pub const SET_FS_BASE: u64 = CONSOLE_WRITE | 1;
/// `set_gs_base(base)`.
pub const SET_GS_BASE: u64 = CONSOLE_WRITE | 2;
/// `kernel_log(ptr, len)`: a line for the kernel's log.
pub const KERNEL_LOG: u64 = CONSOLE_WRITE | 3;
/// `console_read(buf, len)`: the bytes typed so far (0: none yet).
pub const CONSOLE_READ: u64 = CONSOLE_WRITE | 4;
/// `terminal(op, a, b)`: the console as a controlling terminal (its
/// foreground group, `TIOCSCTTY`, the signal characters; `tty.rs`).
pub const TERMINAL: u64 = CONSOLE_WRITE | 5;
/// The entry-point kind of reflected system calls
/// (`sched::native::EntryPoint::SystemCall`).
pub const SYSCALL_ENTRY: u64 = 7;
/// Where the kernel saves the program's registers: in the dispatcher
/// page of processor `cpu`, at `DISPATCHER_VA + cpu * 4096 + SAVE_OFFSET`.
pub const DISPATCHER_VA: u64 = 0x7d00_0000_0000;
/// See [`DISPATCHER_VA`].
pub const SAVE_OFFSET: u64 = 0x800;
/// The kernel's auxiliary-vector entry with the address of the
/// executable's absolute path (a script's interpreter), for
/// `/proc/self/exe` (`process::AT_K42_EXE` in the kernel).
pub const AT_K42_EXE: u32 = 0x4b42;
/// Auxiliary-vector entry of K42-rs: Unix time in nanoseconds at boot
/// (`process::AT_K42_EPOCH` in the kernel).
pub const AT_K42_EPOCH: u32 = 0x4b43;

/// The direct-branch vector (paper §10): a read-only page the library
/// maps at this fixed address, inside its own window, so a program built
/// for it (`include/k42-syslib.h`) can call the library without a trap.
/// Words: [`DIRECT_MAGIC`], the version (1), the address of
/// `long syscall(long nr, long a1, ..., long a6)` (SysV calling
/// convention, Linux's result: a value or `-errno`).
pub const DIRECT_VECTOR: u64 = 0x7fff_0000;
/// `"K42SYSLB"`, little-endian: word 0 of the vector.
pub const DIRECT_MAGIC: u64 = u64::from_le_bytes(*b"K42SYSLB");
/// Word 1 of the vector.
pub const DIRECT_VERSION: u64 = 1;

/// Words of the save area (the kernel's `TrapFrame`, in this order:
/// r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax,
/// vector, error, rip, cs, rflags, rsp, ss).
pub mod frame {
    /// `r10`: the fourth argument.
    pub const R10: usize = 5;
    /// `r9`: the sixth.
    pub const R9: usize = 6;
    /// `r8`: the fifth.
    pub const R8: usize = 7;
    /// `rdi`: the first.
    pub const RDI: usize = 9;
    /// `rsi`: the second.
    pub const RSI: usize = 10;
    /// `rdx`: the third.
    pub const RDX: usize = 11;
    /// `rax`: the number, then the result.
    pub const RAX: usize = 14;
    /// All of them.
    pub const WORDS: usize = 22;

    /// The number and the six arguments of the call in a save area.
    pub fn call(f: &[u64; WORDS]) -> (u64, [u64; 6]) {
        (f[RAX], [f[RDI], f[RSI], f[RDX], f[R10], f[R8], f[R9]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sched::native::{nr, EntryPoint};

    #[test]
    fn numbers_agree_with_the_sched_crate() {
        assert_eq!(SET_ENTRY_POINT, NATIVE | nr::SET_ENTRY_POINT);
        assert_eq!(EXIT, NATIVE | nr::EXIT_DISPATCHER);
        assert_eq!(KERNEL, nr::COUNT);
        assert_eq!(SYSCALL_ENTRY, EntryPoint::SystemCall as u64);
    }

    #[test]
    fn the_direct_vector_is_in_the_library_window() {
        use crate::mem::{reserved, LIBRARY_BASE, LIBRARY_END, PAGE};
        assert!(reserved(DIRECT_VECTOR, DIRECT_VECTOR + PAGE));
        let (base, end) = (core::hint::black_box(LIBRARY_BASE), LIBRARY_END);
        assert!(base < DIRECT_VECTOR && DIRECT_VECTOR + PAGE <= end);
        // The value the C header spells out.
        assert_eq!(core::hint::black_box(DIRECT_MAGIC), 0x424c_5359_5332_344b);
    }

    #[test]
    fn arguments_come_from_the_argument_registers() {
        let mut f = [0u64; frame::WORDS];
        for (i, w) in f.iter_mut().enumerate() {
            *w = 100 + i as u64;
        }
        // rax = 114; rdi, rsi, rdx, r10, r8, r9.
        assert_eq!(frame::call(&f), (114, [109, 110, 111, 105, 107, 106]));
    }
}

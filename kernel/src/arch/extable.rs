//! The exception table: instructions that are allowed to fault.
//!
//! Each entry pairs the address of a possibly faulting instruction with the
//! address to resume at. The entries live in the `.extable` linker section,
//! emitted next to the instruction by the inline assembly that owns it, as
//! Linux does. A fault at a listed instruction does not crash the kernel:
//! the trap handler writes the vector (plus one) to `rdx`, CR2 to `rcx` and
//! the error code to `rsi`, resumes at the fixup, and keeps a copy of the
//! frame for [`take_last`] (used by tests that check exception reports).
//!
//! [`probe_read_u64`] is the primitive: a read that returns an error
//! instead of faulting. Later, the user-copy helpers that turn bad user
//! pointers into `EFAULT` use the same mechanism.

use super::trap::TrapFrame;
use core::arch::asm;

/// A fault that was caught.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Exception vector (14 = page fault, 13 = general protection).
    pub vector: u8,
    /// Faulting address for page faults.
    pub address: u64,
    /// Error code.
    pub error: u64,
}

#[repr(C)]
struct Entry {
    insn: u64,
    fixup: u64,
}

/// The resume address for a fault at `rip`, if `rip` is listed.
pub fn fixup_for(rip: u64) -> Option<u64> {
    unsafe extern "C" {
        static __extable_start: Entry;
        static __extable_stop: Entry;
    }
    // SAFETY: the linker brackets the `.extable` section, which holds only
    // `Entry` records emitted by the asm below, with these two symbols.
    let table = unsafe {
        let start = core::ptr::addr_of!(__extable_start);
        let stop = core::ptr::addr_of!(__extable_stop);
        core::slice::from_raw_parts(start, stop.offset_from(start) as usize)
    };
    table.iter().find(|e| e.insn == rip).map(|e| e.fixup)
}

static LAST: spin::Mutex<[Option<(TrapFrame, u64)>; crate::arch::percpu::MAX_CPUS]> =
    spin::Mutex::new([None; crate::arch::percpu::MAX_CPUS]);

/// Called by the trap handler before resuming at a fixup.
pub fn record(frame: &mut TrapFrame, cr2: u64) {
    if let Some(mut last) = LAST.try_lock() {
        last[super::percpu::current_id()] = Some((*frame, cr2));
    }
    frame.rdx = frame.vector + 1;
    frame.rcx = cr2;
    frame.rsi = frame.error;
}

/// The frame and CR2 of the last fault caught on this processor.
pub fn take_last() -> Option<(TrapFrame, u64)> {
    LAST.lock()[super::percpu::current_id()].take()
}

/// Reads 8 bytes at `addr`, or reports the fault the read caused.
#[inline(never)]
pub fn probe_read_u64(addr: u64) -> Result<u64, Fault> {
    let value: u64;
    let status: u64;
    let cr2: u64;
    let error: u64;
    // SAFETY: the load may fault; the `.extable` entry makes the trap
    // handler resume at label 3 with rdx/rcx/rsi set instead of crashing.
    unsafe {
        asm!(
            "xor edx, edx",
            "2: mov rax, [rdi]",
            "3:",
            ".pushsection .extable, \"a\"",
            ".balign 8",
            ".quad 2b, 3b",
            ".popsection",
            in("rdi") addr,
            out("rax") value,
            out("rdx") status,
            out("rcx") cr2,
            out("rsi") error,
            options(nostack, readonly),
        );
    }
    if status == 0 {
        Ok(value)
    } else {
        Err(Fault {
            vector: (status - 1) as u8,
            address: cr2,
            error,
        })
    }
}

/// Writes 8 bytes at `addr`, or reports the fault the write caused.
#[inline(never)]
pub fn probe_write_u64(addr: u64, value: u64) -> Result<(), Fault> {
    let status: u64;
    let cr2: u64;
    let error: u64;
    // SAFETY: as in `probe_read_u64`: a fault resumes at label 3. The
    // caller names an address it may write (a user address of the active
    // space, in the tests) or one that faults.
    unsafe {
        asm!(
            "xor edx, edx",
            "2: mov [rdi], rax",
            "3:",
            ".pushsection .extable, \"a\"",
            ".balign 8",
            ".quad 2b, 3b",
            ".popsection",
            in("rdi") addr,
            in("rax") value,
            out("rdx") status,
            out("rcx") cr2,
            out("rsi") error,
            options(nostack),
        );
    }
    if status == 0 {
        Ok(())
    } else {
        Err(Fault {
            vector: (status - 1) as u8,
            address: cr2,
            error,
        })
    }
}

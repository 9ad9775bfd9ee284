//! Trap reflection: Linux system calls go to the process's system library
//! (K42's Linux personality, paper §10).
//!
//! A process whose system library registered a system-call entry point
//! (`set_entry_point(7, entry, 0)`) has every `syscall` with a number
//! below [`NATIVE`](super::NATIVE) (a Linux number) reflected: the kernel
//! writes the whole user frame (a `TrapFrame`, 22 words) into the save
//! area of this processor's dispatcher page ([`SAVE_OFFSET`]) and returns
//! to user mode at the entry point, with `rdi` = the save area and the
//! stack pointer below the program's red zone. The library performs the
//! call with native calls and PPCs, stores the result in the saved `rax`,
//! and calls `resume(save_area)`: the kernel reloads that frame (checked
//! like any return to user mode) and the program continues after its
//! `syscall` instruction. Native calls are never reflected.
//!
//! While the library handles a reflected call the dispatcher is
//! *disabled* (the flag in its dispatcher page, as during an upcall):
//! no interrupt upcall may reuse the save area under it. `resume` enables
//! it again. A frame that `sysret` cannot restore whole (one whose `rcx`
//! and `r11` are not the return address and flags, such as a program
//! interrupted by an upcall and now resumed) goes back through the run
//! loop and `iretq` (`dispatch::user_resume_full`).

use super::{Context, SyscallResult};
use crate::arch::trap::TrapFrame;
use crate::arch::uaccess::{copy_from_user, copy_to_user};
use crate::arch::{percpu, usermode};
use core::sync::atomic::Ordering;

/// Where the save area is in a dispatcher page.
pub const SAVE_OFFSET: u64 = 0x800;

const FRAME_BYTES: usize = core::mem::size_of::<TrapFrame>();

/// The frame as the save area holds it.
pub fn frame_bytes(f: &TrapFrame) -> [u8; FRAME_BYTES] {
    let words = [
        f.r15, f.r14, f.r13, f.r12, f.r11, f.r10, f.r9, f.r8, f.rbp, f.rdi, f.rsi, f.rdx, f.rcx,
        f.rbx, f.rax, f.vector, f.error, f.rip, f.cs, f.rflags, f.rsp, f.ss,
    ];
    let mut b = [0u8; FRAME_BYTES];
    for (i, w) in words.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    b
}

/// A frame from its save-area bytes.
pub fn frame_from_bytes(b: &[u8; FRAME_BYTES]) -> TrapFrame {
    let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    TrapFrame {
        r15: w(0),
        r14: w(1),
        r13: w(2),
        r12: w(3),
        r11: w(4),
        r10: w(5),
        r9: w(6),
        r8: w(7),
        rbp: w(8),
        rdi: w(9),
        rsi: w(10),
        rdx: w(11),
        rcx: w(12),
        rbx: w(13),
        rax: w(14),
        vector: w(15),
        error: w(16),
        rip: w(17),
        cs: w(18),
        rflags: w(19),
        rsp: w(20),
        ss: w(21),
    }
}

/// The system-call entry of the running process, if it has one.
pub fn entry() -> Option<u64> {
    let d = crate::dispatch::current()?;
    match d.process.syscall_entry.load(Ordering::Acquire) {
        0 => None,
        e => Some(e),
    }
}

/// Reflects the system call in `frame` to `entry`. On a bad save area (the
/// library unmapped its dispatcher page) the program is stopped.
pub fn reflect(frame: &mut TrapFrame, entry: u64) {
    let save = crate::ppc::DISPATCHER_VA + 4096 * percpu::current_id() as u64 + SAVE_OFFSET;
    let disabled = save - SAVE_OFFSET + crate::ppc::page::DISABLED;
    if copy_to_user(save, &frame_bytes(frame)).is_err()
        || copy_to_user(disabled, &1u64.to_le_bytes()).is_err()
    {
        log::warn!("system call reflection: the dispatcher page is gone: stopped");
        usermode::finish(128 + 11);
        return;
    }
    frame.rip = entry;
    frame.rdi = save;
    frame.rsp = ((frame.rsp.wrapping_sub(128)) & !15).wrapping_sub(8);
}

/// An upcall's start (the trap and page-fault entries): unless the
/// running dispatcher is disabled, saves `frame` in the save area of this
/// processor's dispatcher page, marks the dispatcher disabled, and makes
/// `frame` enter `entry` with `rdi` = the save area (the other argument
/// registers are the caller's to set) on the stack below the red zone.
/// False if the dispatcher is disabled or its page cannot be used.
pub fn upcall(frame: &mut TrapFrame, entry: u64) -> bool {
    let page = crate::ppc::page_of(percpu::current_id());
    let disabled = page + crate::ppc::page::DISABLED;
    let mut w = [0u8; 8];
    if copy_from_user(&mut w, disabled).is_err() || u64::from_le_bytes(w) != 0 {
        return false;
    }
    let save = page + SAVE_OFFSET;
    if copy_to_user(save, &frame_bytes(frame)).is_err()
        || copy_to_user(disabled, &1u64.to_le_bytes()).is_err()
    {
        return false;
    }
    frame.rip = entry;
    frame.rdi = save;
    frame.rsp = (frame.rsp.wrapping_sub(128) & !15).wrapping_sub(8);
    true
}

/// `resume(save_area, call)`: continues the program from a saved frame:
/// the caller's whole frame ([`Context::frame`]) is replaced, the
/// dispatcher is enabled again, and the value returned is the saved
/// `rax`. `call`, if not 0, is the number + 1 of the reflected Linux call
/// the frame returns from: its end goes to the trace (`syscall exit`,
/// after the `syscall enter` of its reflection), so a trace shows every
/// Linux call with its result, `-ENOSYS` for one the library lacks.
/// `-EFAULT` (to the library, its frame untouched) if the save area
/// cannot be read.
pub fn sys_resume(cx: &mut Context<'_>) -> SyscallResult {
    let mut b = [0u8; FRAME_BYTES];
    copy_from_user(&mut b, cx.args[0])?;
    let call = cx.args[1];
    let disabled = crate::ppc::page_of(percpu::current_id()) + crate::ppc::page::DISABLED;
    copy_to_user(disabled, &0u64.to_le_bytes())?;
    *cx.frame = frame_from_bytes(&b);
    if (1..=super::NATIVE).contains(&call) {
        ktrace::events::syscall::exit(&crate::trace::TRACER, call - 1, cx.frame.rax as i64);
    }
    if cx.frame.rcx != cx.frame.rip || cx.frame.r11 != cx.frame.rflags {
        crate::dispatch::user_resume_full();
    }
    Ok(cx.frame.rax)
}

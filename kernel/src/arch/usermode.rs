//! Entering and leaving user mode: `syscall`/`sysret`, the first entry by
//! `iretq`, the way back to the kernel when a program ends, FPU/SSE state
//! and the FS base.
//!
//! The kernel runs a user context from an ordinary kernel call,
//! [`run`]: it saves its callee-saved registers and stack pointer in the
//! per-processor record (`exit_rsp`), points the TSS's `rsp0` and the
//! `syscall` stack at the stack below them, and returns to user mode
//! through `trap_return`. Interrupts, exceptions and system calls from
//! user mode then build their [`TrapFrame`] on that stack. A handler that
//! decides the program is finished (the exit call, a fatal fault) calls
//! [`finish`]; the trap or system-call stub sees the flag on its way out
//! and, instead of returning to user mode, restores the saved kernel
//! registers, so [`run`] returns the exit status. No Rust frame is
//! abandoned on the way: the handlers return normally.
//!
//! `syscall` (enabled by `EFER.SCE`) enters at [`syscall_entry`] with
//! interrupts off (`SFMASK` clears IF, DF, TF, AC): `swapgs`, switch to the
//! kernel stack, push a `TrapFrame` (vector [`SYSCALL_VECTOR`]), and call
//! `crate::syscall::dispatch`. It returns by `sysretq`, with the return
//! address, flags and stack taken from the frame, which the dispatcher has
//! checked (a canonical user address; flags with IF set, IOPL 0). `int
//! 0x80` has a kernel-only gate, so it raises #GP and the program is
//! stopped with a message.
//!
//! The kernel is built without SSE (`x86_64-unknown-none` is soft-float),
//! so user FPU/SSE state is untouched while the kernel runs; it is saved
//! with `FXSAVE64` when the program leaves the processor and restored with
//! `FXRSTOR64` when it comes back ([`FpuState`]).

use super::gdt::{USER_CS, USER_DS};
use super::percpu;
use super::trap::TrapFrame;
use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use x86_64::registers::model_specific::{
    Efer, EferFlags, FsBase, KernelGsBase, LStar, SFMask, Star,
};
use x86_64::registers::rflags::RFlags;
use x86_64::structures::gdt::SegmentSelector;
use x86_64::VirtAddr;

/// The `vector` field of a frame built by `syscall_entry`.
pub const SYSCALL_VECTOR: u64 = 0x100;

/// Flags a user context may hold: CF PF AF ZF SF DF OF, and AC.
const USER_FLAGS: u64 = 0x0004_0cd5;

core::arch::global_asm!(
    r#"
    .section .text.usermode, "ax"
    .global syscall_entry
    .balign 16
syscall_entry:
    swapgs
    mov gs:[{user_rsp}], rsp
    mov rsp, gs:[{syscall_rsp}]
    push {user_ds}
    push qword ptr gs:[{user_rsp}]
    push r11
    push {user_cs}
    push rcx
    push 0
    push {vector}
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    cld
    call {dispatch}
    cmp qword ptr gs:[{exit_pending}], 0
    jne user_exit
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    mov rcx, [rsp + 16]
    mov r11, [rsp + 32]
    mov rsp, [rsp + 40]
    swapgs
    sysretq

    /* rdi: the TrapFrame to enter user mode with. Returns the exit status. */
    .global enter_user
    .balign 16
enter_user:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov gs:[{exit_rsp}], rsp
    /* Traps and system calls from user mode start on a 16-byte aligned
       stack below the saved registers (the System V ABI Rust relies on:
       a 22-word frame keeps the alignment for the call to the handler). */
    mov rcx, rsp
    and rcx, -16
    mov gs:[{syscall_rsp}], rcx
    mov rax, gs:[{tss_rsp0}]
    mov [rax], rcx
    sub rsp, {frame_size}
    mov rsi, rdi
    mov rdi, rsp
    mov rcx, {frame_words}
    rep movsq
    jmp trap_return

    /* A handler called `finish`: back to `enter_user`'s caller. */
    .global user_exit
user_exit:
    mov qword ptr gs:[{exit_pending}], 0
    mov rsi, rsp
    mov rdi, gs:[{save_frame}]
    mov rcx, {frame_words}
    rep movsq
    mov rsp, gs:[{exit_rsp}]
    mov qword ptr gs:[{exit_rsp}], 0
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    mov rax, gs:[{exit_status}]
    ret
"#,
    user_rsp = const percpu::OFF_USER_RSP,
    syscall_rsp = const percpu::OFF_SYSCALL_RSP,
    exit_rsp = const percpu::OFF_EXIT_RSP,
    exit_status = const percpu::OFF_EXIT_STATUS,
    exit_pending = const percpu::OFF_EXIT_PENDING,
    tss_rsp0 = const percpu::OFF_TSS_RSP0,
    save_frame = const percpu::OFF_SAVE_FRAME,
    user_ds = const USER_DS as u64,
    user_cs = const USER_CS as u64,
    vector = const SYSCALL_VECTOR,
    frame_size = const core::mem::size_of::<TrapFrame>(),
    frame_words = const core::mem::size_of::<TrapFrame>() / 8,
    dispatch = sym crate::syscall::dispatch,
);

unsafe extern "C" {
    fn syscall_entry();
    fn enter_user(frame: *const TrapFrame) -> u64;
}

/// Enables `syscall`, SSE and `FXSAVE` on this processor. Called once per
/// processor, after its per-processor record is installed.
pub fn init_cpu() {
    // SAFETY: the selectors match the GDT layout (`gdt` orders them for
    // `sysret`); the entry point is `syscall_entry`; enabling SSE and
    // FXSAVE only lets user code use them (the kernel is soft-float).
    unsafe {
        Star::write(
            SegmentSelector(USER_CS),
            SegmentSelector(USER_DS),
            SegmentSelector(super::gdt::KERNEL_CS),
            SegmentSelector(super::gdt::KERNEL_DS),
        )
        .expect("GDT layout fits sysret");
        LStar::write(VirtAddr::new(syscall_entry as *const () as u64));
        SFMask::write(
            RFlags::INTERRUPT_FLAG
                | RFlags::DIRECTION_FLAG
                | RFlags::TRAP_FLAG
                | RFlags::ALIGNMENT_CHECK
                | RFlags::NESTED_TASK,
        );
        Efer::update(|f| f.insert(EferFlags::SYSTEM_CALL_EXTENSIONS));
        Cr0::update(|f| {
            f.remove(Cr0Flags::EMULATE_COPROCESSOR);
            f.insert(Cr0Flags::MONITOR_COPROCESSOR);
        });
        Cr4::update(|f| f.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE));
    }
}

/// The FPU/SSE registers of a user context (`FXSAVE` format).
#[repr(C, align(16))]
pub struct FpuState([u8; 512]);

impl FpuState {
    /// The state after `FNINIT`, with MXCSR at its reset value (all SSE
    /// exceptions masked).
    pub fn new() -> Self {
        let mut s = FpuState([0; 512]);
        s.0[0..2].copy_from_slice(&0x037fu16.to_le_bytes()); // FCW
        s.0[24..28].copy_from_slice(&0x1f80u32.to_le_bytes()); // MXCSR
        s.0[28..32].copy_from_slice(&0xffffu32.to_le_bytes()); // MXCSR mask
        s
    }
}

impl Default for FpuState {
    fn default() -> Self {
        Self::new()
    }
}

/// A user context: registers, FS base and FPU state.
pub struct UserContext {
    /// General registers, instruction and stack pointer, flags.
    pub frame: TrapFrame,
    /// `IA32_FS_BASE` (thread pointer, `arch_prctl(ARCH_SET_FS)`).
    pub fs_base: u64,
    /// The user's GS base (`arch_prctl(ARCH_SET_GS)`). While the kernel
    /// runs it sits in `IA32_KERNEL_GS_BASE`; `swapgs` on the way out
    /// makes it the GS base.
    pub gs_base: u64,
    /// FPU/SSE registers.
    pub fpu: FpuState,
}

impl UserContext {
    /// A context that starts at `entry` with stack pointer `rsp`.
    pub fn new(entry: u64, rsp: u64) -> Self {
        UserContext {
            frame: TrapFrame {
                rip: entry,
                rsp,
                ..TrapFrame::default()
            },
            fs_base: 0,
            gs_base: 0,
            fpu: FpuState::new(),
        }
    }
}

/// Whether `frame` may be returned to by `sysret`/`iret` as user code:
/// makes its selectors and flags safe, and checks the instruction pointer
/// is a canonical user address (`sysret` to a non-canonical one faults in
/// kernel mode).
pub fn sanitize(frame: &mut TrapFrame) -> bool {
    frame.cs = u64::from(USER_CS);
    frame.ss = u64::from(USER_DS);
    frame.rflags = (frame.rflags & USER_FLAGS) | RFlags::INTERRUPT_FLAG.bits() | 0x2;
    frame.rip < ::mm::USER_END && frame.rsp <= ::mm::USER_END
}

/// Runs `ctx` in user mode on this processor until a handler calls
/// [`finish`]; returns the status given there, with the user registers
/// at that moment saved back into `ctx` (so a preempted context resumes
/// where it stopped). The caller has activated the address space
/// (`mm::user::Activation`).
pub fn run(ctx: &mut UserContext) -> u64 {
    if !sanitize(&mut ctx.frame) {
        return 128 + 11; // as if killed by SIGSEGV
    }
    let was_on = super::cpu::interrupts_enabled();
    super::cpu::disable_interrupts();
    // SAFETY: FXRSTOR64 reads 512 bytes from a 16-aligned `FpuState`
    // (whose reserved bits `FpuState::new` or an FXSAVE64 set validly).
    unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) ctx.fpu.0.as_ptr(), options(nostack)) };
    FsBase::write(VirtAddr::new(ctx.fs_base));
    KernelGsBase::write(VirtAddr::new(ctx.gs_base));
    percpu::current().save_frame.store(
        &mut ctx.frame as *mut TrapFrame as u64,
        core::sync::atomic::Ordering::Relaxed,
    );
    // SAFETY: `enter_user` saves the kernel's callee-saved registers,
    // enters user mode with the sanitized frame, and returns here, with
    // those registers restored, once a handler calls `finish`.
    let status = unsafe { enter_user(&ctx.frame) };
    // SAFETY: FXSAVE64 writes 512 bytes into the 16-aligned area.
    unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) ctx.fpu.0.as_mut_ptr(), options(nostack)) };
    ctx.fs_base = FsBase::read().as_u64();
    ctx.gs_base = KernelGsBase::read().as_u64();
    FsBase::write(VirtAddr::new(0));
    KernelGsBase::write(VirtAddr::new(0));
    if was_on {
        super::cpu::enable_interrupts();
    }
    status
}

/// Saves the FPU/SSE registers of the running user context (the kernel
/// does not use them, so they are the user's while a system call runs).
pub fn save_fpu(into: &mut FpuState) {
    // SAFETY: FXSAVE64 writes 512 bytes into the 16-aligned area.
    unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) into.0.as_mut_ptr(), options(nostack)) };
}

/// Sets the FS base of the running user context (`arch_prctl`).
pub fn set_fs_base(base: u64) {
    FsBase::write(VirtAddr::new(base));
}

/// Sets the GS base of the running user context (`arch_prctl`); it takes
/// effect when the context returns to user mode (`swapgs`).
pub fn set_gs_base(base: u64) {
    KernelGsBase::write(VirtAddr::new(base));
}

/// Ends the user context running on this processor: when the current trap
/// or system-call handler returns, [`run`] returns `status` instead of
/// user mode resuming. Call with interrupts off, from a handler of a trap
/// or system call that came from user mode.
pub fn finish(status: u64) {
    let pc = percpu::current();
    pc.exit_status
        .store(status, core::sync::atomic::Ordering::Relaxed);
    pc.exit_pending
        .store(1, core::sync::atomic::Ordering::Relaxed);
}

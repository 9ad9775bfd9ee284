//! The interrupt descriptor table and its 256 entry stubs.
//!
//! Stable Rust has no `extern "x86-interrupt"`, so every vector gets a
//! 16-byte stub in `global_asm!`: it pushes a zero error code where the CPU
//! pushes none, pushes the vector number and jumps to `trap_common`, which
//! saves the general registers into a [`TrapFrame`](super::trap::TrapFrame),
//! switches GS if the trap came from user mode, and calls
//! [`trap_dispatch`](super::trap::trap_dispatch). The stub of vector `v` is
//! at `trap_stubs + 16 * v`, so no address table is needed.

use super::gdt::{IST_DOUBLE_FAULT, IST_MACHINE_CHECK, IST_NMI, KERNEL_CS};
use spin::Once;
use x86_64::structures::DescriptorTablePointer;
use x86_64::VirtAddr;

core::arch::global_asm!(
    r#"
    .section .text.traps, "ax"
    .balign 16
    .global trap_stubs
trap_stubs:
    .irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122,123,124,125,126,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159,160,161,162,163,164,165,166,167,168,169,170,171,172,173,174,175,176,177,178,179,180,181,182,183,184,185,186,187,188,189,190,191,192,193,194,195,196,197,198,199,200,201,202,203,204,205,206,207,208,209,210,211,212,213,214,215,216,217,218,219,220,221,222,223,224,225,226,227,228,229,230,231,232,233,234,235,236,237,238,239,240,241,242,243,244,245,246,247,248,249,250,251,252,253,254,255
    .balign 16
    .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    .else
    pushq $0
    .endif
    pushq $\vec
    jmp trap_common
    .endr

    .balign 16
trap_common:
    /* [rsp] = vector, [rsp+8] = error, [rsp+16] = rip, [rsp+24] = cs */
    testb $3, 24(%rsp)
    jz 1f
    swapgs
1:  pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    cld
    call trap_dispatch
    /* A user context that a handler finished returns to the kernel. */
    testb $3, 144(%rsp)
    jz trap_return
    cmpq $0, %gs:{exit_pending}
    jne user_exit
    .global trap_return
trap_return:
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    testb $3, 24(%rsp)
    jz 2f
    swapgs
2:  addq $16, %rsp
    iretq
"#,
    exit_pending = const super::percpu::OFF_EXIT_PENDING,
    options(att_syntax)
);

/// An IDT gate descriptor.
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    attributes: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    fn interrupt(handler: u64, ist: u16, dpl: u8) -> Self {
        Self {
            offset_low: handler as u16,
            selector: KERNEL_CS,
            ist: ist as u8,
            attributes: 0x80 | (dpl << 5) | 0x0e, // present, 64-bit interrupt gate
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[repr(C, align(16))]
struct Idt([Gate; 256]);

static IDT: Once<Idt> = Once::new();

fn stub_address(vector: usize) -> u64 {
    unsafe extern "C" {
        static trap_stubs: u8;
    }
    let base = core::ptr::addr_of!(trap_stubs) as u64;
    base + 16 * vector as u64
}

/// Builds the IDT (once) and loads it on this processor.
pub fn load() {
    let idt = IDT.call_once(|| {
        let mut gates = [Gate::default(); 256];
        for (v, g) in gates.iter_mut().enumerate() {
            let ist = match v {
                2 => IST_NMI,
                8 => IST_DOUBLE_FAULT,
                18 => IST_MACHINE_CHECK,
                _ => 0,
            };
            // #BP may be raised from user mode (int3).
            let dpl = if v == 3 { 3 } else { 0 };
            *g = Gate::interrupt(stub_address(v), ist, dpl);
        }
        Idt(gates)
    });
    let ptr = DescriptorTablePointer {
        limit: (core::mem::size_of::<Idt>() - 1) as u16,
        base: VirtAddr::from_ptr(idt),
    };
    // SAFETY: the IDT is 'static and every gate points at a valid stub.
    unsafe { x86_64::instructions::tables::lidt(&ptr) };
}

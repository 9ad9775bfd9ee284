//! Starting the application processors.
//!
//! The boot processor copies a real-mode trampoline to physical
//! [`TRAMPOLINE`] (below 1 MiB, as STARTUP IPIs require), fills in its
//! parameter block (page-table root, stack, entry point, processor index)
//! and sends INIT, then STARTUP, to one processor at a time. The trampoline
//! goes from real mode straight to long mode (PAE, `EFER.LME`, then
//! `CR0.PE|PG` together), jumps to 64-bit code on an identity-mapped page,
//! loads the stack and calls [`ap_main`] in the higher half.
//!
//! Each processor is named in the boot log as it comes up. More processors
//! than [`MAX_CPUS`] are refused with a message; one that does not answer
//! within [`START_TIMEOUT_MS`] is reported and skipped.

use super::percpu::{self, MAX_CPUS};
use super::{apic, cpu, gdt, paging};
use crate::mm;
use core::sync::atomic::{AtomicBool, Ordering};

/// Physical address of the trampoline (STARTUP vector 0x08).
pub const TRAMPOLINE: u64 = 0x8000;
/// How long to wait for one processor.
pub const START_TIMEOUT_MS: u64 = 2000;
/// Kernel stack size of each processor.
pub const KERNEL_STACK_SIZE: usize = 64 * 1024;

core::arch::global_asm!(
    r#"
    .section .rodata.ap_trampoline, "a"
    .global ap_trampoline_start
    .global ap_trampoline_end
    .global ap_trampoline_params
    .code16
ap_trampoline_start:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    movl %cr4, %eax
    orl $0xa0, %eax                 /* PAE | PGE */
    movl %eax, %cr4
    movl 0x8000 + (tr_cr3 - ap_trampoline_start), %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    rdmsr
    orl $0x900, %eax                /* LME | NXE */
    wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax           /* PG | WP | PE */
    movl %eax, %cr0
    lgdtl 0x8000 + (tr_gdt_ptr - ap_trampoline_start)
    ljmpl $0x08, $(0x8000 + (tr_long - ap_trampoline_start))
    .code64
tr_long:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movq 0x8000 + (tr_stack - ap_trampoline_start), %rsp
    movq 0x8000 + (tr_arg - ap_trampoline_start), %rdi
    movq 0x8000 + (tr_entry - ap_trampoline_start), %rax
    xorl %ebp, %ebp
    call *%rax
    ud2
    .balign 8
tr_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
tr_gdt_ptr:
    .word 23
    .long 0x8000 + (tr_gdt - ap_trampoline_start)
    .balign 8
ap_trampoline_params:
tr_cr3:   .quad 0
tr_stack: .quad 0
tr_entry: .quad 0
tr_arg:   .quad 0
ap_trampoline_end:
    .code64
"#,
    options(att_syntax)
);

/// The trampoline's parameter block, at `ap_trampoline_params`.
#[repr(C)]
struct Params {
    cr3: u64,
    stack: u64,
    entry: u64,
    arg: u64,
}

static STARTED: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

fn trampoline_bytes() -> (&'static [u8], usize) {
    unsafe extern "C" {
        static ap_trampoline_start: u8;
        static ap_trampoline_end: u8;
        static ap_trampoline_params: u8;
    }
    // SAFETY: the three symbols bound the trampoline blob in .rodata.
    unsafe {
        let s = core::ptr::addr_of!(ap_trampoline_start);
        let e = core::ptr::addr_of!(ap_trampoline_end);
        let p = core::ptr::addr_of!(ap_trampoline_params);
        (
            core::slice::from_raw_parts(s, e.offset_from(s) as usize),
            p.offset_from(s) as usize,
        )
    }
}

/// Allocates the IST stacks and descriptor tables of a processor.
pub fn new_cpu_tables() -> gdt::CpuTables {
    let ist = [(); 3].map(|_| mm::stacks::alloc(gdt::IST_STACK_SIZE).top);
    gdt::CpuTables::new(ist)
}

/// Starts every enabled processor in `apic_ids` other than the boot one.
/// Returns how many are online in all, the boot processor included.
pub fn start_aps(apic_ids: &[u32]) -> usize {
    let bsp_apic = apic::id();
    let others: alloc::vec::Vec<u32> = apic_ids
        .iter()
        .copied()
        .filter(|&a| a != bsp_apic)
        .collect();
    if others.len() + 1 > MAX_CPUS {
        log::warn!(
            "the machine has {} processors; K42-rs supports {MAX_CPUS}: processors beyond {MAX_CPUS} are not started",
            others.len() + 1
        );
    }
    if others.is_empty() {
        return 1;
    }
    let (blob, params_off) = trampoline_bytes();
    paging::map_identity_exec(TRAMPOLINE);
    let tramp = mm::phys_to_virt(TRAMPOLINE) as *mut u8;
    // SAFETY: the first MiB is reserved from the frame allocator, so the
    // trampoline page is ours; it is mapped in the direct map.
    unsafe { core::ptr::copy_nonoverlapping(blob.as_ptr(), tramp, blob.len()) };
    // SAFETY: the parameter block lies inside the copied blob, 8-aligned.
    let params = unsafe { &mut *(tramp.add(params_off) as *mut Params) };

    let mut index = 1;
    for &apic_id in others.iter().take(MAX_CPUS - 1) {
        let stack = mm::stacks::alloc(KERNEL_STACK_SIZE);
        let pc = percpu::new(apic_id, new_cpu_tables());
        params.cr3 = paging::kernel_pml4();
        params.stack = stack.top.as_u64();
        params.entry = ap_main as *const () as u64;
        params.arg = (pc as *mut percpu::PerCpu as u64 & ((1 << 56) - 1)) | (index as u64) << 56;
        core::sync::atomic::fence(Ordering::SeqCst);

        apic::send_init(apic_id);
        crate::time::delay_us(10_000);
        apic::send_startup(apic_id, (TRAMPOLINE >> 12) as u8);
        if !wait_started(index, 2) {
            apic::send_startup(apic_id, (TRAMPOLINE >> 12) as u8);
        }
        if wait_started(index, START_TIMEOUT_MS) {
            index += 1;
        } else {
            log::error!(
                "cpu{index}: apic id {apic_id} did not start within {START_TIMEOUT_MS} ms; skipped"
            );
        }
    }
    paging::unmap_identity(TRAMPOLINE);
    percpu::online()
}

fn wait_started(index: usize, ms: u64) -> bool {
    let deadline = crate::time::now_ns() + ms * 1_000_000;
    while crate::time::now_ns() < deadline {
        if STARTED[index].load(Ordering::Acquire) {
            return true;
        }
        cpu::spin_hint();
    }
    STARTED[index].load(Ordering::Acquire)
}

/// First Rust code on an application processor. `arg` carries the address
/// of its `PerCpu` (low 56 bits, a canonical kernel address once the top
/// byte is restored) and its index (top 8 bits).
extern "C" fn ap_main(arg: u64) -> ! {
    let index = (arg >> 56) as usize;
    let ptr = (arg & ((1 << 56) - 1)) | (0xff << 56);
    // SAFETY: the boot processor leaked this record for us and touches it
    // no more until we mark ourselves started.
    let pc: &'static mut percpu::PerCpu = unsafe { &mut *(ptr as *mut percpu::PerCpu) };
    pc.tables.load();
    super::idt::load();
    let apic_id = pc.apic_id;
    percpu::install(pc, index);
    super::usermode::init_cpu();
    apic::enable_this_cpu();
    apic::start_timer();
    crate::log_banner_cpu(index, apic_id);
    STARTED[index].store(true, Ordering::Release);
    crate::idle_loop()
}

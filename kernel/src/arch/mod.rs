//! The x86-64 platform layer: the only part of the kernel that speaks to the
//! hardware directly, and where most of its `unsafe` lives.
//!
//! | module      | owns |
//! |-------------|------|
//! | [`boot`]    | PVH entry, 32-to-64-bit trampoline, boot page tables |
//! | [`cpu`]     | CPU identification, control registers, TSC, halting |
//! | [`serial`]  | the COM1 16550 UART |
//! | [`gdt`]     | per-processor GDT and TSS with IST stacks |
//! | [`idt`]     | the IDT and the 256 entry stubs |
//! | [`trap`]    | the trap frame, dispatch, and exception reports |
//! | [`extable`] | recoverable faults: instructions allowed to fault |
//! | [`paging`]  | the kernel's page tables: direct map, W^X image, MMIO |
//! | [`percpu`]  | per-processor data through the GS base |
//! | [`apic`]    | local APIC (xAPIC, MMIO), its timer and IPIs; 8259 masking |
//! | [`pit`]     | the 8254 PIT, used once to calibrate the APIC timer and TSC |
//! | [`smp`]     | starting application processors (INIT-SIPI-SIPI) |
//! | [`power`]   | ACPI power-off and QEMU's `isa-debug-exit` |
//! | [`usermode`] | `syscall`/`sysret`, entering and leaving user mode, FPU state, FS base |
//! | [`uaccess`] | copies to and from user memory that turn bad pointers into errors |

pub mod apic;
mod boot;
pub mod cpu;
pub mod extable;
pub mod gdt;
pub mod idt;
pub mod paging;
pub mod percpu;
pub mod pit;
pub mod power;
pub mod rtc;
pub mod serial;
pub mod smp;
pub mod trap;
pub mod uaccess;
pub mod usermode;

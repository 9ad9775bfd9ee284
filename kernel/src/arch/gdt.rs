//! Per-processor GDT and TSS.
//!
//! Each processor has its own GDT because the TSS descriptor points at its
//! own TSS, which holds its interrupt stacks. Selector layout (fixed, and
//! ordered for `syscall`/`sysret`):
//!
//! | selector | segment |
//! |----------|---------|
//! | `0x08`   | kernel code (64-bit) |
//! | `0x10`   | kernel data |
//! | `0x18`   | user data (`0x1b` with RPL 3) |
//! | `0x20`   | user code, 64-bit (`0x23` with RPL 3) |
//! | `0x28`   | TSS (two slots) |
//!
//! The IST stacks catch the exceptions that must not run on a possibly
//! broken stack: double fault (a kernel stack overflow ends there), NMI and
//! machine check.

use alloc::boxed::Box;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

/// Kernel code selector.
pub const KERNEL_CS: u16 = 0x08;
/// Kernel data selector.
pub const KERNEL_DS: u16 = 0x10;
/// User data selector, RPL 3.
pub const USER_DS: u16 = 0x1b;
/// User code selector, RPL 3.
pub const USER_CS: u16 = 0x23;

/// IST slot (1-based, as in the IDT) of the double-fault stack.
pub const IST_DOUBLE_FAULT: u16 = 1;
/// IST slot of the NMI stack.
pub const IST_NMI: u16 = 2;
/// IST slot of the machine-check stack.
pub const IST_MACHINE_CHECK: u16 = 3;

/// Size of each IST stack.
pub const IST_STACK_SIZE: usize = 16 * 1024;

/// One processor's descriptor tables.
pub struct CpuTables {
    /// The GDT.
    pub gdt: &'static GlobalDescriptorTable,
    tss_selector: SegmentSelector,
    tss: &'static TaskStateSegment,
}

impl CpuTables {
    /// Builds a GDT and TSS for one processor; `ist_tops` are the tops of
    /// its three IST stacks. Any processor may build them; the owner loads
    /// them with [`CpuTables::load`].
    pub fn new(ist_tops: [VirtAddr; 3]) -> Self {
        let mut tss = TaskStateSegment::new();
        for (i, top) in ist_tops.iter().enumerate() {
            tss.interrupt_stack_table[i] = *top;
        }
        let tss: &'static TaskStateSegment = Box::leak(Box::new(tss));
        let gdt: &'static mut GlobalDescriptorTable =
            Box::leak(Box::new(GlobalDescriptorTable::new()));
        let kcode = gdt.append(Descriptor::kernel_code_segment());
        let kdata = gdt.append(Descriptor::kernel_data_segment());
        let udata = gdt.append(Descriptor::user_data_segment());
        let ucode = gdt.append(Descriptor::user_code_segment());
        let tss_selector = gdt.append(Descriptor::tss_segment(tss));
        debug_assert_eq!(kcode.0, KERNEL_CS);
        debug_assert_eq!(kdata.0, KERNEL_DS);
        debug_assert_eq!(udata.0, USER_DS);
        debug_assert_eq!(ucode.0, USER_CS);
        Self {
            gdt,
            tss_selector,
            tss,
        }
    }

    /// Address of the TSS's `rsp0`: the stack a trap from user mode
    /// starts on. `usermode` writes it on each entry to user mode (the
    /// TSS is read by the CPU only on such traps).
    pub fn tss_rsp0(&self) -> u64 {
        core::ptr::addr_of!(self.tss.privilege_stack_table[0]) as u64
    }

    /// Loads the GDT and TSS on this processor and reloads the segment
    /// registers.
    pub fn load(&self) {
        self.gdt.load();
        // SAFETY: the selectors index the GDT just loaded, with the right
        // types; the TSS descriptor is unused (busy bit clear) until now.
        unsafe {
            CS::set_reg(SegmentSelector(KERNEL_CS));
            DS::set_reg(SegmentSelector(KERNEL_DS));
            ES::set_reg(SegmentSelector(KERNEL_DS));
            SS::set_reg(SegmentSelector(KERNEL_DS));
            load_tss(self.tss_selector);
        }
    }
}

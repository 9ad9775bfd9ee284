//! Kernel memory: the virtual layout, physical frames, kernel stacks and
//! the bootstrap heap.
//!
//! Virtual layout (48-bit, 4-level paging):
//!
//! | range start              | what |
//! |--------------------------|------|
//! | `0x0000_0000_0000_0000`  | user space: one per address space ([`user`]), below `mm::USER_END` |
//! | [`PHYS_OFFSET`]          | direct map of RAM, 2 MiB pages, no-execute |
//! | [`MMIO_BASE`]            | device registers, uncached |
//! | [`SCRATCH_BASE`]         | test mappings |
//! | [`STACKS_BASE`]          | kernel stacks, each below an unmapped guard page |
//! | [`KERNEL_BASE`]          | the kernel image (W^X), linked at 1 MiB physical |

pub mod frames;
pub mod heap;
mod shared_tests;
pub mod stacks;
pub mod upcall;
pub mod user;
mod user_tests;

/// Virtual address of physical address 0 in the direct map.
pub const PHYS_OFFSET: u64 = 0xffff_8000_0000_0000;
/// Start of the MMIO window.
pub const MMIO_BASE: u64 = 0xffff_c000_0000_0000;
/// Start of the scratch window used by tests.
pub const SCRATCH_BASE: u64 = 0xffff_d000_0000_0000;
/// Start of the kernel-stack window.
pub const STACKS_BASE: u64 = 0xffff_e000_0000_0000;
/// Virtual address of physical address 0 in the kernel image mapping.
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;

/// The direct-map address of physical address `pa`.
pub const fn phys_to_virt(pa: u64) -> u64 {
    PHYS_OFFSET + pa
}

/// The physical address of kernel-image address `va`.
pub const fn image_virt_to_phys(va: u64) -> u64 {
    va - KERNEL_BASE
}

/// Linker symbols bounding the kernel image's sections.
pub mod image {
    macro_rules! linker_symbols {
        ($($fn_name:ident => $sym:ident),* $(,)?) => {
            unsafe extern "C" { $( static $sym: u8; )* }
            $(
                #[doc = concat!("Address of `", stringify!($sym), "`.")]
                pub fn $fn_name() -> u64 {
                    core::ptr::addr_of!($sym) as u64
                }
            )*
        };
    }
    linker_symbols! {
        boot_start => __boot_start,
        text_start => __text_start,
        text_end => __text_end,
        rodata_start => __rodata_start,
        rodata_end => __rodata_end,
        data_start => __data_start,
        kernel_end => __kernel_end,
        ksyms_start => __ksyms_start,
        ksyms_end => __ksyms_end,
    }
}

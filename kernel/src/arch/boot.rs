//! The PVH entry: from QEMU's 32-bit protected mode to Rust in 64-bit long
//! mode, in the higher half.
//!
//! QEMU `-kernel` reads the `XEN_ELFNOTE_PHYS32_ENTRY` note (type 18, owner
//! "Xen") and jumps to the 32-bit address it holds with paging off and
//! `ebx` = physical address of `hvm_start_info`. The trampoline below:
//!
//! 1. builds boot page tables in `.boot.data`: 2 MiB pages mapping the
//!    first GiB twice, at 0 (identity, for this code) and at
//!    `KERNEL_BASE` (for the kernel proper);
//! 2. enables PAE, long mode, no-execute and write protection, and paging;
//! 3. far-jumps to 64-bit code, then jumps to the higher half, zeroes
//!    `.bss`, sets up the boot stack and calls [`crate::kmain`].
//!
//! Rust then builds the real page tables ([`crate::arch::paging`]) and drops
//! the identity map. No bootloader binary is involved.

core::arch::global_asm!(
    r#"
    .set BOOT_STACK_SIZE, 65536

    /* The PVH note. The descriptor is a 64-bit value, as Linux writes it:
       QEMU reads the entry address as a machine word. */
    .section .note.Xen, "a", @note
    .balign 4
    .long 4
    .long 8
    .long 18
    .asciz "Xen"
    .balign 4
    .quad pvh_start32
    .balign 4

    .section .boot.text, "ax"
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    /* ebx = hvm_start_info; keep it in ebx until 64-bit code. */

    /* PD: 512 x 2 MiB pages covering the first GiB. */
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax                 /* present | writable | huge */
    movl %eax, boot_pd(,%ecx,8)
    movl $0, boot_pd+4(,%ecx,8)
    incl %ecx
    cmpl $512, %ecx
    jne 1b

    movl $boot_pd, %eax
    orl $3, %eax
    movl %eax, boot_pdpt_lo         /* PDPT_lo[0]   -> PD (identity)      */
    movl %eax, boot_pdpt_hi+510*8   /* PDPT_hi[510] -> PD (KERNEL_BASE)   */
    movl $boot_pdpt_lo, %eax
    orl $3, %eax
    movl %eax, boot_pml4
    movl $boot_pdpt_hi, %eax
    orl $3, %eax
    movl %eax, boot_pml4+511*8

    movl %cr4, %eax
    orl $0x20, %eax                 /* PAE */
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx          /* IA32_EFER */
    rdmsr
    orl $0x900, %eax                /* LME | NXE */
    wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax           /* PG | WP | PE */
    movl %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $pvh_start64

    .code64
pvh_start64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movl %ebx, %r12d                /* zero-extends: start info address */
    movabsq $higher_half, %rax
    jmp *%rax

    .section .boot.data, "aw"
    .balign 4096
    .global boot_pml4
boot_pml4:    .fill 512, 8, 0
boot_pdpt_lo: .fill 512, 8, 0
boot_pdpt_hi: .fill 512, 8, 0
boot_pd:      .fill 512, 8, 0
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff        /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: data */
boot_gdt_ptr:
    .word boot_gdt_ptr - boot_gdt - 1
    .long boot_gdt

    .section .text.boot64, "ax"
higher_half:
    movabsq $__bss_start, %rdi
    movabsq $__bss_end, %rcx
    subq %rdi, %rcx
    xorl %eax, %eax
    rep stosb
    movabsq $boot_stack_top, %rsp
    xorl %ebp, %ebp
    movq %r12, %rdi
    call kmain
    ud2

    .section .bss.boot_stack, "aw", @nobits
    .balign 4096
    .global boot_stack_bottom
boot_stack_bottom:
    .skip BOOT_STACK_SIZE
    .global boot_stack_top
boot_stack_top:
"#,
    options(att_syntax)
);

//! Processor basics: interrupts, halting, the TSC, CPU identification.

use core::arch::x86_64::{__cpuid, _rdtsc};

pub use x86_64::instructions::interrupts::{
    are_enabled as interrupts_enabled, disable as disable_interrupts, enable as enable_interrupts,
    without_interrupts,
};

/// Reads the time-stamp counter.
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: `rdtsc` has no side effects; every x86-64 CPU has it.
    unsafe { _rdtsc() }
}

/// Waits for the next interrupt with interrupts enabled, atomically
/// (`sti; hlt`), so a wake-up cannot be lost between the two.
#[inline]
pub fn idle_wait() {
    x86_64::instructions::interrupts::enable_and_hlt();
}

/// Stops this processor for good.
pub fn halt_forever() -> ! {
    loop {
        disable_interrupts();
        x86_64::instructions::hlt();
    }
}

/// Hints a spin-wait loop.
#[inline]
pub fn spin_hint() {
    core::hint::spin_loop();
}

/// The CPU brand string, e.g. "QEMU TCG CPU version 2.5+".
pub fn brand(buf: &mut [u8; 48]) -> &str {
    let max = __cpuid(0x8000_0000).eax;
    if max < 0x8000_0004 {
        return "unknown x86-64";
    }
    for (i, leaf) in (0x8000_0002u32..=0x8000_0004).enumerate() {
        let r = __cpuid(leaf);
        for (j, reg) in [r.eax, r.ebx, r.ecx, r.edx].iter().enumerate() {
            buf[i * 16 + j * 4..i * 16 + j * 4 + 4].copy_from_slice(&reg.to_le_bytes());
        }
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(48);
    core::str::from_utf8(&buf[..end]).unwrap_or("x86-64").trim()
}

/// Whether the CPU has an invariant TSC (CPUID 0x8000_0007 EDX bit 8).
pub fn has_invariant_tsc() -> bool {
    let max = __cpuid(0x8000_0000).eax;
    max >= 0x8000_0007 && __cpuid(0x8000_0007).edx & (1 << 8) != 0
}

//! Leaving the machine: ACPI soft power-off and QEMU's `isa-debug-exit`.

use core::sync::atomic::{AtomicU32, Ordering};
use x86_64::instructions::port::Port;

static PM1A_CONTROL: AtomicU32 = AtomicU32::new(0);

/// Remembers the PM1a control port from the FADT.
pub fn set_pm1a_control(port: u32) {
    PM1A_CONTROL.store(port, Ordering::Relaxed);
}

/// Powers the machine off through ACPI (QEMU then exits with status 0).
/// Falls back to halting if the FADT gave no port.
pub fn power_off() -> ! {
    let port = PM1A_CONTROL.load(Ordering::Relaxed);
    if port != 0 && port <= 0xffff {
        // SLP_TYP = 0 (QEMU's \_S5) | SLP_EN.
        // SAFETY: the FADT names this port as the PM1a control block.
        unsafe { Port::<u16>::new(port as u16).write(1 << 13) };
        // QEMU acts on the request at its next main-loop iteration.
        crate::time::delay_us(500_000);
    }
    log::error!("ACPI power-off did not take effect; halting");
    super::cpu::halt_forever()
}

/// Exits QEMU through `isa-debug-exit` (iobase 0xf4): QEMU's status is
/// `(code << 1) | 1`. Without that device this does nothing and we halt.
pub fn qemu_exit(code: u8) -> ! {
    // SAFETY: port 0xf4 is QEMU's debug-exit device or unused.
    unsafe { Port::<u32>::new(0xf4).write(u32::from(code)) };
    super::cpu::halt_forever()
}

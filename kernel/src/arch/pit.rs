//! The 8254 PIT, used once at boot as the reference clock that calibrates
//! the APIC timer and the TSC. Channel 2 is gated through port `0x61` and
//! polled, so no interrupt is involved.

use x86_64::instructions::port::Port;

const PIT_HZ: u64 = 1_193_182;

/// Runs `start` and measures 10 ms of PIT time; returns the TSC at the
/// start and at the end.
pub fn measure_10ms(start: impl FnOnce()) -> (u64, u64) {
    let count = (PIT_HZ / 100) as u16;
    let mut gate = Port::<u8>::new(0x61);
    let mut cmd = Port::<u8>::new(0x43);
    let mut ch2 = Port::<u8>::new(0x42);
    // SAFETY: PIT channel 2 and the speaker gate are fixed legacy ports that
    // nothing else in the kernel uses.
    unsafe {
        let g = gate.read();
        gate.write((g & !0x02) | 0x01); // gate high, speaker off
        cmd.write(0xb0); // channel 2, lobyte/hibyte, mode 0 (count down once)
        ch2.write(count as u8);
        ch2.write((count >> 8) as u8);
        // Restart the count by toggling the gate.
        let g = gate.read();
        gate.write(g & !0x01);
        gate.write(g | 0x01);
    }
    start();
    let t0 = super::cpu::rdtsc();
    // SAFETY: reading the gate/status port is side-effect free.
    while unsafe { gate.read() } & 0x20 == 0 {
        core::hint::spin_loop();
    }
    (t0, super::cpu::rdtsc())
}

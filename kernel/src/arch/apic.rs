//! The local APIC in xAPIC (memory-mapped) mode: timer, IPIs, EOI.
//!
//! QEMU 7.2 under TCG emulates the xAPIC but not the x2APIC, so registers
//! are 32-bit MMIO at the address from the MADT (normally `0xfee00000`),
//! mapped uncached by [`super::paging::map_mmio`]. The legacy 8259 PICs are
//! remapped to vectors `0x20..0x30` and masked; the APIC timer ticks every
//! processor at [`TICK_HZ`], calibrated once against the PIT.

use super::{paging, pit};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use x86_64::instructions::port::Port;

/// The periodic tick rate.
pub const TICK_HZ: u64 = 100;

/// Vector of the APIC timer.
pub const TIMER_VECTOR: u8 = 0x30;
/// Vector of the "run a function" IPI.
pub const IPI_CALL_VECTOR: u8 = 0xf0;
/// Vector of the "stop now" IPI, sent by a panicking processor.
pub const IPI_STOP_VECTOR: u8 = 0xf1;
/// The spurious-interrupt vector.
pub const SPURIOUS_VECTOR: u8 = 0xff;

const REG_ID: usize = 0x20;
const REG_TPR: usize = 0x80;
const REG_EOI: usize = 0xb0;
const REG_SVR: usize = 0xf0;
const REG_ESR: usize = 0x280;
const REG_ICR_LOW: usize = 0x300;
const REG_ICR_HIGH: usize = 0x310;
const REG_LVT_TIMER: usize = 0x320;
const REG_LVT_LINT0: usize = 0x350;
const REG_LVT_ERROR: usize = 0x370;
const REG_TIMER_INIT: usize = 0x380;
const REG_TIMER_CURRENT: usize = 0x390;
const REG_TIMER_DIVIDE: usize = 0x3e0;

const LVT_MASKED: u32 = 1 << 16;
const LVT_PERIODIC: u32 = 1 << 17;

static BASE: AtomicU64 = AtomicU64::new(0);
static TIMER_COUNT: AtomicU32 = AtomicU32::new(0);

fn reg(off: usize) -> *mut u32 {
    let base = BASE.load(Ordering::Relaxed);
    debug_assert!(base != 0, "local APIC used before init");
    (base as usize + off) as *mut u32
}

fn read(off: usize) -> u32 {
    // SAFETY: `reg` points into the uncached APIC page mapped by `init`.
    unsafe { reg(off).read_volatile() }
}

fn write(off: usize, v: u32) {
    // SAFETY: as in `read`; APIC registers accept 32-bit writes.
    unsafe { reg(off).write_volatile(v) }
}

/// Remaps the 8259 PICs away from the exception vectors and masks them.
fn disable_8259() {
    let io = |port: u16, v: u8| {
        // SAFETY: standard 8259 initialisation sequence on its fixed ports.
        unsafe { Port::<u8>::new(port).write(v) }
    };
    io(0x20, 0x11);
    io(0xa0, 0x11);
    io(0x21, 0x20);
    io(0xa1, 0x28);
    io(0x21, 0x04);
    io(0xa1, 0x02);
    io(0x21, 0x01);
    io(0xa1, 0x01);
    io(0x21, 0xff);
    io(0xa1, 0xff);
}

/// Maps the APIC, masks the PICs and enables this (the boot) processor's
/// APIC. Returns the boot processor's APIC id.
pub fn init_bsp(phys: u64) -> u32 {
    let va = paging::map_mmio(phys, 4096);
    BASE.store(va.as_u64(), Ordering::Relaxed);
    disable_8259();
    enable_this_cpu();
    id()
}

/// Enables this processor's APIC and masks its legacy LVT inputs.
pub fn enable_this_cpu() {
    write(REG_TPR, 0);
    write(REG_LVT_LINT0, LVT_MASKED);
    write(REG_LVT_ERROR, LVT_MASKED);
    write(REG_SVR, 0x100 | u32::from(SPURIOUS_VECTOR));
    write(REG_ESR, 0);
}

/// This processor's APIC id.
pub fn id() -> u32 {
    read(REG_ID) >> 24
}

/// Signals end of interrupt.
pub fn eoi() {
    write(REG_EOI, 0);
}

/// Calibrates the APIC timer and the TSC against the PIT (10 ms), on the
/// boot processor. Returns the TSC frequency in Hz.
pub fn calibrate() -> u64 {
    write(REG_TIMER_DIVIDE, 0x3); // divide by 16
    write(REG_LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
    let (tsc0, tsc1) = pit::measure_10ms(|| write(REG_TIMER_INIT, u32::MAX));
    let elapsed = u32::MAX - read(REG_TIMER_CURRENT);
    write(REG_TIMER_INIT, 0);
    let per_tick = (u64::from(elapsed) * 100 / TICK_HZ).max(1) as u32;
    TIMER_COUNT.store(per_tick, Ordering::Relaxed);
    (tsc1 - tsc0) * 100
}

/// Starts this processor's periodic tick.
pub fn start_timer() {
    write(REG_TIMER_DIVIDE, 0x3);
    write(REG_LVT_TIMER, LVT_PERIODIC | u32::from(TIMER_VECTOR));
    write(REG_TIMER_INIT, TIMER_COUNT.load(Ordering::Relaxed));
}

fn wait_icr_idle() {
    while read(REG_ICR_LOW) & (1 << 12) != 0 {
        core::hint::spin_loop();
    }
}

fn send_icr(apic_id: u32, low: u32) {
    super::cpu::without_interrupts(|| {
        wait_icr_idle();
        write(REG_ICR_HIGH, apic_id << 24);
        write(REG_ICR_LOW, low);
        wait_icr_idle();
    });
}

/// Sends a fixed interrupt `vector` to the processor with `apic_id`.
pub fn send_ipi(apic_id: u32, vector: u8) {
    send_icr(apic_id, u32::from(vector) | (1 << 14));
}

/// Sends `vector` to every processor but this one.
pub fn send_ipi_all_but_self(vector: u8) {
    send_icr(0, u32::from(vector) | (1 << 14) | (3 << 18));
}

/// INIT (assert), the first step of starting a processor.
pub fn send_init(apic_id: u32) {
    send_icr(apic_id, 0x4500);
}

/// STARTUP with the trampoline at physical page `page` (address / 4096).
pub fn send_startup(apic_id: u32, page: u8) {
    send_icr(apic_id, 0x4600 | u32::from(page));
}

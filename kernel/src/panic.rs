//! The end of the line: panics and fatal exceptions.
//!
//! Both print a report (message or decoded exception, registers, backtrace
//! with symbols), stop the other processors with an IPI, tell the test
//! harness which test died (if one was running), and leave QEMU with a
//! failure status through `isa-debug-exit`. A second panic while reporting
//! (or on another processor) halts quietly instead of garbling the report.

use crate::arch::{apic, cpu, power, trap::TrapFrame};
use crate::console::{force_write, PanicWriter};
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);
static SMP_UP: AtomicBool = AtomicBool::new(false);

/// Called once application processors are running, so a panic stops them.
pub fn smp_is_up() {
    SMP_UP.store(true, Ordering::Release);
}

fn begin() {
    cpu::disable_interrupts();
    if PANICKING.swap(true, Ordering::AcqRel) {
        cpu::halt_forever();
    }
    if SMP_UP.load(Ordering::Acquire) {
        apic::send_ipi_all_but_self(apic::IPI_STOP_VECTOR);
    }
}

fn finish(summary: core::fmt::Arguments<'_>) -> ! {
    crate::ktests::report_failure(summary);
    power::qemu_exit(ktest::protocol::EXIT_PANIC)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    begin();
    let cpu = crate::arch::percpu::current_id();
    let loc = info.location();
    force_write(format_args!(
        "\n!!! PANIC on cpu {cpu}: {}\n    at {}:{}\n    backtrace:\n",
        info.message(),
        loc.map_or("?", |l| l.file()),
        loc.map_or(0, |l| l.line()),
    ));
    let rbp = crate::backtrace::current_frame_pointer();
    let _ = crate::backtrace::write_backtrace(&mut PanicWriter, 0, rbp);
    crate::trace::flush_before_fatal();
    finish(format_args!(
        "panicked at {}:{}: {}",
        loc.map_or("?", |l| l.file()),
        loc.map_or(0, |l| l.line()),
        info.message()
    ))
}

/// An exception with no recovery point.
pub fn fatal_exception(frame: &TrapFrame, cr2: u64) -> ! {
    begin();
    force_write(format_args!("\n"));
    let _ = crate::arch::trap::write_report(&mut PanicWriter, frame, cr2);
    let (mn, name) = crate::arch::trap::exception_name(frame.vector);
    finish(format_args!(
        "exception {mn} ({name}) at rip {:#x}, cr2 {cr2:#x}",
        frame.rip
    ))
}

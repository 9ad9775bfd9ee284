//! Trap dispatch and exception reports.
//!
//! Every vector arrives in [`trap_dispatch`] with a [`TrapFrame`]. Hardware
//! interrupts go to their handlers; an exception first looks for a recovery
//! point in the [exception table](super::extable) (an instruction allowed
//! to fault, such as a probe of a possibly unmapped address); otherwise it
//! is fatal, and [`write_report`] describes it: vector and name, decoded
//! error code, RIP with its symbol, CR2, all registers, and a backtrace by
//! frame pointers with symbol names.

use super::{apic, extable, percpu};
use core::fmt::{self, Write};

/// The registers saved on every trap, in the order `trap_common` pushes
/// them (lowest address first).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// Vector number, pushed by the stub.
    pub vector: u64,
    /// Error code (0 where the CPU pushes none).
    pub error: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

impl TrapFrame {
    /// Whether the trap came from user mode.
    pub fn is_user(&self) -> bool {
        self.cs & 3 == 3
    }
}

/// Mnemonic and name of exception `v`.
pub fn exception_name(v: u64) -> (&'static str, &'static str) {
    match v {
        0 => ("#DE", "divide error"),
        1 => ("#DB", "debug"),
        2 => ("NMI", "non-maskable interrupt"),
        3 => ("#BP", "breakpoint"),
        4 => ("#OF", "overflow"),
        5 => ("#BR", "bound range exceeded"),
        6 => ("#UD", "invalid opcode"),
        7 => ("#NM", "device not available"),
        8 => ("#DF", "double fault"),
        10 => ("#TS", "invalid TSS"),
        11 => ("#NP", "segment not present"),
        12 => ("#SS", "stack-segment fault"),
        13 => ("#GP", "general protection fault"),
        14 => ("#PF", "page fault"),
        16 => ("#MF", "x87 floating-point error"),
        17 => ("#AC", "alignment check"),
        18 => ("#MC", "machine check"),
        19 => ("#XM", "SIMD floating-point error"),
        20 => ("#VE", "virtualization exception"),
        21 => ("#CP", "control protection"),
        _ => ("#??", "reserved exception"),
    }
}

/// Writes a readable decoding of an exception's error code.
fn write_error_code(w: &mut dyn Write, vector: u64, err: u64) -> fmt::Result {
    match vector {
        14 => {
            let bit = |b: u32, on: &'static str, off: &'static str| {
                if err & (1 << b) != 0 {
                    on
                } else {
                    off
                }
            };
            write!(
                w,
                "[{}, {}, {}{}{}]",
                bit(0, "protection violation", "not-present"),
                bit(1, "write", "read"),
                bit(2, "user", "kernel"),
                bit(4, ", instruction fetch", ""),
                bit(3, ", reserved bit set", "")
            )
        }
        10 | 11 | 12 | 13 | 17 if err != 0 => write!(
            w,
            "[{} selector index {:#x}{}]",
            match (err >> 1) & 3 {
                0 => "GDT",
                1 | 3 => "IDT",
                _ => "LDT",
            },
            (err >> 3) & 0x1fff,
            if err & 1 != 0 { ", external" } else { "" }
        ),
        _ => Ok(()),
    }
}

/// Writes the full report of an exception.
pub fn write_report(w: &mut dyn Write, f: &TrapFrame, cr2: u64) -> fmt::Result {
    let (mn, name) = exception_name(f.vector);
    writeln!(
        w,
        "!!! EXCEPTION {mn} ({name}, vector {}) on cpu {} in {} mode",
        f.vector,
        percpu::current_id(),
        if f.is_user() { "user" } else { "kernel" }
    )?;
    write!(w, "    error code {:#x} ", f.error)?;
    write_error_code(w, f.vector, f.error)?;
    writeln!(w)?;
    write!(w, "    RIP {:#018x} ", f.rip)?;
    crate::backtrace::write_symbol(w, f.rip)?;
    writeln!(w)?;
    writeln!(
        w,
        "    CR2 {cr2:#018x}  CS {:#06x}  SS {:#06x}  RFLAGS {:#010x}",
        f.cs, f.ss, f.rflags
    )?;
    let regs = [
        ("RAX", f.rax),
        ("RBX", f.rbx),
        ("RCX", f.rcx),
        ("RDX", f.rdx),
        ("RSI", f.rsi),
        ("RDI", f.rdi),
        ("RBP", f.rbp),
        ("RSP", f.rsp),
        ("R8 ", f.r8),
        ("R9 ", f.r9),
        ("R10", f.r10),
        ("R11", f.r11),
        ("R12", f.r12),
        ("R13", f.r13),
        ("R14", f.r14),
        ("R15", f.r15),
    ];
    for row in regs.chunks(4) {
        write!(w, "   ")?;
        for (n, v) in row {
            write!(w, " {n} {v:#018x}")?;
        }
        writeln!(w)?;
    }
    writeln!(w, "    backtrace:")?;
    crate::backtrace::write_backtrace(w, f.rip, f.rbp)
}

fn exception(frame: &mut TrapFrame) {
    let cr2 = x86_64::registers::control::Cr2::read_raw();
    let t = &crate::trace::TRACER;
    if frame.vector == 14 {
        ktrace::events::pagefault::enter(t, cr2, frame.rip, frame.error as u32);
    } else {
        ktrace::events::exception::enter(t, frame.vector as u8, frame.error, frame.rip);
    }
    // A fault at a user address: the active address space's objects
    // resolve it (zero-fill, copy-on-write, ...), then the access retries.
    let mut why = None;
    if frame.vector == 14 && cr2 < ::mm::USER_END {
        let interrupts_were_on = frame.rflags & (1 << 9) != 0;
        match crate::mm::user::page_fault(cr2, frame.error, interrupts_were_on) {
            Ok(()) => {
                ktrace::events::pagefault::exit(t, cr2, true);
                return;
            }
            // The page is being read: the program's page-fault upcall, or
            // its dispatcher waits in the kernel (`mm::upcall`).
            Err(::mm::MmError::Pending(io)) if frame.is_user() => {
                if crate::mm::upcall::user_fault(frame, io, cr2) {
                    ktrace::events::pagefault::exit(t, cr2, false);
                    return;
                }
                why = Some(::mm::MmError::Pending(io));
            }
            // A kernel access (a system call's copy): EFAULT below.
            Err(::mm::MmError::Pending(io)) => crate::mm::upcall::abandon(io),
            Err(e) => why = Some(e),
        }
    }
    if frame.is_user() {
        user_exception(frame, cr2, why);
        return;
    }
    if let Some(fixup) = extable::fixup_for(frame.rip) {
        extable::record(frame, cr2);
        frame.rip = fixup;
        // Caught by a recovery point: handled, but no page was mapped.
        if frame.vector == 14 {
            ktrace::events::pagefault::exit(t, cr2, false);
        } else {
            ktrace::events::exception::exit(t, frame.vector as u8);
        }
        return;
    }
    crate::trace::flush_before_fatal();
    crate::panic::fatal_exception(frame, cr2);
}

/// An exception in user mode the kernel cannot resolve: the program is
/// stopped with a one-line report, and `usermode::run` returns 128 + the
/// signal Linux would send. `why`: what the address space said of a
/// page fault.
fn user_exception(frame: &mut TrapFrame, cr2: u64, why: Option<::mm::MmError>) {
    let (mnemonic, name) = exception_name(frame.vector);
    let int80 = frame.vector == 13 && (frame.error == 0x80 * 8 + 2 || frame.error == 0x80 * 16 + 2);
    // A process with a trap entry point handles its own exceptions (the
    // system library turns them into signals).
    if !int80 && crate::dispatch::user_trap(frame, cr2) {
        if frame.vector == 14 {
            ktrace::events::pagefault::exit(&crate::trace::TRACER, cr2, false);
        }
        return;
    }
    let signal = match frame.vector {
        0 | 16 | 19 => 8, // SIGFPE
        1 | 3 => 5,       // SIGTRAP
        6 => 4,           // SIGILL
        17 => 7,          // SIGBUS
        _ => 11,          // SIGSEGV
    };
    // `int n` through a kernel-only gate: #GP with the IDT bit and the
    // vector in the error code: n * 8 + 2 on hardware, n * 16 + 2 from
    // QEMU's TCG (it counts 16-byte gates).
    if int80 {
        log::warn!(
            "user program at {:#x} used `int 0x80`, which K42-rs does not support (use `syscall`): stopped",
            frame.rip
        );
    } else if frame.vector == 14 {
        log::warn!(
            "user program: {mnemonic} ({name}) at {cr2:#x}, rip {:#x}, error {:#x} ({}): stopped (signal {signal})",
            frame.rip,
            frame.error,
            FaultWhy(why)
        );
    } else {
        log::warn!(
            "user program: {mnemonic} ({name}) at rip {:#x}, error {:#x}: stopped (signal {signal})",
            frame.rip,
            frame.error
        );
    }
    if frame.vector == 14 {
        ktrace::events::pagefault::exit(&crate::trace::TRACER, cr2, false);
    }
    super::usermode::finish(128 + signal);
}

/// A page fault's reason in a report: the address space's error, or
/// "outside user memory".
struct FaultWhy(Option<::mm::MmError>);

impl core::fmt::Display for FaultWhy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.0 {
            Some(e) => write!(f, "{e:?}"),
            None => f.write_str("outside user memory"),
        }
    }
}

/// Rust side of every trap; called by `trap_common` with interrupts off.
#[no_mangle]
extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    if frame.vector >= 32 {
        percpu::current()
            .interrupts
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        ktrace::events::interrupt::enter(&crate::trace::TRACER, frame.vector as u8);
    }
    match frame.vector {
        0..=31 => exception(frame),
        v if v == u64::from(apic::TIMER_VECTOR) => {
            apic::eoi();
            crate::time::tick();
            if frame.is_user() {
                crate::dispatch::user_tick();
            }
        }
        v if v == u64::from(apic::IPI_CALL_VECTOR) => {
            apic::eoi();
            crate::ipi::handle_ipi();
            if frame.is_user() {
                crate::dispatch::leave_if_killed();
            }
        }
        v if v == u64::from(apic::IPI_STOP_VECTOR) => super::cpu::halt_forever(),
        v if v == u64::from(apic::SPURIOUS_VECTOR) => {}
        0x20..=0x2f => {} // spurious IRQ from the masked 8259s
        v => {
            apic::eoi();
            log::warn!("unexpected interrupt, vector {v:#x}");
        }
    }
    if frame.vector >= 32 {
        ktrace::events::interrupt::exit(&crate::trace::TRACER, frame.vector as u8);
    }
}

ktest::ktest! {
    /// A deliberate page fault inside a test is caught, and its report
    /// decodes it: vector, error code, CR2, symbolised RIP and backtrace.
    fn exception_page_fault_is_caught_and_reported() {
        use alloc::string::String;
        let addr = 0x0000_5000_dead_0000u64; // user half: nothing mapped
        let fault = extable::probe_read_u64(addr).unwrap_err();
        assert_eq!((fault.vector, fault.address), (14, addr));
        assert_eq!(fault.error & 0b111, 0, "kernel read of a not-present page");
        let (frame, cr2) = extable::take_last().expect("fault frame recorded");
        let mut report = String::new();
        write_report(&mut report, &frame, cr2).unwrap();
        for needle in [
            "EXCEPTION #PF (page fault, vector 14)",
            "[not-present, read, kernel]",
            &alloc::format!("CR2 {addr:#018x}"),
            "probe_read_u64",
            "exception_page_fault_is_caught_and_reported",
            "RAX ",
            "R15 ",
        ] {
            assert!(report.contains(needle), "report lacks {needle:?}:\n{report}");
        }
    }

    /// A non-canonical address raises #GP, which is caught as well.
    fn exception_general_protection_is_caught() {
        let fault = extable::probe_read_u64(0x8000_0000_0000_0000).unwrap_err();
        assert_eq!(fault.vector, 13);
        let (frame, _) = extable::take_last().unwrap();
        let mut report = alloc::string::String::new();
        write_report(&mut report, &frame, 0).unwrap();
        assert!(report.contains("#GP (general protection fault"), "{report}");
    }

    /// Every exception vector has a name, and page-fault error codes decode.
    fn exception_names_and_error_codes() {
        for v in [0u64, 6, 8, 13, 14, 18] {
            assert_ne!(exception_name(v).0, "#??", "vector {v}");
        }
        let mut s = alloc::string::String::new();
        write_error_code(&mut s, 14, 0b10111).unwrap();
        assert_eq!(s, "[protection violation, write, user, instruction fetch]");
    }
}

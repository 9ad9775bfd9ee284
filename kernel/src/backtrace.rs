//! Backtraces by frame pointers, with names from the embedded symbol table.
//!
//! The kernel is built with `-C force-frame-pointers=yes`, so each frame
//! starts with `[saved rbp, return address]`. The walk reads the chain with
//! [`probe_read_u64`](crate::arch::extable::probe_read_u64), so a corrupt
//! chain ends the backtrace instead of faulting inside the report. Names
//! come from the `.ksyms` section that `cargo xtask build` fills in.

use core::fmt::{self, Write};

/// Deepest backtrace printed.
pub const MAX_FRAMES: usize = 32;

/// Room for the symbol table; `cargo xtask build` fails clearly if the
/// kernel outgrows it.
pub const KSYMS_CAPACITY: usize = 768 * 1024;

/// The reserved section `cargo xtask build` writes the table into.
#[used]
#[link_section = ".ksyms"]
static KSYMS: [u8; KSYMS_CAPACITY] = [0; KSYMS_CAPACITY];

/// The kernel's symbol table, if `cargo xtask build` embedded one.
pub fn symbols() -> Option<ksyms::Table<'static>> {
    use crate::mm::image;
    let (start, end) = (image::ksyms_start(), image::ksyms_end());
    // SAFETY: the linker brackets the read-only `.ksyms` section with these
    // symbols; it is mapped as part of the kernel image.
    let bytes = unsafe { core::slice::from_raw_parts(start as *const u8, (end - start) as usize) };
    ksyms::Table::parse(bytes)
}

/// Writes `<name+0xoff>` for `addr`, or `<?>`.
pub fn write_symbol(w: &mut dyn Write, addr: u64) -> fmt::Result {
    match symbols().and_then(|t| t.lookup(addr)) {
        Some((name, off)) => write!(w, "<{name}+{off:#x}>"),
        None => write!(w, "<?>"),
    }
}

/// The caller's frame pointer.
#[inline(always)]
pub fn current_frame_pointer() -> u64 {
    let rbp: u64;
    // SAFETY: reads a register.
    unsafe {
        core::arch::asm!("mov {}, rbp", out(reg) rbp, options(nomem, nostack, preserves_flags))
    };
    rbp
}

fn is_kernel_stack_address(a: u64) -> bool {
    a >= crate::mm::PHYS_OFFSET && a.is_multiple_of(8)
}

/// Writes a backtrace starting at `rip` with frame pointer `rbp`.
pub fn write_backtrace(w: &mut dyn Write, rip: u64, mut rbp: u64) -> fmt::Result {
    use crate::arch::extable::probe_read_u64;
    if rip != 0 {
        write!(w, "      #0  {rip:#018x} ")?;
        write_symbol(w, rip)?;
        writeln!(w)?;
    }
    for depth in 1..MAX_FRAMES {
        if !is_kernel_stack_address(rbp) {
            break;
        }
        let (Ok(next), Ok(ret)) = (probe_read_u64(rbp), probe_read_u64(rbp + 8)) else {
            writeln!(w, "      (frame chain unreadable at {rbp:#x})")?;
            break;
        };
        if ret == 0 {
            break;
        }
        write!(w, "      #{depth:<2} {ret:#018x} ")?;
        // Name the call instruction, not the one after it.
        write_symbol(w, ret - 1)?;
        writeln!(w)?;
        if next <= rbp {
            break;
        }
        rbp = next;
    }
    Ok(())
}

ktest::ktest! {
    /// The embedded symbol table names kernel functions.
    fn ksyms_names_kernel_functions() {
        let table = symbols().expect("xtask embeds a symbol table");
        assert!(table.len() > 100, "only {} symbols", table.len());
        let addr = crate::kmain as *const () as u64;
        let (name, off) = table.lookup(addr + 1).expect("kmain is in the table");
        assert_eq!((name, off), ("kmain", 1));
    }

    /// A backtrace from here names this test function's callers.
    fn backtrace_names_callers() {
        let mut s = alloc::string::String::new();
        write_backtrace(&mut s, current_rip(), current_frame_pointer()).unwrap();
        assert!(s.contains("backtrace_names_callers"), "{s}");
        assert!(s.contains("kernel::ktests::run"), "{s}");
    }
}

#[inline(always)]
fn current_rip() -> u64 {
    let rip: u64;
    // SAFETY: reads the instruction pointer.
    unsafe {
        core::arch::asm!("lea {}, [rip]", out(reg) rip, options(nomem, nostack, preserves_flags))
    };
    rip
}

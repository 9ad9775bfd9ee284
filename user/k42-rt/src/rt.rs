//! The program's start, its console output and its panic handler.

use crate::{sys, Args};

/// Called by the `_start` that [`entry!`](crate::entry) defines: sets up
/// the heap, reads the arguments, runs `main` and exits with its value.
///
/// # Safety
/// Called once, by `_start`, with the initial stack pointer.
pub unsafe fn start(sp: *const u64, main: fn(Args) -> u64) -> ! {
    crate::heap::init();
    // SAFETY: the kernel built a SysV initial stack at `sp`.
    let args = unsafe { Args::from_stack(sp) };
    // SAFETY: the same stack: argc, argv, NULL, envp, NULL, then the
    // auxiliary vector's (type, value) pairs up to AT_NULL.
    unsafe {
        let argc = *sp as usize;
        let mut p = sp.add(argc + 2);
        while *p != 0 {
            p = p.add(1);
        }
        p = p.add(1);
        for _ in 0..64 {
            match (*p, *p.add(1)) {
                (0, _) => break,
                (AT_K42_EPOCH, v) => sys::set_epoch(v),
                _ => {}
            }
            p = p.add(2);
        }
    }
    sys::exit(main(args))
}

/// The kernel's auxiliary-vector entry with the Unix time at boot (its
/// `process::AT_K42_EPOCH`).
const AT_K42_EPOCH: u64 = 0x4b43;

/// Backs [`print!`](crate::print): formats in 256-byte chunks straight
/// to the console call.
pub fn print(args: core::fmt::Arguments<'_>) {
    let mut w = crate::fmt::Chunked::<_, 256>::new(|b: &[u8]| {
        let _ = sys::console_write(b);
    });
    let _ = core::fmt::Write::write_fmt(&mut w, args);
}

/// Prints through the kernel's console call.
#[macro_export]
macro_rules! print {
    ($($t:tt)*) => { $crate::rt::print(format_args!($($t)*)) };
}

/// [`print!`] with a newline.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($t:tt)*) => { $crate::rt::print(format_args!("{}\n", format_args!($($t)*))) };
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::println!("panic: {info}");
    sys::exit(101)
}

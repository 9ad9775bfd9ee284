//! The serial console: `print!`/`println!` and the `log` backend.
//!
//! All output goes through one interrupt-safe lock so lines from different
//! processors do not interleave. Log lines carry the time since boot and
//! the processor: `[    0.012345] cpu1 INFO  message`. The panic path
//! uses [`force_write`], which does not wait for a lock another (stopped)
//! processor may hold.

use crate::arch::{percpu, serial::COM1_UART};
use crate::sync::IrqMutex;
use core::fmt::{self, Write};

static LOCK: IrqMutex<()> = IrqMutex::new(());

struct Serial;

impl Write for Serial {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        COM1_UART.write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Writes formatted text to the console under the console lock.
pub fn write_fmt(args: fmt::Arguments<'_>) {
    let _g = LOCK.lock();
    let _ = Serial.write_fmt(args);
}

/// Writes without taking the lock, for the panic path; tries the lock
/// briefly first so normal output is not torn.
pub fn force_write(args: fmt::Arguments<'_>) {
    for _ in 0..100_000 {
        if let Some(_g) = LOCK.try_lock() {
            let _ = Serial.write_fmt(args);
            return;
        }
        core::hint::spin_loop();
    }
    let _ = Serial.write_fmt(args);
}

/// A `fmt::Write` for the panic path.
pub struct PanicWriter;

impl Write for PanicWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        COM1_UART.write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Prints to the serial console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!($($arg)*)) };
}

/// Prints a line to the serial console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}

struct Logger;

static LOGGER: Logger = Logger;

impl log::Log for Logger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let ns = crate::time::now_ns();
        write_fmt(format_args!(
            "[{:5}.{:06}] cpu{} {:<5} {}\n",
            ns / 1_000_000_000,
            (ns / 1000) % 1_000_000,
            percpu::current_id(),
            r.level(),
            r.args()
        ));
    }

    fn flush(&self) {}
}

/// Installs the logger; `level` comes from the `loglevel=` command line.
pub fn init_logger(level: log::LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

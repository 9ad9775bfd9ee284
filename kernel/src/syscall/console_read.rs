//! `console_read(buf, len)`: the bytes typed on the serial console so far
//! (at most `len`), without waiting: 0 when there are none, `-ENODEV`
//! when nobody can type (a boot that runs tests or the difftest suite:
//! only the monitor opens the console for input, [`open_input`]), `-EIO`
//! for a process in a background group of the session whose controlling
//! terminal the console is (job control: its library raises `SIGTTIN`;
//! `terminal.rs`). A debugging call, until a console server owns the
//! keyboard: the system library's terminal (`read` on the console, with
//! its line discipline) polls it, sleeping between tries, and reads end
//! of file on `-ENODEV`.
//!
//! Every typed byte passes [`typed`] first, which recognises the
//! characters that raise signals (`^C`: `SIGINT` to the foreground group,
//! `terminal::signal_for`); the rest waits in a queue for a reader. The
//! serial port is drained into it by every read and, so that `^C` works
//! while nobody reads (a shell waiting for its foreground job), once per
//! timer tick by the run loop ([`poll`]). Tests type with [`push_input`]
//! instead of the serial port.

use alloc::collections::VecDeque;

use core::sync::atomic::{AtomicBool, Ordering};

use super::{terminal, Context, Errno, SyscallResult};
use crate::arch::serial::COM1_UART;
use crate::arch::uaccess::copy_to_user;

/// Longest read, per call.
const MAX: usize = 256;

/// Typed input not read yet.
static INPUT: spin::Mutex<VecDeque<u8>> = spin::Mutex::new(VecDeque::new());

/// Held while draining the serial port (one processor at a time reads
/// its receive register).
static DRAINING: spin::Mutex<()> = spin::Mutex::new(());

/// Whether someone may type on the serial console.
static OPEN: AtomicBool = AtomicBool::new(false);

/// From now on the serial console is read (the monitor, interactive).
pub fn open_input() {
    OPEN.store(true, Ordering::Release);
}

/// Queues `bytes` as if typed (a test's keyboard), signal characters
/// included.
pub fn push_input(bytes: &[u8]) {
    for &b in bytes {
        typed(b);
    }
}

/// One typed byte: a signal character goes to the console's foreground
/// group (echoed as `^C`, the unread input thrown away, as the settings
/// say); anything else is queued for a reader.
pub fn typed(b: u8) {
    let Some(t) = terminal::signal_for(b) else {
        INPUT.lock().push_back(b);
        return;
    };
    if t.flush {
        INPUT.lock().clear();
    }
    if t.echo {
        let echo = [b'^', (b ^ 0x40) & 0x7f];
        let text = core::str::from_utf8(&echo).unwrap_or("^?");
        if !crate::process::captured(text) {
            crate::print!("{text}");
        }
    }
    terminal::signal_foreground(t.sig);
}

/// Moves what was typed on the serial port into the queue (through
/// [`typed`]), if the console is open for input and no other processor
/// is doing it. The run loop calls it once per tick.
pub fn poll() {
    if !OPEN.load(Ordering::Acquire) {
        return;
    }
    let Some(_g) = DRAINING.try_lock() else {
        return;
    };
    while let Some(b) = COM1_UART.try_get() {
        typed(b);
    }
}

/// The handler.
pub fn sys_console_read(cx: &mut Context<'_>) -> SyscallResult {
    let (buf, len) = (cx.args[0], (cx.args[1] as usize).min(MAX));
    if crate::dispatch::current().is_some_and(|d| terminal::background(&d.process)) {
        return Err(Errno::Eio);
    }
    poll();
    let mut bytes = [0u8; MAX];
    let mut n = 0;
    {
        let mut q = INPUT.lock();
        while n < len {
            let Some(b) = q.pop_front() else {
                break;
            };
            bytes[n] = b;
            n += 1;
        }
    }
    if n == 0 && !OPEN.load(Ordering::Acquire) {
        return Err(Errno::Enodev);
    }
    if n > 0 {
        if let Err(e) = copy_to_user(buf, &bytes[..n]) {
            // Not lost: back at the front, in order.
            let mut q = INPUT.lock();
            for &b in bytes[..n].iter().rev() {
                q.push_front(b);
            }
            return Err(e.into());
        }
    }
    Ok(n as u64)
}

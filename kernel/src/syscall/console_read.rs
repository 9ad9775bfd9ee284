//! `console_read(buf, len)`: the bytes typed on the serial console so far
//! (at most `len`), without waiting: 0 when there are none, `-ENODEV`
//! when nobody can type (a boot that runs tests or the difftest suite:
//! only the monitor opens the console for input, [`open_input`]). A
//! debugging call, until a console server owns the keyboard: the system
//! library's terminal (`read` on the console, with its line discipline)
//! polls it, sleeping between tries, and reads end of file on `-ENODEV`.
//!
//! Tests feed it with [`push_input`] instead of the serial port.

use alloc::collections::VecDeque;

use core::sync::atomic::{AtomicBool, Ordering};

use super::{Context, Errno, SyscallResult};
use crate::arch::serial::COM1_UART;
use crate::arch::uaccess::copy_to_user;

/// Longest read, per call.
const MAX: usize = 256;

/// Input queued by tests, read before the serial port.
static INPUT: spin::Mutex<VecDeque<u8>> = spin::Mutex::new(VecDeque::new());

/// Whether someone may type on the serial console.
static OPEN: AtomicBool = AtomicBool::new(false);

/// From now on the serial console is read (the monitor, interactive).
pub fn open_input() {
    OPEN.store(true, Ordering::Release);
}

/// Queues `bytes` as if typed (a test's keyboard).
pub fn push_input(bytes: &[u8]) {
    INPUT.lock().extend(bytes);
}

/// The handler.
pub fn sys_console_read(cx: &mut Context<'_>) -> SyscallResult {
    let (buf, len) = (cx.args[0], (cx.args[1] as usize).min(MAX));
    let mut bytes = [0u8; MAX];
    let mut n = 0;
    let open = OPEN.load(Ordering::Acquire);
    {
        let mut q = INPUT.lock();
        while n < len {
            let typed = || if open { COM1_UART.try_get() } else { None };
            let Some(b) = q.pop_front().or_else(typed) else {
                break;
            };
            bytes[n] = b;
            n += 1;
        }
    }
    if n == 0 && !open {
        return Err(Errno::Enodev);
    }
    if n > 0 {
        copy_to_user(buf, &bytes[..n])?;
    }
    Ok(n as u64)
}

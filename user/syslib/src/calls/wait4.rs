//! `wait4(pid, wstatus, options, rusage)`: waits for a child to end
//! (`pid` > 0: that child; -1 or 0: any), stores its status in Linux's
//! encoding (`code << 8` for an exit, the signal number for a fault:
//! the kernel reports a fault as 128 + signal), and returns its id.
//! `WNOHANG` returns 0 while children run; `WUNTRACED` and `WCONTINUED`
//! report a child's stop (`(sig << 8) | 0x7f`) and continuation
//! (`0xffff`); `rusage` is zeroed. `pid` 0
//! waits for a child in the caller's process group, `pid` < -1 for one in
//! group `-pid` (the kernel keeps the groups).
//!
//! While it waits, a signal to act on interrupts it (`EINTR`, or a
//! restart after a handler with `SA_RESTART`: `signal::ERESTARTSYS`).
//! With `SIGCHLD` set to `SIG_IGN`, ended children are not kept for the
//! parent (Linux reaps them itself): they are collected and forgotten
//! here, and the call waits on until `ECHILD`.

use crate::signal::{self, sig::SIGCHLD, ERESTARTSYS};
use crate::{Ctx, Errno, SysResult};

const WNOHANG: u64 = 1;
const WUNTRACED: u64 = 2;
const WCONTINUED: u64 = 8;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, wstatus, options, rusage) = (a[0] as i32, a[1], a[2], a[3]);
    // The kernel's choice: a pid, 0 (any), or a process group (negative).
    let want = match pid {
        -1 => 0,
        0 => match ctx.native.process_group(0, 0, 0) {
            Ok(g) => (g as i32).wrapping_neg() as u32,
            Err(_) => 0,
        },
        p => p as u32,
    };
    loop {
        match ctx
            .native
            .wait_child_options(want, options & (WUNTRACED | WCONTINUED))
        {
            Ok((_, status))
                if status < 0x1000 && ctx.st.actions[SIGCHLD as usize - 1].handler == 1 =>
            {
                continue
            }
            Ok((child, status)) => {
                let encoded: u32 = match status {
                    0x2000 => 0xffff,
                    s if s & 0x1000 != 0 => (((s & 0xff) as u32) << 8) | 0x7f,
                    129..=192 => (status - 128) as u32,
                    s => ((s & 0xff) as u32) << 8,
                };
                if wstatus != 0 {
                    ctx.write_user(wstatus, &encoded.to_le_bytes())?;
                }
                if rusage != 0 {
                    ctx.write_user(rusage, &[0u8; 144])?;
                }
                return Ok(u64::from(child));
            }
            Err(e) if e == Errno::EAGAIN => {
                if options & WNOHANG != 0 {
                    return Ok(0);
                }
                if signal::wait(ctx) {
                    return Err(ERESTARTSYS);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

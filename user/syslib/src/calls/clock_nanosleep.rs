//! `clock_nanosleep(clock, flags, req, rem)`: `nanosleep` on a clock
//! (every clock the library has is the same monotonic one); with
//! `TIMER_ABSTIME` until `req` on that clock. CPU-time clocks are
//! `EINVAL` (Linux refuses the calling thread's; the process's would need
//! its CPU time).

use super::clock_gettime::now;
use super::nanosleep::{sleep_until, timespec};
use crate::{Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (clock, flags) = (a[0] as u32, a[1] as u32);
    match clock {
        g::CLOCK_REALTIME | g::CLOCK_MONOTONIC | g::CLOCK_BOOTTIME | g::CLOCK_TAI => {}
        _ => return Err(Errno::EINVAL),
    }
    let ns = timespec(ctx, a[2])?;
    let absolute = flags & g::TIMER_ABSTIME != 0;
    let deadline = if absolute {
        ns
    } else {
        now(ctx).saturating_add(ns)
    };
    match sleep_until(ctx, deadline) {
        Ok(()) => Ok(0),
        Err((e, left)) => {
            if a[3] != 0 && !absolute {
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&(left / 1_000_000_000).to_le_bytes());
                b[8..].copy_from_slice(&(left % 1_000_000_000).to_le_bytes());
                ctx.write_user(a[3], &b)?;
            }
            Err(e)
        }
    }
}

//! `nanosleep(req, rem)`: sleeps at least `req` (the kernel's futex
//! timeout, one tick of resolution); `EINVAL` for a negative or
//! unnormalized time; interrupted by a signal, `EINTR` with the time left
//! in `rem` (if not NULL).

use super::clock_gettime::now;
use crate::{Ctx, Errno, SysResult};

/// Reads a `struct timespec` as nanoseconds (`EINVAL` if malformed).
pub fn timespec(ctx: &Ctx<'_>, at: u64) -> Result<u64, Errno> {
    let (sec, nsec) = (ctx.read_u64(at)? as i64, ctx.read_u64(at + 8)? as i64);
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(nsec as u64))
}

/// Sleeps until `deadline` on the library's clock; `EINTR` (the time
/// left) if a signal to act on came first (other soft interrupts, such as
/// an ignored signal or a child's end, do not end the sleep:
/// `signal::interrupted`).
pub fn sleep_until(ctx: &mut Ctx<'_>, deadline: u64) -> Result<(), (Errno, u64)> {
    loop {
        let t = now(ctx);
        if t >= deadline {
            return Ok(());
        }
        match crate::threads::sleep(ctx, deadline - t) {
            Ok(()) => {}
            Err(e) if e.0 == linux_raw_sys::errno::EINTR && !crate::signal::interrupted(ctx) => {}
            Err(e) => return Err((e, deadline.saturating_sub(now(ctx)))),
        }
    }
}

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let ns = timespec(ctx, a[0])?;
    let deadline = now(ctx).saturating_add(ns);
    match sleep_until(ctx, deadline) {
        Ok(()) => Ok(0),
        Err((e, left)) => {
            if a[1] != 0 {
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&(left / 1_000_000_000).to_le_bytes());
                b[8..].copy_from_slice(&(left % 1_000_000_000).to_le_bytes());
                ctx.write_user(a[1], &b)?;
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn sleeps_and_refuses_bad_times() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.tick = 1000;
        l.native.poke(m, &0u64.to_le_bytes());
        l.native.poke(m + 8, &15_000_000u64.to_le_bytes());
        assert_eq!(call(&mut l, g::__NR_nanosleep, &[m, 0]), 0);
        assert!(l.native.slept > 0);
        l.native.poke(m + 8, &1_000_000_000u64.to_le_bytes());
        assert_eq!(call(&mut l, g::__NR_nanosleep, &[m, 0]), err(Errno::EINVAL));
        l.native.poke(m, &(-1i64).to_le_bytes());
        l.native.poke(m + 8, &0u64.to_le_bytes());
        assert_eq!(call(&mut l, g::__NR_nanosleep, &[m, 0]), err(Errno::EINVAL));
    }
}

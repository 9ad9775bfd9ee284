//! `setitimer(which, new, old)`: `ITIMER_REAL` only (`SIGALRM` after
//! `it_value`, then every `it_interval`; a zero value disarms), on the
//! dispatcher's timer, met within a timer tick. `ITIMER_VIRTUAL` and
//! `ITIMER_PROF` (CPU time) are `EINVAL` for now; microseconds beyond a
//! second are `EINVAL`.

use crate::signal;
use crate::{Ctx, Errno, SysResult};

/// `ITIMER_REAL`.
pub const ITIMER_REAL: u64 = 0;

/// A `struct timeval` in nanoseconds.
fn timeval(b: &[u8]) -> Result<u64, Errno> {
    let sec = i64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
    let usec = i64::from_le_bytes(b[8..16].try_into().unwrap_or([0; 8]));
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64).saturating_mul(1_000_000_000) + usec as u64 * 1000)
}

/// The timer now, as a `struct itimerval` (interval, value).
pub fn current(ctx: &mut Ctx<'_>) -> [u8; 32] {
    let now = signal::now(ctx);
    let left = match ctx.st.sig.alarm_at {
        0 => 0,
        at => at.saturating_sub(now).max(1000),
    };
    let mut b = [0u8; 32];
    for (i, ns) in [ctx.st.sig.alarm_interval, left].iter().enumerate() {
        b[16 * i..16 * i + 8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
        b[16 * i + 8..16 * i + 16].copy_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
    }
    b
}

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (which, new, old) = (a[0], a[1], a[2]);
    if which != ITIMER_REAL {
        return Err(Errno::EINVAL);
    }
    let set = if new != 0 {
        let mut b = [0u8; 32];
        ctx.read_user(new, &mut b)?;
        Some((timeval(&b[..16])?, timeval(&b[16..])?))
    } else {
        None
    };
    if old != 0 {
        let b = current(ctx);
        ctx.write_user(old, &b)?;
    }
    if let Some((interval, value)) = set {
        let now = signal::now(ctx);
        ctx.st.sig.alarm_at = if value == 0 { 0 } else { now + value };
        ctx.st.sig.alarm_interval = if value == 0 { 0 } else { interval };
        signal::arm(ctx);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn periodic_timer_fires_sigalrm_and_rearms() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.kernel_clock = Some(0);
        let words: std::vec::Vec<u8> = [0u64, 5000, 0, 5000]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        l.native.poke(m, &words);
        assert_eq!(call(&mut l, g::__NR_setitimer, &[0, m, 0]), 0);
        assert_eq!(l.native.sig.timer, 5_000_000);
        // The timer fires.
        l.native.kernel_clock = Some(5_000_000);
        l.native.sig.soft |= crate::signal::SOFT_TIMER;
        let mut ctx = crate::Ctx {
            st: &mut l.state,
            native: &mut l.native,
        };
        crate::signal::poll(&mut ctx);
        assert_eq!(l.state.sig.pending.len(), 1);
        assert_eq!(l.state.sig.pending[0].sig, g::SIGALRM);
        assert_eq!(l.native.sig.timer, 10_000_000, "re-armed");
        assert_eq!(
            call(&mut l, g::__NR_setitimer, &[1, m, 0]),
            err(Errno::EINVAL)
        );
        assert_eq!(call(&mut l, g::__NR_getitimer, &[0, m + 64]), 0);
        assert_eq!(l.native.peek(m + 72, 8), 5000u64.to_le_bytes(), "interval");
    }
}

//! `alarm(seconds)`: `SIGALRM` after `seconds` (0: cancels), replacing
//! `ITIMER_REAL`; returns the seconds left of the previous one (rounded
//! to the nearest, at least 1 if any was left), as Linux. On the
//! dispatcher's timer (`signal::arm`).

use crate::signal;
use crate::{Ctx, SysResult};

const NS: u64 = 1_000_000_000;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let secs = a[0] & 0xffff_ffff;
    let now = signal::now(ctx);
    let left = match ctx.st.sig.alarm_at {
        0 => 0,
        at => {
            let ns = at.saturating_sub(now);
            ((ns + NS / 2) / NS).max(1)
        }
    };
    ctx.st.sig.alarm_at = if secs == 0 { 0 } else { now + secs * NS };
    ctx.st.sig.alarm_interval = 0;
    signal::arm(ctx);
    Ok(left)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use linux_raw_sys::general as g;

    #[test]
    fn returns_what_was_left_and_arms_the_timer() {
        let mut l = lib();
        l.native.kernel_clock = Some(1_000);
        assert_eq!(call(&mut l, g::__NR_alarm, &[5]), 0);
        assert_eq!(l.native.sig.timer, 1_000 + 5_000_000_000);
        assert_eq!(call(&mut l, g::__NR_alarm, &[0]), 5);
        assert_eq!(l.native.sig.timer, 0, "cancelled");
    }
}

//! `gettimeofday(tv, tz)`: the `REALTIME` clock of `clock_gettime` in
//! microseconds; the time zone, if asked, is UTC (`tz_minuteswest` 0, no
//! daylight saving).

use super::clock_gettime;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (tv, tz) = (a[0], a[1]);
    if tv != 0 {
        let ns = clock_gettime::realtime(ctx);
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
        b[8..].copy_from_slice(&(ns % 1_000_000_000 / 1000).to_le_bytes());
        ctx.write_user(tv, &b)?;
    }
    if tz != 0 {
        ctx.write_user(tz, &[0u8; 8])?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn microseconds_and_utc() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.kernel_clock = Some(5_123_456_789);
        l.native.poke(m + 16, &[0xff; 8]);
        assert_eq!(call(&mut l, g::__NR_gettimeofday, &[m, m + 16]), 0);
        assert_eq!(
            l.native.peek(m, 16),
            [5u64.to_le_bytes(), 123_456u64.to_le_bytes()].concat()
        );
        assert_eq!(l.native.peek(m + 16, 8), [0; 8]);
        assert_eq!(call(&mut l, g::__NR_gettimeofday, &[0, 0]), 0);
        assert_eq!(
            call(&mut l, g::__NR_gettimeofday, &[0x10, 0]),
            err(Errno::EFAULT)
        );
    }
}

//! `time(tloc)`: the `REALTIME` clock of `clock_gettime` in whole
//! seconds, also stored at `tloc` unless it is NULL.

use super::clock_gettime;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let secs = clock_gettime::realtime(ctx) / 1_000_000_000;
    if a[0] != 0 {
        ctx.write_user(a[0], &secs.to_le_bytes())?;
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn seconds_returned_and_stored() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.kernel_clock = Some(5_923_456_789);
        let now = call(&mut l, g::__NR_time, &[m]);
        assert_eq!(l.native.peek(m, 8), (now as u64).to_le_bytes());
        assert_eq!(call(&mut l, g::__NR_time, &[0]), now);
        assert_eq!(call(&mut l, g::__NR_time, &[0x10]), err(Errno::EFAULT));
    }
}

//! `rt_sigqueueinfo(pid, sig, info)`: `sigqueue`: a signal with the
//! `si_code` and `si_value` of `info` (a `siginfo_t`). A program may not
//! pretend to be the kernel to another process: a code >= 0 or
//! `SI_TKILL` is `EPERM` unless `pid` is the caller.

use crate::signal::{self, code};
use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, sig, uinfo) = (a[0] as i32, a[1], a[2]);
    let mut info = [0u8; 32];
    ctx.read_user(uinfo, &mut info)?;
    let c = i32::from_le_bytes(info[8..12].try_into().unwrap_or([0; 4]));
    let value = u64::from_le_bytes(info[24..32].try_into().unwrap_or([0; 8]));
    if (c >= 0 || c == code::SI_TKILL) && pid as u32 != ctx.st.pid {
        return Err(Errno::EPERM);
    }
    signal::send(ctx, i64::from(pid), sig, c, value)
}

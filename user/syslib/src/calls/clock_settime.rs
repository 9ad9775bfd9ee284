//! `clock_settime(clock, tp)`: only the wall clock can be set in Linux
//! (`EINVAL` for the others); the library does not set the system's clock
//! (it has no call to), so setting it is `EPERM`.

use super::clock_gettime::check;
use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    if !check(a[0])? {
        return Err(Errno::EINVAL);
    }
    ctx.read_u64(a[1])?;
    Err(Errno::EPERM)
}

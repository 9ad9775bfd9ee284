//! `getitimer(which, value)`: `ITIMER_REAL`'s interval and time left
//! (others `EINVAL`, see `setitimer`).

use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    if a[0] != super::setitimer::ITIMER_REAL {
        return Err(Errno::EINVAL);
    }
    let b = super::setitimer::current(ctx);
    ctx.write_user(a[1], &b)?;
    Ok(0)
}

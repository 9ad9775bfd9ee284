//! `getsid(pid)`: the session of `pid` (0: the caller), `ESRCH` if there
//! is no such process. Processes the kernel starts are in session 0.

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    ctx.native.process_group(2, i64::from(a[0] as i32), 0)
}

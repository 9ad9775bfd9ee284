//! `dup2(old, new)`: `dup3(old, new, 0)`, except that `old == new`
//! returns `new` if `old` is open.

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (old, new) = (u64::from(a[0] as u32), u64::from(a[1] as u32));
    if old == new {
        ctx.st.fds.get(old)?;
        return Ok(new);
    }
    super::dup3::onto(ctx, old, new, false)
}

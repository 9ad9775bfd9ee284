//! `umask(mask)`: the new file-mode creation mask; the old one.

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let old = ctx.st.umask;
    ctx.st.umask = a[0] as u32 & 0o777;
    Ok(u64::from(old))
}

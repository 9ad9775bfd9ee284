//! `close(fd)`: the descriptor goes; a file server description loses
//! this reference (the last one frees it).

use crate::fs;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let fd = ctx.st.fds.take(u64::from(a[0] as u32))?;
    fs::release(ctx, fd);
    Ok(0)
}

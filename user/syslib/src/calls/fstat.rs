//! `fstat(fd, statbuf)`: the attributes of what `fd` refers to.

use crate::fs;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let attrs = fs::stat_fd(ctx, u64::from(a[0] as u32))?;
    fs::put_stat(ctx, a[1], &attrs)?;
    Ok(0)
}

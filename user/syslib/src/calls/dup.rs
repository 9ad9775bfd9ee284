//! `dup(fd)`: the lowest free descriptor refers to what `fd` does (one
//! more reference to a file server description, which shares its offset
//! and status flags); close-on-exec is clear on the copy.

use crate::fs;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    dup_from(ctx, u64::from(a[0] as u32), 0, false)
}

/// Duplicates `fd` onto the lowest free number from `from` on
/// (`F_DUPFD`); `cloexec` for the copy.
pub fn dup_from(ctx: &mut Ctx<'_>, fd: u64, from: usize, cloexec: bool) -> SysResult {
    let mut copy = ctx.st.fds.get(fd)?.clone();
    let n = fs::lowest_free(ctx, from)?;
    fs::hold(ctx, &copy)?;
    copy.cloexec = cloexec;
    ctx.st.fds.put(n, copy);
    Ok(n as u64)
}

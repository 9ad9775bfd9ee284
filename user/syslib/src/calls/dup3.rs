//! `dup3(old, new, flags)`: makes `new` refer to what `old` does,
//! closing what `new` referred to; `flags` is 0 or `O_CLOEXEC`; `old ==
//! new` is `EINVAL` (unlike `dup2`).

use crate::fs;
use crate::{Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let flags = a[2] as u32;
    if flags & !g::O_CLOEXEC != 0 || a[0] as u32 == a[1] as u32 {
        return Err(Errno::EINVAL);
    }
    onto(
        ctx,
        u64::from(a[0] as u32),
        u64::from(a[1] as u32),
        flags != 0,
    )
}

/// Duplicates `old` onto `new` (`dup2`, `dup3`).
pub fn onto(ctx: &mut Ctx<'_>, old: u64, new: u64, cloexec: bool) -> SysResult {
    let mut copy = ctx.st.fds.get(old)?.clone();
    if new >= fs::nofile(ctx) as u64 {
        return Err(Errno::EBADF);
    }
    fs::hold(ctx, &copy)?;
    copy.cloexec = cloexec;
    if let Some(was) = ctx.st.fds.put(new as usize, copy) {
        fs::release(ctx, was);
    }
    Ok(new)
}

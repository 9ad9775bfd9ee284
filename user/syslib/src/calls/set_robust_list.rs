//! `set_robust_list(head, len)`: records the thread's robust-futex list
//! (kept per thread; not walked yet at thread exit); `EINVAL` unless `len`
//! is the size of `struct robust_list_head` (24).

use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    if a[1] != 24 {
        return Err(Errno::EINVAL);
    }
    ctx.st.robust_list = a[0];
    Ok(0)
}

//! `rt_sigpending(set, sigsetsize)`: the signals pending (blocked ones:
//! the others are delivered when the call returns).

use crate::signal::{self, bit};
use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    if a[1] > 8 {
        return Err(Errno::EINVAL);
    }
    signal::poll(ctx);
    let set = ctx.st.sig.pending.iter().fold(0u64, |m, i| m | bit(i.sig)) & ctx.st.blocked;
    let bytes = set.to_le_bytes();
    ctx.write_user(a[0], &bytes[..a[1] as usize])?;
    Ok(0)
}

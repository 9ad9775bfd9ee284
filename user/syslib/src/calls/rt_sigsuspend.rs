//! `rt_sigsuspend(mask, sigsetsize)`: waits with `mask` as the blocked
//! set until a signal is to be acted on; its handler runs with the
//! caller's own mask saved in its frame (so it comes back after the
//! handler), and the call fails with `EINTR` (never restarted while a
//! handler ran).

use crate::signal::{self, ERESTARTNOHAND};
use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    if a[1] != 8 {
        return Err(Errno::EINVAL);
    }
    let mask = ctx.read_u64(a[0])?;
    let old = ctx.st.blocked;
    ctx.st.blocked = mask & !super::UNBLOCKABLE;
    ctx.st.sig.saved_mask = Some(old);
    while !signal::wait(ctx) {}
    Err(ERESTARTNOHAND)
}

//! `gettid()`: the thread id; one thread per process so far, so the
//! process id.

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    Ok(u64::from(ctx.st.pid))
}

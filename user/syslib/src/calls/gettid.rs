//! `gettid()`: the calling thread's id (`threads`): the process id for
//! the first thread.

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    Ok(u64::from(ctx.st.threads.current))
}

//! `getpid()`: the process id: the kernel's id of the process
//! (`process_id()`, asked once at start-up).

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    Ok(u64::from(ctx.st.pid))
}

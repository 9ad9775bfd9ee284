//! `getpid()`: the process id. The kernel does not tell the library its
//! process's K42 id yet, so a Linux process is 1, the first process of
//! its own world (as a container's init is).

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    Ok(u64::from(ctx.st.pid))
}

//! `sched_yield()`: the next ready thread of the process runs, the caller
//! after it (`threads::yield_now`); with one thread, nothing (the kernel
//! preempts dispatchers on its own).

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    crate::threads::yield_now(ctx);
    Ok(0)
}

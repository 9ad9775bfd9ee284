//! `getpgid(pid)`: the process group of `pid` (0: the caller), `ESRCH`
//! if there is no such process (`kernel::syscall::pgrp`).

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    ctx.native.process_group(0, i64::from(a[0] as i32), 0)
}

//! `getpgrp()`: the caller's process group (`getpgid(0)`).

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    ctx.native.process_group(0, 0, 0)
}

//! `renameat(olddirfd, old, newdirfd, new)`: `renameat2` without flags.

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    super::renameat2::call(ctx, [a[0], a[1], a[2], a[3], 0, 0])
}

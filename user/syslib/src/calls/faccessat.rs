//! `faccessat(dirfd, path, mode)`: `faccessat2` without flags.

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    super::faccessat2::call(ctx, [a[0], a[1], a[2], 0, 0, 0])
}

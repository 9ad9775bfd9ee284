//! `symlink(target, path)`: `symlinkat(target, AT_FDCWD, path)`.

use crate::fs::AT_FDCWD;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    super::symlinkat::call(ctx, [a[0], AT_FDCWD as u64, a[1], 0, 0, 0])
}

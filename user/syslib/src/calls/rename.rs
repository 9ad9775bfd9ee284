//! `rename(old, new)`: `renameat2(AT_FDCWD, old, AT_FDCWD, new, 0)`.

use crate::fs::AT_FDCWD;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    super::renameat2::call(ctx, [AT_FDCWD as u64, a[0], AT_FDCWD as u64, a[1], 0, 0])
}

//! `open(path, flags, mode)`: `openat(AT_FDCWD, path, flags, mode)`.

use crate::fs::AT_FDCWD;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    super::openat::call(ctx, [AT_FDCWD as u64, a[0], a[1], a[2], 0, 0])
}

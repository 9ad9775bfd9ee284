//! `unlink(path)`: `unlinkat(AT_FDCWD, path, 0)`.

use crate::fs::AT_FDCWD;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    super::unlinkat::call(ctx, [AT_FDCWD as u64, a[0], 0, 0, 0, 0])
}

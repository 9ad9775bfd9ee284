//! `readlink(path, buf, size)`: `readlinkat(AT_FDCWD, path, buf, size)`.

use crate::fs::AT_FDCWD;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    super::readlinkat::call(ctx, [AT_FDCWD as u64, a[0], a[1], a[2], 0, 0])
}

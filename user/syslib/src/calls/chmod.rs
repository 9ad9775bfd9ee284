//! `chmod(path, mode)`: `fchmodat(AT_FDCWD, path, mode)`.

use crate::fs::AT_FDCWD;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    super::fchmodat::call(ctx, [AT_FDCWD as u64, a[0], a[1], 0, 0, 0])
}

//! `rmdir(path)`: `unlinkat(AT_FDCWD, path, AT_REMOVEDIR)`.

use crate::fs::AT_FDCWD;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    super::unlinkat::call(
        ctx,
        [
            AT_FDCWD as u64,
            a[0],
            u64::from(linux_raw_sys::general::AT_REMOVEDIR),
            0,
            0,
            0,
        ],
    )
}

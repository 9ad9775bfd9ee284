//! `creat(path, mode)`: `open(path, O_CREAT | O_WRONLY | O_TRUNC, mode)`.

use crate::fs::AT_FDCWD;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    super::openat::call(
        ctx,
        [
            AT_FDCWD as u64,
            a[0],
            u64::from(
                linux_raw_sys::general::O_CREAT
                    | linux_raw_sys::general::O_WRONLY
                    | linux_raw_sys::general::O_TRUNC,
            ),
            a[1],
            0,
            0,
        ],
    )
}

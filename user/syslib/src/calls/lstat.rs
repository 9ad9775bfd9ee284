//! `lstat(path, statbuf)`: `newfstatat(AT_FDCWD, path, statbuf,
//! AT_SYMLINK_NOFOLLOW)`.

use crate::fs::AT_FDCWD;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    super::newfstatat::call(
        ctx,
        [
            AT_FDCWD as u64,
            a[0],
            a[1],
            u64::from(linux_raw_sys::general::AT_SYMLINK_NOFOLLOW),
            0,
            0,
        ],
    )
}

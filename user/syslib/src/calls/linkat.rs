//! `linkat(olddirfd, old, newdirfd, new, flags)`: a hard link
//! (`AT_SYMLINK_FOLLOW` accepted; a link to a symlink links the symlink).

use crate::fs;
use crate::Errno;
use crate::{Ctx, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    if a[4] as u32 & !g::AT_SYMLINK_FOLLOW != 0 {
        return Err(Errno::EINVAL);
    }
    let from = fs::at_path(ctx, a[0], a[1])?;
    let to = fs::at_path(ctx, a[2], a[3])?;
    fs::call(ctx, |fs| fs.link(&from, &to)).map(|()| 0)
}

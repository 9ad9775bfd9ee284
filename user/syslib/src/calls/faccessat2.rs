//! `faccessat2(dirfd, path, mode, flags)`: whether the path exists and
//! (for the root user the program runs as) `X_OK` finds an execute bit
//! or a directory. `EINVAL` for unknown mode bits or flags.

use crate::fs;
use crate::Errno;
use crate::{Ctx, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (mode, flags) = (a[2] as u32, a[3] as u32);
    if mode & !7 != 0 || flags & !(g::AT_EACCESS | g::AT_SYMLINK_NOFOLLOW | g::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = fs::at_path(ctx, a[0], a[1])?;
    let (s, m, _) = fs::stat_path(ctx, &p, flags & g::AT_SYMLINK_NOFOLLOW == 0)?;
    if mode & g::X_OK != 0 && s.kind != k42_interfaces::kind::DIR && m & 0o111 == 0 {
        return Err(Errno::EACCES);
    }
    Ok(0)
}

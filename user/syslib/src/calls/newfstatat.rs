//! `newfstatat(dirfd, path, statbuf, flags)`: `struct stat` of a path
//! (through a final symlink unless `AT_SYMLINK_NOFOLLOW`), or of `dirfd`
//! itself with `AT_EMPTY_PATH` and an empty path.

use crate::fs;
use crate::{Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let attrs = attrs_at(ctx, a[0], a[1], a[3] as u32)?;
    fs::put_stat(ctx, a[2], &attrs)?;
    Ok(0)
}

/// The attributes an `*at` stat call names (`newfstatat`, `statx`).
pub fn attrs_at(ctx: &mut Ctx<'_>, dirfd: u64, path: u64, flags: u32) -> Result<fs::Attrs, Errno> {
    let known =
        g::AT_SYMLINK_NOFOLLOW | g::AT_EMPTY_PATH | g::AT_NO_AUTOMOUNT | g::AT_STATX_SYNC_TYPE;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & g::AT_EMPTY_PATH != 0 && fs::read_cstr(ctx, path, 2)?.is_empty() {
        return fs::stat_fd(ctx, u64::from(dirfd as u32));
    }
    let p = fs::at_path(ctx, dirfd, path)?;
    fs::stat_path(ctx, &p, flags & g::AT_SYMLINK_NOFOLLOW == 0)
}

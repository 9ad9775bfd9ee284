//! `utimensat(dirfd, path, times, flags)`: sets access and modification
//! times (`UTIME_NOW`, `UTIME_OMIT`; both now when `times` is NULL), of a
//! symlink itself with `AT_SYMLINK_NOFOLLOW`. A NULL path means `dirfd`
//! itself (`futimens`).

use crate::fd::Object;
use crate::fs;
use crate::{Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

const NOW: u64 = u64::MAX - 1;
const OMIT: u64 = u64::MAX;

fn time(ctx: &Ctx<'_>, at: u64) -> Result<u64, Errno> {
    let (sec, nsec) = (ctx.read_u64(at)? as i64, ctx.read_u64(at + 8)? as i64);
    match nsec {
        n if n == g::UTIME_NOW as i64 => Ok(NOW),
        n if n == g::UTIME_OMIT as i64 => Ok(OMIT),
        0..=999_999_999 if sec >= 0 => Ok(sec as u64 * 1_000_000_000 + nsec as u64),
        _ => Err(Errno::EINVAL),
    }
}

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let flags = a[3] as u32;
    if flags & !(g::AT_SYMLINK_NOFOLLOW | g::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let (atime, mtime) = if a[2] == 0 {
        (NOW, NOW)
    } else {
        (time(ctx, a[2])?, time(ctx, a[2] + 16)?)
    };
    if a[1] == 0 {
        return match ctx.st.fds.get(u64::from(a[0] as u32))?.obj.clone() {
            Object::Dir { file, .. } | Object::File { file } => {
                fs::call(ctx, |fs| fs.futimens(file, atime, mtime)).map(|()| 0)
            }
            _ => Ok(0),
        };
    }
    let path = fs::at_path(ctx, a[0], a[1])?;
    let follow = flags & g::AT_SYMLINK_NOFOLLOW == 0;
    if fs::special(ctx, &path).is_some() || (atime, mtime) == (OMIT, OMIT) {
        return fs::stat_path(ctx, &path, follow).map(|_| 0);
    }
    if follow {
        fs::call(ctx, |fs| fs.utimens(&path, atime, mtime)).map(|()| 0)
    } else {
        fs::call(ctx, |fs| fs.lutimens(&path, atime, mtime)).map(|()| 0)
    }
}

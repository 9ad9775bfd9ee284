//! `unlinkat(dirfd, path, flags)`: removes a file, or with `AT_REMOVEDIR`
//! an empty directory; other flags are `EINVAL`.

use crate::fs;
use crate::Errno;
use crate::{Ctx, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let flags = a[2] as u32;
    if flags & !g::AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let p = fs::at_path(ctx, a[0], a[1])?;
    if flags & g::AT_REMOVEDIR != 0 {
        fs::call(ctx, |fs| fs.rmdir(&p)).map(|()| 0)
    } else {
        fs::call(ctx, |fs| fs.unlink(&p)).map(|()| 0)
    }
}

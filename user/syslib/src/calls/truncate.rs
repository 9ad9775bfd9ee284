//! `truncate(path, length)`: cuts or extends (with zeros) a file;
//! `EINVAL` for a negative length.

use crate::fs;
use crate::Errno;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    if (a[1] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let p = fs::at_path(ctx, fs::AT_FDCWD as u64, a[0])?;
    fs::call(ctx, |fs| fs.truncate(&p, a[1])).map(|()| 0)
}

//! `ftruncate(fd, length)`: `truncate` of an open file (open for
//! writing); `EINVAL` for a negative length or something not a file.

use crate::fd::Object;
use crate::fs;
use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    if (a[1] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    match ctx.st.fds.get(u64::from(a[0] as u32))?.obj {
        Object::File { file } => fs::call(ctx, |fs| fs.ftruncate(file, a[1])).map(|()| 0),
        _ => Err(Errno::EINVAL),
    }
}

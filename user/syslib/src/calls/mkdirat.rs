//! `mkdirat(dirfd, path, mode)`: a directory (mode masked by the umask).

use crate::fs;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let p = fs::at_path(ctx, a[0], a[1])?;
    let mode = a[2] as u32 & 0o7777 & !ctx.st.umask;
    fs::call(ctx, |fs| fs.mkdir(&p, mode)).map(|()| 0)
}

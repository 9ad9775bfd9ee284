//! `fchmodat(dirfd, path, mode)`: sets the permission bits (the file
//! server's admin right, which the system's grants everyone).

use crate::fs;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let p = fs::at_path(ctx, a[0], a[1])?;
    let mode = a[2] as u32 & 0o7777;
    if fs::special(ctx, &p).is_some() {
        return Ok(0);
    }
    fs::call(ctx, |fs| fs.chmod(&p, mode)).map(|()| 0)
}

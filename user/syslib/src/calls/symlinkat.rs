//! `symlinkat(target, newdirfd, path)`: a symbolic link to `target`
//! (kept as written, resolved when used).

use crate::fs;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let target = fs::read_path(ctx, a[0])?;
    let p = fs::at_path(ctx, a[1], a[2])?;
    fs::call(ctx, |fs| fs.symlink(&target, &p)).map(|()| 0)
}

//! `renameat2(olddirfd, old, newdirfd, new, flags)`: moves a node,
//! replacing a file at `new`; no flags yet (`RENAME_NOREPLACE` ... are
//! `EINVAL`).

use crate::fs;
use crate::Errno;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    if a[4] != 0 {
        return Err(Errno::EINVAL);
    }
    let from = fs::at_path(ctx, a[0], a[1])?;
    let to = fs::at_path(ctx, a[2], a[3])?;
    fs::call(ctx, |fs| fs.rename(&from, &to)).map(|()| 0)
}

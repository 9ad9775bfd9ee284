//! `mknod(path, mode, dev)`: `mknodat(AT_FDCWD, path, mode, dev)`.

use crate::{fs, Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let p = fs::at_path(ctx, fs::AT_FDCWD as u32 as u64, a[0])?;
    super::mknodat::mknod(ctx, &p, a[1] as u32)
}

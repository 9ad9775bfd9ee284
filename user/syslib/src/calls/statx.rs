//! `statx(dirfd, path, flags, mask, statxbuf)`: as `newfstatat`, into a
//! `struct statx`; every basic field is filled whatever `mask` asks.

use crate::fs;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let attrs = super::newfstatat::attrs_at(ctx, a[0], a[1], a[2] as u32)?;
    fs::put_statx(ctx, a[4], &attrs)?;
    Ok(0)
}

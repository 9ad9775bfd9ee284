//! `fdatasync(fd)`: as `fsync`.

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    super::fsync::call(ctx, a)
}

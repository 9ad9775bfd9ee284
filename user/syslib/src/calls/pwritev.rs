//! `pwritev(fd, iov, iovcnt, offset)`: `writev` at `offset`, leaving the
//! description's offset alone (the same walk as `preadv`).

use crate::fs;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    super::preadv::at_offset(ctx, a, fs::write)
}

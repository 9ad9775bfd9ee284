//! `pwrite64(fd, buf, count, offset)`: `write` at `offset` (Linux
//! ignores the offset of an `O_APPEND` file, and so does the file
//! server), leaving the description's offset alone.

use super::MAX_RW_COUNT;
use crate::fd::Object;
use crate::fs;
use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let offset = a[3] as i64;
    if offset < 0 {
        return Err(Errno::EINVAL);
    }
    if matches!(ctx.st.fds.get(a[0])?.obj, Object::Console) {
        return Err(Errno::ESPIPE);
    }
    fs::write(ctx, a[0], a[1], a[2].min(MAX_RW_COUNT), offset as u64)
}

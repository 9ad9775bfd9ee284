//! `preadv(fd, iov, iovcnt, offset)`: `readv` at `offset`, leaving the
//! description's offset alone.

use crate::fd::Object;
use crate::fs;
use crate::{Access, Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    at_offset(ctx, a, fs::read)
}

/// `preadv` and `pwritev`: the vector's buffers in order through `op`
/// (`fs::read` or `fs::write`) at `offset` onwards, stopping at a short
/// transfer.
pub fn at_offset(
    ctx: &mut Ctx<'_>,
    a: [u64; 6],
    op: fn(&mut Ctx<'_>, u64, u64, u64, u64) -> SysResult,
) -> SysResult {
    let (fd, iov, count, offset) = (a[0], a[1], a[2] as i32, a[3] as i64);
    if offset < 0 || count < 0 || count as u64 > super::writev::UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    if matches!(ctx.st.fds.get(fd)?.obj, Object::Console) {
        return Err(Errno::ESPIPE);
    }
    ctx.st.mem.check(iov, count as u64 * 16, Access::Read)?;
    let mut total = 0u64;
    for i in 0..count as u64 {
        let (base, len) = (ctx.read_u64(iov + 16 * i)?, ctx.read_u64(iov + 16 * i + 8)?);
        if len == 0 {
            continue;
        }
        let n = match op(ctx, fd, base, len, offset as u64 + total) {
            Ok(n) => n,
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        };
        total += n;
        if n < len {
            break;
        }
    }
    Ok(total)
}

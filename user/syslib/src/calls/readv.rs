//! `readv(fd, iov, iovcnt)`: scatters a read of descriptor `fd` over
//! `iovcnt` (0..=1024) buffers, in order, stopping at a short read. The
//! vector is read and every length checked first (`EFAULT`, `EINVAL`).

use super::writev::UIO_MAXIOV;
use super::MAX_RW_COUNT;
use crate::fs::{self, AT_CURRENT};
use crate::{Access, Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    ctx.st.fds.get(a[0])?;
    let (iov, count) = (a[1], a[2] as i32);
    if count < 0 || count as u64 > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    let count = count as u64;
    ctx.st.mem.check(iov, count * 16, Access::Read)?;
    let mut parts = alloc::vec::Vec::new();
    for i in 0..count {
        let (base, len) = (ctx.read_u64(iov + 16 * i)?, ctx.read_u64(iov + 16 * i + 8)?);
        if (len as i64) < 0 {
            return Err(Errno::EINVAL);
        }
        parts.push((base, len));
    }
    let (mut total, mut left) = (0u64, MAX_RW_COUNT);
    for (base, len) in parts {
        let len = len.min(left);
        if len == 0 {
            continue;
        }
        let got = match fs::read(ctx, a[0], base, len, AT_CURRENT) {
            Ok(n) => n,
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        };
        total += got;
        left -= got;
        if got < len {
            break;
        }
    }
    Ok(total)
}

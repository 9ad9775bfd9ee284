//! `writev(fd, iov, iovcnt)`: gathers `iovcnt` (0..=1024) buffers to
//! descriptor `fd` (see `fs::write`). As in Linux, the vector is read and every length checked
//! first (`EFAULT`, `EINVAL` for a negative one), then the buffers are
//! written in order; a bad buffer ends the write there: what was written
//! so far is the result, `EFAULT` if nothing was. The total is capped at
//! `MAX_RW_COUNT`.

use super::MAX_RW_COUNT;
use crate::fs::{self, AT_CURRENT};
use crate::{Access, Ctx, Errno, SysResult};

/// `UIO_MAXIOV`.
pub const UIO_MAXIOV: u64 = 1024;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    ctx.st.fds.get(a[0])?;
    let (iov, count) = (a[1], a[2] as i32);
    if count < 0 || count as u64 > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    let count = count as u64;
    ctx.st.mem.check(iov, count * 16, Access::Read)?;
    let entry = |ctx: &Ctx<'_>, i: u64| -> Result<(u64, u64), Errno> {
        Ok((ctx.read_u64(iov + 16 * i)?, ctx.read_u64(iov + 16 * i + 8)?))
    };
    let mut left = MAX_RW_COUNT;
    for i in 0..count {
        let (_, len) = entry(ctx, i)?;
        if (len as i64) < 0 {
            return Err(Errno::EINVAL);
        }
    }
    let mut total = 0u64;
    for i in 0..count {
        let (base, len) = entry(ctx, i)?;
        let len = len.min(left);
        if ctx.st.mem.check(base, len, Access::Read).is_err() {
            return if total > 0 {
                Ok(total)
            } else {
                Err(Errno::EFAULT)
            };
        }
        let put = match fs::write(ctx, a[0], base, len, AT_CURRENT) {
            Ok(n) => n,
            Err(e) if total == 0 => return Err(e),
            Err(_) => return Ok(total),
        };
        total += put;
        left -= put;
        if put < len {
            break;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general::__NR_writev;

    fn iov(l: &mut crate::Syslib<crate::mock::MockNative>, at: u64, parts: &[(u64, u64)]) {
        for (i, (b, n)) in parts.iter().enumerate() {
            l.native.poke(at + 16 * i as u64, &b.to_le_bytes());
            l.native.poke(at + 16 * i as u64 + 8, &n.to_le_bytes());
        }
    }

    #[test]
    fn gathers_in_order() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.poke(m + 1000, b"hello, ");
        l.native.poke(m + 2000, b"world\n");
        iov(&mut l, m, &[(m + 1000, 7), (0, 0), (m + 2000, 6)]);
        assert_eq!(call(&mut l, __NR_writev, &[1, m, 3]), 13);
        assert_eq!(l.native.console_text(), "hello, world\n");
        assert_eq!(call(&mut l, __NR_writev, &[1, m, 0]), 0);
    }

    #[test]
    fn a_bad_buffer_ends_the_write() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.poke(m + 1000, b"first");
        iov(&mut l, m, &[(0x20, 5), (m + 1000, 5)]);
        assert_eq!(call(&mut l, __NR_writev, &[1, m, 2]), err(Errno::EFAULT));
        iov(&mut l, m, &[(m + 1000, 5), (m, u64::MAX)]);
        assert_eq!(call(&mut l, __NR_writev, &[1, m, 2]), err(Errno::EINVAL));
        assert!(
            l.native.console.is_empty(),
            "lengths are checked before writing"
        );
        iov(&mut l, m, &[(m + 1000, 5), (0x20, 5), (m + 1000, 5)]);
        assert_eq!(call(&mut l, __NR_writev, &[1, m, 3]), 5, "a partial write");
        assert_eq!(l.native.console_text(), "first");
        assert_eq!(call(&mut l, __NR_writev, &[1, m, 1025]), err(Errno::EINVAL));
        assert_eq!(
            call(&mut l, __NR_writev, &[1, m, u64::MAX]),
            err(Errno::EINVAL)
        );
        assert_eq!(call(&mut l, __NR_writev, &[1, 0x30, 1]), err(Errno::EFAULT));
        assert_eq!(call(&mut l, __NR_writev, &[9, m, 1]), err(Errno::EBADF));
    }
}

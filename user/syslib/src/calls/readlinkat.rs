//! `readlinkat(dirfd, path, buf, size)`: a symlink's target, cut to
//! `size` bytes, without a NUL; `EINVAL` if not a symlink or `size` <= 0.
//! `/proc/self/exe` and `/proc/self/fd/N` are the library's.

use crate::fs;
use crate::Errno;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let size = a[3] as i32;
    if size <= 0 {
        return Err(Errno::EINVAL);
    }
    let p = fs::at_path(ctx, a[0], a[1])?;
    let mut buf = alloc::vec![0u8; (size as usize).min(fs::PATH_MAX)];
    let n = match fs::special(ctx, &p) {
        Some(fs::Own::Link(target)) => {
            let n = target.len().min(buf.len());
            buf[..n].copy_from_slice(&target.as_bytes()[..n]);
            n
        }
        Some(_) => return Err(Errno::EINVAL),
        None => fs::call(ctx, |fs| fs.readlink(&p, &mut buf))? as usize,
    };
    ctx.write_user(a[2], &buf[..n.min(buf.len())])?;
    Ok(n as u64)
}

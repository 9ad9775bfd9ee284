//! `getcwd(buf, size)`: the working directory and its NUL; the length
//! with the NUL, `ERANGE` if `size` is too small, `ENOENT` if the
//! directory was removed meanwhile.

use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let cwd = ctx.st.cwd.clone();
    if crate::fs::special(ctx, &cwd).is_none() && ctx.st.names != 0 {
        crate::fs::stat_path(ctx, &cwd, true)?;
    }
    let mut s = cwd.into_bytes();
    s.push(0);
    if (s.len() as u64) > a[1] {
        return Err(Errno::ERANGE);
    }
    ctx.write_user(a[0], &s)?;
    Ok(s.len() as u64)
}

//! `fchdir(fd)`: the working directory becomes the open directory `fd`
//! (by the path it was opened with).

use crate::fd::Object;
use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    match &ctx.st.fds.get(u64::from(a[0] as u32))?.obj {
        Object::Dir { path, .. } => {
            ctx.st.cwd = alloc::string::String::from(&**path);
            Ok(0)
        }
        _ => Err(Errno::ENOTDIR),
    }
}

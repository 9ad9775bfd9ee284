//! `chdir(path)`: the working directory (kept by the library, normalized
//! lexically) becomes `path`, which must be a directory.

use crate::fs;
use crate::Errno;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let p = fs::at_path(ctx, fs::AT_FDCWD as u64, a[0])?;
    let (s, ..) = fs::stat_path(ctx, &p, true)?;
    if s.kind != k42_interfaces::kind::DIR {
        return Err(Errno::ENOTDIR);
    }
    ctx.st.cwd = fs::normalize(&p);
    Ok(0)
}

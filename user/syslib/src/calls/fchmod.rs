//! `fchmod(fd, mode)`: `chmod` of an open directory (by its path); the
//! file server cannot change the mode of a file by its description yet,
//! so a file is `EOPNOTSUPP` (logged once).

use crate::fd::Object;
use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let mode = a[1] as u32 & 0o7777;
    match ctx.st.fds.get(u64::from(a[0] as u32))?.obj.clone() {
        Object::Dir { path, .. } => crate::fs::call(ctx, |fs| fs.chmod(&path, mode)).map(|()| 0),
        Object::File { .. } => {
            crate::log_once(
                ctx,
                91,
                "fchmod of a file: not supported by the file server yet",
            );
            Err(Errno::EOPNOTSUPP)
        }
        _ => Ok(0),
    }
}

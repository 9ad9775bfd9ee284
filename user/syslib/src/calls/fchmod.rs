//! `fchmod(fd, mode)`: `chmod` of what `fd` refers to (a description of
//! the file server; the library's own files keep their modes).

use crate::fd::Object;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let mode = a[1] as u32 & 0o7777;
    match ctx.st.fds.get(u64::from(a[0] as u32))?.obj.clone() {
        Object::Dir { file, .. } | Object::File { file } => {
            crate::fs::call(ctx, |fs| fs.fchmod(file, mode)).map(|()| 0)
        }
        _ => Ok(0),
    }
}

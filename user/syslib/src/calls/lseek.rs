//! `lseek(fd, offset, whence)`: moves a description's offset (the file
//! server's, for its files and directories); the console is a terminal
//! (`ESPIPE`); `/dev/null` and `/dev/zero` stay at 0.

use crate::fd::{Object, Special};
use crate::fs;
use crate::{Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (offset, whence) = (a[1] as i64, a[2] as u32);
    let obj = ctx.st.fds.get(a[0])?.obj.clone();
    if whence > g::SEEK_END {
        return Err(Errno::EINVAL);
    }
    match obj {
        Object::Console => Err(Errno::ESPIPE),
        Object::File { file } | Object::Dir { file, .. } => {
            fs::call(ctx, |fs| fs.seek(file, offset, whence))
        }
        Object::Special(Special::Proc { text, offset: at }) => {
            let base = match whence {
                g::SEEK_SET => 0,
                g::SEEK_CUR => at.get() as i64,
                _ => text.len() as i64,
            };
            let new = base
                .checked_add(offset)
                .filter(|&n| n >= 0)
                .ok_or(Errno::EINVAL)?;
            at.set(new as u64);
            Ok(new as u64)
        }
        Object::Special(_) => Ok(0),
    }
}

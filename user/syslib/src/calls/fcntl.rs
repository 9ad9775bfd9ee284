//! `fcntl(fd, cmd, arg)`: `F_DUPFD`, `F_DUPFD_CLOEXEC`, `F_GETFD`,
//! `F_SETFD` (close-on-exec, per descriptor), `F_GETFL`, `F_SETFL` (the
//! status flags, per description: only `O_APPEND` and `O_NONBLOCK`
//! change). Record locks and the rest are `EINVAL` for now.

use crate::fs;
use crate::{Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, cmd, arg) = (u64::from(a[0] as u32), a[1] as u32, a[2]);
    let f = ctx.st.fds.get(fd)?.clone();
    let changeable = g::O_APPEND | g::O_NONBLOCK;
    match cmd {
        g::F_DUPFD | g::F_DUPFD_CLOEXEC => {
            if arg >= fs::nofile(ctx) as u64 {
                return Err(Errno::EINVAL);
            }
            super::dup::dup_from(ctx, fd, arg as usize, cmd == g::F_DUPFD_CLOEXEC)
        }
        g::F_GETFD => Ok(u64::from(f.cloexec)),
        g::F_SETFD => {
            ctx.st.fds.get_mut(fd)?.cloexec = arg & u64::from(g::FD_CLOEXEC) != 0;
            Ok(0)
        }
        g::F_GETFL => match f.obj.description() {
            Some(file) => fs::call(ctx, |fs| fs.flags(file, 0, 0)).map(u64::from),
            None => Ok(u64::from(f.flags)),
        },
        g::F_SETFL => {
            let set = arg as u32 & changeable;
            match f.obj.description() {
                Some(file) => fs::call(ctx, |fs| fs.flags(file, set, changeable)).map(|_| 0),
                None => {
                    let e = ctx.st.fds.get_mut(fd)?;
                    e.flags = (e.flags & !changeable) | set;
                    Ok(0)
                }
            }
        }
        _ => Err(Errno::EINVAL),
    }
}

//! `getdents64(fd, dirp, count)`: the next entries of an open directory
//! as `struct linux_dirent64` records (`d_ino`, `d_off`, `d_reclen`,
//! `d_type`, the name with its NUL, 8-byte aligned), as many as fit;
//! 0 at the end. The file server writes the records itself and keeps the
//! position (an entry index, which `d_off` and `lseek` use), so they are
//! copied through as they come (at most [`CHUNK`] bytes per call);
//! `EINVAL` if not even one entry fits.

use crate::fd::Object;
use crate::fs::{self, CHUNK};
use crate::{Access, Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, dirp, count) = (u64::from(a[0] as u32), a[1], u64::from(a[2] as u32));
    let file = match ctx.st.fds.get(fd)?.obj {
        Object::Dir { file, .. } => file,
        _ => return Err(Errno::ENOTDIR),
    };
    ctx.st.mem.check(dirp, count, Access::Write)?;
    let mut raw = [0u8; CHUNK];
    let want = (count as usize).min(CHUNK);
    let (_, bytes) = fs::call(ctx, |fs| fs.getdents(file, &mut raw[..want]))?;
    ctx.write_user(dirp, &raw[..bytes as usize])?;
    Ok(u64::from(bytes))
}

//! `getdents64(fd, dirp, count)`: the next entries of an open directory
//! as `struct linux_dirent64` records (`d_ino`, `d_off`, `d_reclen`,
//! `d_type`, the name with its NUL, 8-byte aligned), as many as fit;
//! 0 at the end. The file server keeps the position (an entry index):
//! entries fetched that did not fit are given back by moving it.

use crate::fd::Object;
use crate::fs::{self, CHUNK};
use crate::{Access, Ctx, Errno, SysResult};
use k42_interfaces::{dirent, kind};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (fd, dirp, count) = (u64::from(a[0] as u32), a[1], u64::from(a[2] as u32));
    let file = match ctx.st.fds.get(fd)?.obj {
        Object::Dir { file, .. } => file,
        _ => return Err(Errno::ENOTDIR),
    };
    ctx.st.mem.check(dirp, count, Access::Write)?;
    let start = fs::call(ctx, |fs| fs.seek(file, 0, g::SEEK_CUR))?;
    let mut raw = [0u8; CHUNK];
    let want = (count as usize).min(CHUNK);
    let (entries, bytes) = fs::call(ctx, |fs| fs.getdents(file, &mut raw[..want]))?;
    let mut out = alloc::vec::Vec::new();
    let mut given = 0u64;
    for (ino, k, name) in dirent::iter(&raw[..bytes as usize]).take(entries as usize) {
        let reclen = (19 + name.len() + 1).next_multiple_of(8);
        if out.len() + reclen > count as usize {
            break;
        }
        let d_type = match k {
            kind::DIR => g::DT_DIR,
            kind::SYMLINK => g::DT_LNK,
            _ => g::DT_REG,
        };
        given += 1;
        out.extend_from_slice(&ino.to_le_bytes());
        out.extend_from_slice(&(start + given).to_le_bytes());
        out.extend_from_slice(&(reclen as u16).to_le_bytes());
        out.push(d_type as u8);
        out.extend_from_slice(name.as_bytes());
        out.resize(out.len() + reclen - 19 - name.len(), 0);
    }
    if given < u64::from(entries) {
        if given == 0 {
            let _ = fs::call(ctx, |fs| fs.seek(file, start as i64, g::SEEK_SET));
            return Err(Errno::EINVAL);
        }
        fs::call(ctx, |fs| fs.seek(file, (start + given) as i64, g::SEEK_SET))?;
    }
    ctx.write_user(dirp, &out)?;
    Ok(out.len() as u64)
}

//! `mknodat(dirfd, path, mode, dev)`: a FIFO (`S_IFIFO`) or an empty
//! regular file (`S_IFREG` or no type) of the file server
//! (`FileSystem::mknod`), the permission bits masked by the umask;
//! devices and sockets are `EPERM` (there are no device numbers here),
//! a directory `EPERM` as in Linux, another type `EINVAL`.

use crate::{fs, Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// `mknod` of `path` (absolute).
pub fn mknod(ctx: &mut Ctx<'_>, path: &str, mode: u32) -> SysResult {
    let kind = match mode & g::S_IFMT {
        0 | g::S_IFREG => g::S_IFREG,
        g::S_IFIFO => g::S_IFIFO,
        g::S_IFCHR | g::S_IFBLK | g::S_IFSOCK | g::S_IFDIR => return Err(Errno::EPERM),
        _ => return Err(Errno::EINVAL),
    };
    if fs::special(ctx, path).is_some() {
        return Err(Errno::EEXIST);
    }
    let mode = kind | (mode & 0o7777 & !ctx.st.umask);
    fs::call(ctx, |s| s.mknod(path, mode)).map(|()| 0)
}

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let p = fs::at_path(ctx, a[0], a[1])?;
    mknod(ctx, &p, a[2] as u32)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn a_fifo_is_made_stated_and_opened() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 1);
        l.native.poke(m, b"/fifo\0");
        let fifo = u64::from(g::S_IFIFO | 0o666);
        assert_eq!(call(&mut l, g::__NR_mknod, &[m, fifo, 0]), 0);
        assert_eq!(
            call(&mut l, g::__NR_mknod, &[m, fifo, 0]),
            err(Errno::EEXIST)
        );
        assert_eq!(call(&mut l, g::__NR_stat, &[m, m + 100]), 0);
        let mode = u32::from_le_bytes(l.native.peek(m + 124, 4).try_into().unwrap());
        assert_eq!(mode, g::S_IFIFO | 0o644, "the umask applies");
        // Non-blocking opens: a writer needs a reader (ENXIO).
        let nb = u64::from(g::O_NONBLOCK);
        assert_eq!(
            call(&mut l, g::__NR_open, &[m, u64::from(g::O_WRONLY) | nb]),
            -6
        );
        let r = call(&mut l, g::__NR_open, &[m, u64::from(g::O_RDONLY) | nb]);
        assert_eq!(r, 3);
        // The reader is there: a blocking writer does not wait.
        assert_eq!(call(&mut l, g::__NR_open, &[m, u64::from(g::O_WRONLY)]), 4);
        l.native.poke(m + 200, b"hi");
        assert_eq!(call(&mut l, g::__NR_write, &[4, m + 200, 2]), 2);
        assert_eq!(call(&mut l, g::__NR_read, &[3, m + 300, 10]), 2);
        l.native.poke(m + 20, b"/dev/null\0");
        assert_eq!(
            call(&mut l, g::__NR_mknod, &[m + 20, fifo, 0]),
            err(Errno::EEXIST)
        );
        l.native.poke(m + 40, b"/chr\0");
        let chr = u64::from(g::S_IFCHR | 0o666);
        assert_eq!(
            call(&mut l, g::__NR_mknod, &[m + 40, chr, 0x103]),
            err(Errno::EPERM)
        );
        let at = g::AT_FDCWD as u32 as u64;
        assert_eq!(call(&mut l, g::__NR_mknodat, &[at, m + 40, 0o600, 0]), 0);
        assert_eq!(call(&mut l, g::__NR_stat, &[m + 40, m + 100]), 0);
        let mode = u32::from_le_bytes(l.native.peek(m + 124, 4).try_into().unwrap());
        assert_eq!(mode, g::S_IFREG | 0o600);
    }
}

//! `execveat(dirfd, path, argv, envp, flags)`: `execve` with a path
//! relative to a directory descriptor. An absolute path, or `AT_FDCWD`,
//! is `execve`. Until there are directory descriptors (the descriptor
//! table, the lead's), another `dirfd` with a relative path is `ENOTDIR`
//! for the console's three and `EBADF` otherwise, and `AT_EMPTY_PATH`
//! (exec the descriptor itself) is `EACCES` for the console and `EBADF`
//! otherwise. `AT_SYMLINK_NOFOLLOW` is accepted (the kernel follows links
//! in the initramfs); other flags are `EINVAL`.

use super::execve::{exec, read_path, PATH_MAX};
use crate::{Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (dirfd, path, argv, envp, flags) = (a[0] as i32, a[1], a[2], a[3], a[4] as u32);
    if flags & !(g::AT_EMPTY_PATH | g::AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let mut buf = [0u8; PATH_MAX + 1];
    let len = read_path(ctx, path, &mut buf[..PATH_MAX])?;
    let console = super::console_fd(dirfd as u32 as u64).is_ok() && dirfd >= 0;
    if len == 0 && flags & g::AT_EMPTY_PATH != 0 {
        return Err(if console {
            Errno(linux_raw_sys::errno::EACCES)
        } else {
            Errno::EBADF
        });
    }
    if len > 0 && buf[0] != b'/' && dirfd != g::AT_FDCWD {
        return Err(if console {
            Errno(linux_raw_sys::errno::ENOTDIR)
        } else {
            Errno::EBADF
        });
    }
    exec(ctx, &mut buf, len, argv, envp)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::errno as e;
    use linux_raw_sys::general as g;

    #[test]
    fn like_execve_from_the_current_directory_or_an_absolute_path() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.poke(m, b"prog\0/bin/x\0\0");
        let cwd = g::AT_FDCWD as u32 as u64;
        assert_eq!(
            call(&mut l, g::__NR_execveat, &[cwd, m, 0, 0, 0]),
            err(Errno::ENOENT)
        );
        assert_eq!(
            call(&mut l, g::__NR_execveat, &[7, m + 5, 0, 0, 256]),
            err(Errno::ENOENT)
        );
        let paths: std::vec::Vec<_> = l.native.execs.iter().map(|x| x.0.clone()).collect();
        assert_eq!(paths, [&b"/prog\0"[..], b"/bin/x\0"]);
        // Directory descriptors do not exist yet.
        assert_eq!(
            call(&mut l, g::__NR_execveat, &[1, m, 0, 0, 0]),
            err(Errno(e::ENOTDIR))
        );
        assert_eq!(
            call(&mut l, g::__NR_execveat, &[9, m, 0, 0, 0]),
            err(Errno::EBADF)
        );
        assert_eq!(
            call(
                &mut l,
                g::__NR_execveat,
                &[1, m + 12, 0, 0, g::AT_EMPTY_PATH.into()]
            ),
            err(Errno(e::EACCES))
        );
        assert_eq!(
            call(&mut l, g::__NR_execveat, &[cwd, m, 0, 0, 1]),
            err(Errno::EINVAL)
        );
        assert_eq!(l.native.execs.len(), 2);
    }
}

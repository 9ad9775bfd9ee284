//! `execveat(dirfd, path, argv, envp, flags)`: `execve` with a path
//! relative to directory descriptor `dirfd` (or the working directory
//! for `AT_FDCWD`; an absolute path ignores it). With `AT_EMPTY_PATH` and
//! an empty path it runs the file `dirfd` itself is open on (`fexecve`),
//! named `/dev/fd/N` as on Linux: `EACCES` for what is not a regular file
//! someone may execute. `AT_SYMLINK_NOFOLLOW` is accepted (links are
//! followed); other flags are `EINVAL`.

use super::execve::{exec, executable, read_all, run};
use crate::{Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (dirfd, path, argv, envp, flags) = (a[0] as i32, a[1], a[2], a[3], a[4] as u32);
    if flags & !(g::AT_EMPTY_PATH | g::AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = crate::fs::read_cstr(ctx, path, crate::fs::PATH_MAX)?;
    if !path.is_empty() || flags & g::AT_EMPTY_PATH == 0 {
        return exec(ctx, dirfd, &path, argv, envp);
    }
    let fd = dirfd as u32 as u64;
    let obj = ctx.st.fds.get(fd)?.obj.clone();
    let crate::fd::Object::File { file } = obj else {
        return Err(Errno(linux_raw_sys::errno::EACCES));
    };
    let (_, mode, _) = crate::fs::stat_fd(ctx, fd)?;
    executable(mode)?;
    let image = read_all(ctx, file)?;
    run(
        ctx,
        &alloc::format!("/dev/fd/{fd}"),
        Some(&image),
        argv,
        envp,
    )
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::errno as e;
    use linux_raw_sys::general as g;

    #[test]
    fn like_execve_from_the_working_directory_or_an_absolute_path() {
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
        // The console is no directory, 9 is not open.
        assert_eq!(
            call(&mut l, g::__NR_execveat, &[1, m, 0, 0, 0]),
            err(Errno(e::ENOTDIR))
        );
        assert_eq!(
            call(&mut l, g::__NR_execveat, &[9, m, 0, 0, 0]),
            err(Errno::EBADF)
        );
        // fexecve of the console; an empty path without AT_EMPTY_PATH.
        let empty = [1, m + 12, 0, 0, u64::from(g::AT_EMPTY_PATH)];
        assert_eq!(
            call(&mut l, g::__NR_execveat, &empty),
            err(Errno(e::EACCES))
        );
        assert_eq!(
            call(&mut l, g::__NR_execveat, &[1, m + 12, 0, 0, 0]),
            err(Errno::ENOENT)
        );
        assert_eq!(
            call(&mut l, g::__NR_execveat, &[cwd, m, 0, 0, 1]),
            err(Errno::EINVAL)
        );
        assert_eq!(l.native.execs.len(), 2);
    }
}

//! `openat(dirfd, path, flags, mode)`: the library's own files (`/dev`,
//! `/proc`) or a description of the file server (`fs::open`: read-only
//! opens need the read right, anything that writes or creates the write
//! right, which the system's file server grants everyone); the new
//! descriptor is the lowest free number, close-on-exec with `O_CLOEXEC`.
//! The mode is masked by the `umask`.

use crate::fs;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let path = fs::at_path(ctx, a[0], a[1])?;
    let flags = a[2] as u32;
    let obj = fs::open(ctx, &path, flags, a[3] as u32)?;
    fs::install(ctx, obj, flags)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn creates_writes_reads_back_and_closes() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 2);
        l.native.poke(m, b"/f\0hello");
        let flags = u64::from(g::O_RDWR | g::O_CREAT);
        assert_eq!(call(&mut l, g::__NR_open, &[m, flags, 0o644]), 3);
        assert_eq!(call(&mut l, g::__NR_write, &[3, m + 3, 5]), 5);
        assert_eq!(call(&mut l, g::__NR_lseek, &[3, 1, 0]), 1);
        assert_eq!(call(&mut l, g::__NR_read, &[3, m + 100, 10]), 4);
        assert_eq!(l.native.peek(m + 100, 4), b"ello");
        assert_eq!(call(&mut l, g::__NR_close, &[3]), 0);
        assert_eq!(call(&mut l, g::__NR_close, &[3]), err(Errno::EBADF));
        // Read-only now: it exists.
        assert_eq!(call(&mut l, g::__NR_open, &[m, 0, 0]), 3);
        assert_eq!(call(&mut l, g::__NR_write, &[3, m, 1]), err(Errno::EBADF));
        l.native.poke(m, b"/nope\0");
        assert_eq!(call(&mut l, g::__NR_open, &[m, 0, 0]), err(Errno::ENOENT));
        assert_eq!(
            call(&mut l, g::__NR_open, &[0x10, 0, 0]),
            err(Errno::EFAULT)
        );
    }

    #[test]
    fn relative_paths_follow_the_working_directory() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 1);
        l.native.poke(m, b"/d\0x\0/d/x\0");
        assert_eq!(call(&mut l, g::__NR_mkdir, &[m, 0o755]), 0);
        assert_eq!(call(&mut l, g::__NR_chdir, &[m]), 0);
        let flags = u64::from(g::O_WRONLY | g::O_CREAT);
        assert_eq!(call(&mut l, g::__NR_open, &[m + 3, flags, 0o600]), 3);
        assert_eq!(call(&mut l, g::__NR_access, &[m + 5, 0]), 0);
        assert_eq!(call(&mut l, g::__NR_getcwd, &[m + 64, 64]), 3);
        assert_eq!(l.native.peek(m + 64, 3), b"/d\0");
    }
}

//! `mount(source, target, fstype, flags, data)`: K42-rs has one file
//! system, the file server's (ramfs, in memory, serving every directory),
//! and the library's own `/proc` and `/dev`. So a mount of one of those
//! types where it already is succeeds without changing anything (as
//! `/init` scripts and busybox expect): `proc` on `/proc`, `devtmpfs` or
//! `devpts` on `/dev` (or below it), `tmpfs` or `ramfs` on an existing
//! directory (it already is RAM). A bind or remount (`MS_BIND`,
//! `MS_REMOUNT`) of an existing directory succeeds the same way. Other
//! types are `ENODEV` (as Linux for a file system it does not know),
//! a missing target `ENOENT`, a target that is not a directory
//! `ENOTDIR`. `/proc/mounts` lists what is there.

use crate::fs::{self, PATH_MAX};
use crate::{Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let target = fs::absolute(ctx, fs::AT_FDCWD, &fs::read_path(ctx, a[1])?)?;
    let flags = a[3] as u32;
    let fstype = if flags & (g::MS_BIND | g::MS_REMOUNT) != 0 || a[2] == 0 {
        None
    } else {
        Some(fs::read_cstr(ctx, a[2], PATH_MAX)?)
    };
    let under = |dir: &str| target == dir || target.starts_with(&alloc::format!("{dir}/"));
    match fstype.as_deref() {
        Some("proc") if target == "/proc" => return Ok(0),
        Some("devtmpfs" | "devpts") if under("/dev") => return Ok(0),
        Some("proc" | "devtmpfs" | "devpts") => return Err(Errno::EINVAL),
        Some("tmpfs" | "ramfs") | None => {}
        Some(_) => return Err(Errno::ENODEV),
    }
    let (st, _, _) = fs::stat_path(ctx, &target, true)?;
    if st.kind != k42_interfaces::kind::DIR {
        return Err(Errno::ENOTDIR);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn the_file_systems_that_are_there_mount_where_they_are() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 1);
        let s = |l: &mut crate::Syslib<crate::mock::MockNative>, at: u64, text: &str| {
            l.native.poke(at, text.as_bytes());
            l.native.poke(at + text.len() as u64, &[0]);
            at
        };
        let (proc_, procdir) = (s(&mut l, m, "proc"), s(&mut l, m + 16, "/proc"));
        let (tmpfs, tmp) = (s(&mut l, m + 32, "tmpfs"), s(&mut l, m + 48, "/tmp"));
        let (sysfs, sys) = (s(&mut l, m + 64, "sysfs"), s(&mut l, m + 80, "/sys"));
        let (file, dev) = (s(&mut l, m + 96, "/f"), s(&mut l, m + 112, "devtmpfs"));
        let devdir = s(&mut l, m + 128, "/dev");
        let (mount, mkdir, creat) = (g::__NR_mount, g::__NR_mkdir, g::__NR_creat);
        assert_eq!(call(&mut l, mount, &[proc_, procdir, proc_, 0, 0]), 0);
        assert_eq!(call(&mut l, mount, &[dev, devdir, dev, 0, 0]), 0);
        assert_eq!(
            call(&mut l, mount, &[tmpfs, tmp, tmpfs, 0, 0]),
            err(Errno::ENOENT)
        );
        assert_eq!(call(&mut l, mkdir, &[tmp, 0o755]), 0);
        assert_eq!(call(&mut l, mount, &[tmpfs, tmp, tmpfs, 0, 0]), 0);
        assert_eq!(
            call(&mut l, mount, &[sysfs, sys, sysfs, 0, 0]),
            err(Errno::ENODEV)
        );
        assert_eq!(
            call(&mut l, mount, &[proc_, tmp, proc_, 0, 0]),
            err(Errno::EINVAL)
        );
        assert!(call(&mut l, creat, &[file, 0o644]) >= 0);
        assert_eq!(
            call(&mut l, mount, &[tmpfs, file, tmpfs, 0, 0]),
            err(Errno::ENOTDIR)
        );
        let bind = u64::from(g::MS_BIND);
        assert_eq!(call(&mut l, mount, &[tmp, tmp, 0, bind, 0]), 0);
        assert_eq!(
            call(&mut l, mount, &[proc_, 8, proc_, 0, 0]),
            err(Errno::EFAULT)
        );
    }
}

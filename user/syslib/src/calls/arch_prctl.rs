//! `arch_prctl(code, addr)`: the FS and GS bases (`ARCH_SET_FS`,
//! `ARCH_GET_FS`, `ARCH_SET_GS`, `ARCH_GET_GS`), set through the kernel's
//! `set_fs_base`/`set_gs_base` calls and remembered for the `GET`s. A
//! base outside user space is `EPERM`; other codes `EINVAL`.

use crate::{Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// `ARCH_SET_GS`.
pub const ARCH_SET_GS: u32 = 0x1001;
/// `ARCH_GET_FS`.
pub const ARCH_GET_FS: u32 = 0x1003;
/// `ARCH_GET_GS`.
pub const ARCH_GET_GS: u32 = 0x1004;
/// The end of user space (lower half of the canonical addresses).
pub const USER_END: u64 = 0x8000_0000_0000;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (code, addr) = (a[0] as u32, a[1]);
    match code {
        g::ARCH_SET_FS | ARCH_SET_GS => {
            if addr >= USER_END {
                return Err(Errno::EPERM);
            }
            if code == g::ARCH_SET_FS {
                ctx.native.set_fs_base(addr)?;
                ctx.st.fs_base = addr;
            } else {
                ctx.native.set_gs_base(addr)?;
                ctx.st.gs_base = addr;
            }
        }
        ARCH_GET_FS => {
            let v = ctx.st.fs_base;
            ctx.write_u64(addr, v)?;
        }
        ARCH_GET_GS => {
            let v = ctx.st.gs_base;
            ctx.write_u64(addr, v)?;
        }
        _ => return Err(Errno::EINVAL),
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn sets_and_gets_the_bases() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        assert_eq!(
            call(
                &mut l,
                g::__NR_arch_prctl,
                &[g::ARCH_SET_FS.into(), m + 0x100]
            ),
            0
        );
        assert_eq!(l.native.fs_base, m + 0x100);
        assert_eq!(
            call(
                &mut l,
                g::__NR_arch_prctl,
                &[super::ARCH_SET_GS.into(), 0x1234]
            ),
            0
        );
        assert_eq!(l.native.gs_base, 0x1234);
        assert_eq!(
            call(&mut l, g::__NR_arch_prctl, &[super::ARCH_GET_FS.into(), m]),
            0
        );
        assert_eq!(l.native.peek(m, 8), (m + 0x100).to_le_bytes());
        assert_eq!(
            call(&mut l, g::__NR_arch_prctl, &[super::ARCH_GET_GS.into(), m]),
            0
        );
        assert_eq!(l.native.peek(m, 8), 0x1234u64.to_le_bytes());
    }

    #[test]
    fn refusals() {
        let mut l = lib();
        let kernel = 0xffff_8000_0000_0000;
        assert_eq!(
            call(&mut l, g::__NR_arch_prctl, &[g::ARCH_SET_FS.into(), kernel]),
            err(Errno::EPERM)
        );
        assert_eq!(l.native.fs_base, 0);
        assert_eq!(
            call(&mut l, g::__NR_arch_prctl, &[super::ARCH_GET_FS.into(), 8]),
            err(Errno::EFAULT)
        );
        assert_eq!(
            call(&mut l, g::__NR_arch_prctl, &[0x1011, 0]),
            err(Errno::EINVAL)
        );
    }
}

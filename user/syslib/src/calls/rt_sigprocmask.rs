//! `rt_sigprocmask(how, set, oset, sigsetsize)`: the blocked-signal mask
//! (`SIG_BLOCK`, `SIG_UNBLOCK`, `SIG_SETMASK`); signals it unblocks are
//! delivered when the call returns (`crate::signal::deliver`). `SIGKILL`
//! and `SIGSTOP` are never blocked.

use super::UNBLOCKABLE;
use crate::{Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (how, set, oset, setsize) = (a[0] as u32, a[1], a[2], a[3]);
    if setsize != 8 {
        return Err(Errno::EINVAL);
    }
    let old = ctx.st.blocked;
    if set != 0 {
        let new = ctx.read_u64(set)?;
        ctx.st.blocked = match how {
            g::SIG_BLOCK => old | new,
            g::SIG_UNBLOCK => old & !new,
            g::SIG_SETMASK => new,
            _ => return Err(Errno::EINVAL),
        } & !UNBLOCKABLE;
    }
    if oset != 0 {
        ctx.write_u64(oset, old)?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    fn mask(l: &mut crate::Syslib<crate::mock::MockNative>, at: u64) -> u64 {
        assert_eq!(call(l, g::__NR_rt_sigprocmask, &[0, 0, at, 8]), 0);
        u64::from_le_bytes(l.native.peek(at, 8).try_into().unwrap())
    }

    #[test]
    fn block_unblock_setmask() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.poke(m, &0b1010u64.to_le_bytes());
        assert_eq!(
            call(
                &mut l,
                g::__NR_rt_sigprocmask,
                &[g::SIG_BLOCK.into(), m, 0, 8]
            ),
            0
        );
        assert_eq!(mask(&mut l, m + 8), 0b1010);
        l.native.poke(m, &0b0010u64.to_le_bytes());
        assert_eq!(
            call(
                &mut l,
                g::__NR_rt_sigprocmask,
                &[g::SIG_UNBLOCK.into(), m, m + 16, 8]
            ),
            0
        );
        assert_eq!(
            l.native.peek(m + 16, 8),
            0b1010u64.to_le_bytes(),
            "the old mask"
        );
        assert_eq!(mask(&mut l, m + 8), 0b1000);
        l.native.poke(m, &u64::MAX.to_le_bytes());
        assert_eq!(
            call(
                &mut l,
                g::__NR_rt_sigprocmask,
                &[g::SIG_SETMASK.into(), m, 0, 8]
            ),
            0
        );
        assert_eq!(mask(&mut l, m + 8), !super::UNBLOCKABLE);
    }

    #[test]
    fn refusals() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        assert_eq!(
            call(&mut l, g::__NR_rt_sigprocmask, &[7, m, 0, 8]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_rt_sigprocmask, &[7, 0, 0, 8]),
            0,
            "how is ignored without a set"
        );
        assert_eq!(
            call(&mut l, g::__NR_rt_sigprocmask, &[0, m, 0, 16]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_rt_sigprocmask, &[0, 0x10, 0, 8]),
            err(Errno::EFAULT)
        );
        assert_eq!(
            call(&mut l, g::__NR_rt_sigprocmask, &[0, 0, 0x10, 8]),
            err(Errno::EFAULT)
        );
    }
}

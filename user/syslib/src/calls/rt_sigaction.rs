//! `rt_sigaction(sig, act, oact, sigsetsize)`: records the action (the
//! handler, flags, restorer and mask of `struct kernel_sigaction`) and
//! returns the old one; `crate::signal` acts on it when a signal comes.
//! `SIGKILL` and `SIGSTOP` cannot be caught (`EINVAL`), nor be in a
//! mask.

use super::UNBLOCKABLE;
use crate::{Ctx, Errno, SigAction, SysResult};

const ACTION_BYTES: usize = 32;
const _: () =
    assert!(core::mem::size_of::<linux_raw_sys::general::kernel_sigaction>() == ACTION_BYTES);

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (sig, act, oact, setsize) = (a[0], a[1], a[2], a[3]);
    if setsize != 8 || sig == 0 || sig > 64 {
        return Err(Errno::EINVAL);
    }
    let sig = sig as u32;
    let new = if act != 0 {
        if super::sig_bit(sig) & UNBLOCKABLE != 0 {
            return Err(Errno::EINVAL);
        }
        let mut b = [0u8; ACTION_BYTES];
        ctx.read_user(act, &mut b)?;
        let w = |i: usize| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap_or([0; 8]));
        Some(SigAction {
            handler: w(0),
            flags: w(1),
            restorer: w(2),
            mask: w(3) & !UNBLOCKABLE,
        })
    } else {
        None
    };
    let slot = sig as usize - 1;
    let old = ctx.st.actions[slot];
    if let Some(new) = new {
        ctx.st.actions[slot] = new;
    }
    if oact != 0 {
        let mut b = [0u8; ACTION_BYTES];
        for (i, w) in [old.handler, old.flags, old.restorer, old.mask]
            .iter()
            .enumerate()
        {
            b[8 * i..8 * i + 8].copy_from_slice(&w.to_le_bytes());
        }
        ctx.write_user(oact, &b)?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn records_and_returns_the_old_action() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        let act: std::vec::Vec<u8> = [0x40_1234u64, 0x0400_0000, 0x40_1300, u64::MAX]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        l.native.poke(m, &act);
        assert_eq!(
            call(
                &mut l,
                g::__NR_rt_sigaction,
                &[g::SIGINT.into(), m, m + 64, 8]
            ),
            0
        );
        assert_eq!(
            l.native.peek(m + 64, 32),
            [0; 32],
            "the old action: default"
        );
        assert_eq!(
            call(
                &mut l,
                g::__NR_rt_sigaction,
                &[g::SIGINT.into(), 0, m + 64, 8]
            ),
            0
        );
        let got = l.native.peek(m + 64, 32);
        assert_eq!(got[..24], act[..24]);
        let mask = u64::from_le_bytes(got[24..].try_into().unwrap());
        assert_eq!(
            mask,
            !super::UNBLOCKABLE,
            "SIGKILL and SIGSTOP are never masked"
        );
    }

    #[test]
    fn refusals() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        assert_eq!(
            call(&mut l, g::__NR_rt_sigaction, &[g::SIGKILL.into(), m, 0, 8]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_rt_sigaction, &[g::SIGKILL.into(), 0, m, 8]),
            0
        );
        assert_eq!(
            call(&mut l, g::__NR_rt_sigaction, &[0, 0, m, 8]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_rt_sigaction, &[65, 0, m, 8]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_rt_sigaction, &[2, 0, m, 4]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_rt_sigaction, &[2, 0x50, 0, 8]),
            err(Errno::EFAULT)
        );
        assert_eq!(
            call(&mut l, g::__NR_rt_sigaction, &[2, 0, crate::mock::TEXT, 8]),
            err(Errno::EFAULT)
        );
    }
}

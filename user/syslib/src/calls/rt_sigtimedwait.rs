//! `rt_sigtimedwait(set, info, timeout, sigsetsize)`: takes a pending
//! signal of `set` (without running its handler) and returns its number,
//! with its `siginfo` in `info` if not NULL; waits up to `timeout` (NULL:
//! for ever; `EAGAIN` when it passes). Another signal to act on ends the
//! wait with `EINTR`. The timeout uses the dispatcher's timer (within a
//! tick).

use crate::signal::{self, bit};
use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (uset, uinfo, utimeout, size) = (a[0], a[1], a[2], a[3]);
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let set = ctx.read_u64(uset)? & !super::UNBLOCKABLE;
    let deadline = if utimeout != 0 {
        let mut ts = [0u8; 16];
        ctx.read_user(utimeout, &mut ts)?;
        let sec = i64::from_le_bytes(ts[..8].try_into().unwrap_or([0; 8]));
        let nsec = i64::from_le_bytes(ts[8..].try_into().unwrap_or([0; 8]));
        if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
            return Err(Errno::EINVAL);
        }
        let ns = (sec as u64).saturating_mul(1_000_000_000) + nsec as u64;
        Some(signal::now(ctx).saturating_add(ns))
    } else {
        None
    };
    let r = loop {
        signal::poll(ctx);
        if let Some(i) = ctx
            .st
            .sig
            .pending
            .iter()
            .position(|i| bit(i.sig) & set != 0)
        {
            let info = ctx.st.sig.pending.remove(i);
            if uinfo != 0 {
                let mut b = [0u8; 128];
                b[..4].copy_from_slice(&(info.sig as i32).to_le_bytes());
                b[8..12].copy_from_slice(&info.code.to_le_bytes());
                b[16..20].copy_from_slice(&info.pid.to_le_bytes());
                b[24..32].copy_from_slice(&info.value.to_le_bytes());
                if let Err(e) = ctx.write_user(uinfo, &b) {
                    ctx.st.sig.pending.insert(i, info);
                    break Err(e);
                }
            }
            break Ok(u64::from(info.sig));
        }
        if signal::interrupted(ctx) {
            break Err(Errno(linux_raw_sys::errno::EINTR));
        }
        match deadline {
            Some(t) if signal::now(ctx) >= t => break Err(Errno::EAGAIN),
            Some(t) => {
                ctx.st.sig.wake_at = t;
                signal::arm(ctx);
            }
            None => {}
        }
        crate::threads::block(ctx);
    };
    if ctx.st.sig.wake_at != 0 {
        ctx.st.sig.wake_at = 0;
        signal::arm(ctx);
    }
    r
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn takes_a_blocked_signal_or_times_out() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        let set = 1u64 << (g::SIGUSR2 - 1);
        l.state.blocked = set;
        l.native.poke(m, &set.to_le_bytes());
        l.native.kernel_clock = Some(1000);
        assert_eq!(
            call(&mut l, g::__NR_rt_sigtimedwait, &[m, 0, m + 8, 8]),
            err(Errno::EAGAIN)
        );
        assert_eq!(call(&mut l, g::__NR_kill, &[1, g::SIGUSR2.into()]), 0);
        assert_eq!(
            call(&mut l, g::__NR_rt_sigtimedwait, &[m, m + 64, 0, 8]),
            i64::from(g::SIGUSR2)
        );
        assert_eq!(l.native.peek(m + 64, 4), g::SIGUSR2.to_le_bytes());
        assert!(l.state.sig.pending.is_empty());
    }
}

//! `sigaltstack(ss, old_ss)`: the alternate signal stack, where handlers
//! with `SA_ONSTACK` run. The old one comes back with `SS_ONSTACK` while
//! the program runs on it; changing it then is `EPERM`; flags other than
//! `SS_DISABLE` (and `SS_AUTODISARM`, ignored) are `EINVAL`; a stack
//! under `MINSIGSTKSZ` is `ENOMEM`.

use crate::signal::{on_altstack, AltStack, MINSIGSTKSZ, RSP, SS_DISABLE, SS_ONSTACK};
use crate::{Ctx, Errno, SysResult};

const SS_AUTODISARM: u32 = 1 << 31;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (new, old) = (a[0], a[1]);
    let cur = ctx.st.sig.altstack;
    let on = on_altstack(&cur, ctx.st.sig.frame[RSP]);
    let mut next = None;
    if new != 0 {
        let mut b = [0u8; 24];
        ctx.read_user(new, &mut b)?;
        let sp = u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
        let flags = u32::from_le_bytes(b[8..12].try_into().unwrap_or([0; 4]));
        let size = u64::from_le_bytes(b[16..24].try_into().unwrap_or([0; 8]));
        if on {
            return Err(Errno::EPERM);
        }
        let flags = flags & !SS_AUTODISARM;
        if flags != 0 && flags != SS_DISABLE {
            return Err(Errno::EINVAL);
        }
        next = Some(if flags == SS_DISABLE {
            AltStack {
                sp: 0,
                size: 0,
                flags,
            }
        } else if size < MINSIGSTKSZ {
            return Err(Errno::ENOMEM);
        } else {
            AltStack { sp, size, flags: 0 }
        });
    }
    if old != 0 {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&cur.sp.to_le_bytes());
        let flags = if on { SS_ONSTACK } else { cur.flags };
        b[8..12].copy_from_slice(&flags.to_le_bytes());
        b[16..24].copy_from_slice(&cur.size.to_le_bytes());
        ctx.write_user(old, &b)?;
    }
    if let Some(n) = next {
        ctx.st.sig.altstack = n;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn set_get_and_refusals() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        let mut ss = [0u8; 24];
        ss[..8].copy_from_slice(&0x1234_0000u64.to_le_bytes());
        ss[16..].copy_from_slice(&16u64.to_le_bytes());
        l.native.poke(m, &ss);
        assert_eq!(
            call(&mut l, g::__NR_sigaltstack, &[m, 0]),
            err(Errno::ENOMEM)
        );
        ss[16..].copy_from_slice(&65536u64.to_le_bytes());
        l.native.poke(m, &ss);
        assert_eq!(call(&mut l, g::__NR_sigaltstack, &[m, m + 64]), 0);
        assert_eq!(l.native.peek(m + 72, 4), 2u32.to_le_bytes(), "was disabled");
        assert_eq!(call(&mut l, g::__NR_sigaltstack, &[0, m + 64]), 0);
        assert_eq!(l.native.peek(m + 64, 8), 0x1234_0000u64.to_le_bytes());
        ss[8..12].copy_from_slice(&7u32.to_le_bytes());
        l.native.poke(m, &ss);
        assert_eq!(
            call(&mut l, g::__NR_sigaltstack, &[m, 0]),
            err(Errno::EINVAL)
        );
    }
}

//! `madvise(addr, len, advice)`: `MADV_DONTNEED` and `MADV_FREE` give
//! anonymous memory back (unmapped and mapped again: the next touch sees
//! zeros, as Linux promises for private anonymous memory; the program's
//! own segments and file mappings are left alone); the other advice
//! Linux knows is accepted and ignored. `ENOMEM` if part of the range is
//! unmapped.

use crate::mem::{Kind, PAGE};
use crate::{page_up, Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (addr, len, advice) = (a[0], a[1], a[2] as u32);
    if !addr.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let end = page_up(len)
        .and_then(|l| addr.checked_add(l))
        .ok_or(Errno::EINVAL)?;
    let discard = match advice {
        g::MADV_DONTNEED | g::MADV_FREE => true,
        g::MADV_NORMAL..=g::MADV_WILLNEED | 9..=g::MADV_PAGEOUT => false,
        _ => return Err(Errno::EINVAL),
    };
    if len == 0 {
        return Ok(0);
    }
    if !ctx.st.mem.covered(addr, end) {
        return Err(Errno::ENOMEM);
    }
    if discard {
        for v in ctx.st.mem.areas() {
            if v.end <= addr || end <= v.start || v.kind == Kind::Program || v.kind.is_file() {
                continue;
            }
            let (s, e) = (v.start.max(addr), v.end.min(end));
            ctx.native.unmap(s, e - s)?;
            ctx.native.map_anon(s, e - s, v.prot)?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mem::PAGE;
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn dontneed_gives_zeros_back() {
        let mut l = lib();
        let a = scratch(&mut l, 2);
        l.native.poke(a, b"data");
        l.native.poke(a + PAGE, b"kept");
        assert_eq!(
            call(&mut l, g::__NR_madvise, &[a, PAGE, g::MADV_DONTNEED.into()]),
            0
        );
        assert_eq!(l.native.peek(a, 4), [0; 4]);
        assert_eq!(l.native.peek(a + PAGE, 4), b"kept");
        assert_eq!(
            call(
                &mut l,
                g::__NR_madvise,
                &[a, 2 * PAGE, g::MADV_WILLNEED.into()]
            ),
            0
        );
        assert_eq!(l.native.peek(a + PAGE, 4), b"kept");
    }

    #[test]
    fn bad_advice_and_ranges() {
        let mut l = lib();
        let a = scratch(&mut l, 1);
        assert_eq!(
            call(&mut l, g::__NR_madvise, &[a, PAGE, 999]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_madvise, &[a + 1, PAGE, 0]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_madvise, &[a, 2 * PAGE, 0]),
            err(Errno::ENOMEM)
        );
        assert_eq!(call(&mut l, g::__NR_madvise, &[a, 0, 0]), 0);
    }
}

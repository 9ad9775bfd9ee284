//! `getrandom(buf, len, flags)`: bytes from the processor's `RDRAND` when
//! it has one; otherwise from a generator (SplitMix64) seeded with the
//! kernel's `AT_RANDOM` bytes, which are themselves TSC-derived: **not
//! cryptographic** until the kernel has an entropy source. Never blocks.

use super::MAX_RW_COUNT;
use crate::{Access, Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// One SplitMix64 step.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (buf, flags) = (a[0], a[2] as u32);
    let all = g::GRND_NONBLOCK | g::GRND_RANDOM | g::GRND_INSECURE;
    if a[2] & !u64::from(all) != 0
        || flags & (g::GRND_RANDOM | g::GRND_INSECURE) == g::GRND_RANDOM | g::GRND_INSECURE
    {
        return Err(Errno::EINVAL);
    }
    let len = a[1].min(MAX_RW_COUNT);
    ctx.st.mem.check(buf, len, Access::Write)?;
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len() as u64) as usize;
        fill(ctx, &mut chunk[..n]);
        ctx.native.write(buf + done, &chunk[..n]);
        done += n as u64;
    }
    Ok(len)
}

/// Fills `buf` with random bytes (also `/dev/urandom`'s).
pub fn fill(ctx: &mut Ctx<'_>, buf: &mut [u8]) {
    for word in buf.chunks_mut(8) {
        let r = ctx
            .native
            .hardware_random()
            .unwrap_or_else(|| splitmix(&mut ctx.st.random));
        word.copy_from_slice(&r.to_le_bytes()[..word.len()]);
    }
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn fills_the_buffer() {
        let mut l = lib();
        let m = scratch(&mut l, 2);
        assert_eq!(call(&mut l, g::__NR_getrandom, &[m + 3, 1000, 0]), 1000);
        let b = l.native.peek(m + 3, 1000);
        assert!(b.iter().filter(|&&x| x == 0).count() < 30, "looks random");
        assert_eq!(l.native.peek(m + 1003, 8), [0; 8], "nothing past the end");
        // RDRAND when there is one.
        l.native.rdrand = Some(0x0102_0304_0506_0708);
        assert_eq!(
            call(&mut l, g::__NR_getrandom, &[m, 8, g::GRND_NONBLOCK.into()]),
            8
        );
        assert_eq!(l.native.peek(m, 8), 0x0102_0304_0506_0708u64.to_le_bytes());
    }

    #[test]
    fn differs_between_seeds() {
        let mut a = lib();
        let mut b = lib();
        b.state.random ^= 1;
        let (ma, mb) = (scratch(&mut a, 1), scratch(&mut b, 1));
        call(&mut a, g::__NR_getrandom, &[ma, 16, 0]);
        call(&mut b, g::__NR_getrandom, &[mb, 16, 0]);
        assert_ne!(a.native.peek(ma, 16), b.native.peek(mb, 16));
    }

    #[test]
    fn refusals() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        assert_eq!(
            call(&mut l, g::__NR_getrandom, &[m, 8, 8]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_getrandom, &[m, 8, 6]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_getrandom, &[m, 8192, 0]),
            err(Errno::EFAULT)
        );
        assert_eq!(call(&mut l, g::__NR_getrandom, &[m, 0, 0]), 0);
    }
}

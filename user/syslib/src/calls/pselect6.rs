//! `pselect6(nfds, readfds, writefds, exceptfds, timeout, sig)`:
//! `select` with a `struct timespec` timeout (the time left written
//! back) and `sig` pointing at { the mask's address, its size }: if the
//! mask's address is not NULL, that mask while it waits.

use super::nanosleep::timespec;
use super::select::select;
use crate::pipe;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let timeout = match a[4] {
        0 => None,
        at => Some(timespec(ctx, at)?),
    };
    let mask = match a[5] {
        0 => None,
        at => {
            let (set, size) = (ctx.read_u64(at)?, ctx.read_u64(at + 8)?);
            pipe::read_mask(ctx, set, size)?
        }
    };
    let (n, left) = select(ctx, a[0], [a[1], a[2], a[3]], timeout, mask)?;
    if a[4] != 0 {
        pipe::put_timespec(ctx, a[4], left)?;
    }
    Ok(n)
}

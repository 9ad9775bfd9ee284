//! `msync(addr, len, flags)`: nothing to write back, since a shared file
//! mapping *is* the file server's memory for the file (`mmap.rs`): a
//! store through it is in the file at once, as `read` shows. The call
//! checks its arguments as Linux does: `EINVAL` for an unaligned `addr`,
//! unknown flags or both `MS_ASYNC` and `MS_SYNC`; `ENOMEM` if part of
//! the range is not mapped.

use crate::mem::PAGE;
use crate::{page_up, Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (addr, len, flags) = (a[0], a[1], a[2]);
    let known = u64::from(g::MS_ASYNC | g::MS_INVALIDATE | g::MS_SYNC);
    let both = u64::from(g::MS_ASYNC | g::MS_SYNC);
    if !addr.is_multiple_of(PAGE) || flags & !known != 0 || flags & both == both {
        return Err(Errno::EINVAL);
    }
    let end = page_up(len)
        .and_then(|l| addr.checked_add(l))
        .ok_or(Errno::ENOMEM)?;
    if len != 0 && !ctx.st.mem.covered(addr, end) {
        return Err(Errno::ENOMEM);
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
    fn checks_as_linux() {
        let mut l = lib();
        let a = scratch(&mut l, 2);
        let sync = u64::from(g::MS_SYNC);
        assert_eq!(call(&mut l, g::__NR_msync, &[a, 2 * PAGE, sync]), 0);
        assert_eq!(call(&mut l, g::__NR_msync, &[a, 0, sync]), 0);
        assert_eq!(
            call(&mut l, g::__NR_msync, &[a + 1, PAGE, sync]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_msync, &[a, PAGE, sync | 1]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_msync, &[a, PAGE, 64]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_msync, &[a, 3 * PAGE, sync]),
            err(Errno::ENOMEM)
        );
    }
}

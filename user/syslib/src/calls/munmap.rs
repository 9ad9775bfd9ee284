//! `munmap(addr, len)`: unmaps every mapped page of the range (holes are
//! fine, as in Linux), splitting areas it cuts.

use crate::mem::{reserved, PAGE};
use crate::{page_up, Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (addr, len) = (a[0], a[1]);
    if !addr.is_multiple_of(PAGE) || len == 0 {
        return Err(Errno::EINVAL);
    }
    let end = page_up(len)
        .and_then(|l| addr.checked_add(l))
        .filter(|&e| !reserved(addr, e))
        .ok_or(Errno::EINVAL)?;
    let native = &mut *ctx.native;
    ctx.st.mem.remove(addr, end, |v| {
        let _ = native.unmap(v.start, v.end - v.start);
    })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mem::PAGE;
    use crate::mock::{t::*, Op};
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn unmaps_the_middle_and_tolerates_holes() {
        let mut l = lib();
        let a = scratch(&mut l, 4);
        assert_eq!(call(&mut l, g::__NR_munmap, &[a + PAGE, 100]), 0);
        assert_eq!(l.native.ops.last(), Some(&Op::Unmap(a + PAGE, PAGE)));
        assert_eq!(l.native.prot(a + PAGE), None);
        assert_eq!(l.native.prot(a), Some(3));
        // The hole is now EFAULT to a call.
        assert_eq!(
            call(&mut l, g::__NR_write, &[1, a + PAGE, 1]),
            err(Errno::EFAULT)
        );
        // Across the hole: the two remaining pieces go.
        assert_eq!(call(&mut l, g::__NR_munmap, &[a, 4 * PAGE]), 0);
        assert_eq!(l.native.prot(a + 3 * PAGE), None);
        assert_eq!(
            call(&mut l, g::__NR_munmap, &[a, 4 * PAGE]),
            0,
            "nothing there: fine"
        );
    }

    #[test]
    fn bad_ranges() {
        let mut l = lib();
        assert_eq!(
            call(&mut l, g::__NR_munmap, &[0x1001, PAGE]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_munmap, &[0x10000, 0]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_munmap, &[0x10000, u64::MAX]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_munmap, &[crate::mem::LIBRARY_BASE, PAGE]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_munmap, &[0x7d00_0000_0000, PAGE]),
            err(Errno::EINVAL)
        );
    }
}

//! `mprotect(addr, len, prot)`: changes the protection of a fully mapped
//! range (`ENOMEM` if any page of it is not mapped, nothing changed;
//! `EACCES` for `PROT_WRITE` on a shared mapping of a file not open for
//! writing).

use crate::mem::{Kind, PAGE, PROT_WRITE};
use crate::{page_up, Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (addr, len, prot) = (a[0], a[1], a[2]);
    if !addr.is_multiple_of(PAGE) || prot & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let end = page_up(len)
        .and_then(|l| addr.checked_add(l))
        .ok_or(Errno::ENOMEM)?;
    let read_only_file = ctx
        .st
        .mem
        .areas()
        .iter()
        .any(|v| v.start < end && addr < v.end && v.kind == Kind::FileReadOnly);
    if read_only_file && prot as u32 & PROT_WRITE != 0 && ctx.st.mem.covered(addr, end) {
        return Err(Errno::EACCES);
    }
    let native = &mut *ctx.native;
    ctx.st.mem.set_prot(addr, end, prot as u32, |v| {
        native.protect(v.start, v.end - v.start, prot as u32)
    })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mem::PAGE;
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn protects_and_the_checks_follow() {
        let mut l = lib();
        let a = scratch(&mut l, 3);
        assert_eq!(call(&mut l, g::__NR_mprotect, &[a + PAGE, 1, 1]), 0);
        assert_eq!(l.native.prot(a + PAGE), Some(1));
        assert_eq!(l.native.prot(a), Some(3));
        // Read-only now: filling it is EFAULT, writing it out fine.
        assert_eq!(
            call(&mut l, g::__NR_getrandom, &[a + PAGE, 1, 0]),
            err(Errno::EFAULT)
        );
        assert_eq!(call(&mut l, g::__NR_write, &[1, a + PAGE, 1]), 1);
        assert_eq!(call(&mut l, g::__NR_mprotect, &[a + PAGE, PAGE, 0]), 0);
        assert_eq!(
            call(&mut l, g::__NR_write, &[1, a + PAGE, 1]),
            err(Errno::EFAULT)
        );
        // All three back to read-write in one call, across the pieces.
        assert_eq!(call(&mut l, g::__NR_mprotect, &[a, 3 * PAGE, 3]), 0);
        assert_eq!(l.native.prot(a + PAGE), Some(3));
        assert_eq!(
            call(&mut l, g::__NR_getrandom, &[a, 3 * PAGE, 0]),
            3 * PAGE as i64
        );
    }

    #[test]
    fn unmapped_or_bad() {
        let mut l = lib();
        let a = scratch(&mut l, 2);
        call(&mut l, g::__NR_munmap, &[a + PAGE, PAGE]);
        assert_eq!(
            call(&mut l, g::__NR_mprotect, &[a, 2 * PAGE, 1]),
            err(Errno::ENOMEM)
        );
        assert_eq!(l.native.prot(a), Some(3), "nothing changed");
        assert_eq!(
            call(&mut l, g::__NR_mprotect, &[a + 8, PAGE, 1]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_mprotect, &[a, PAGE, 16]),
            err(Errno::EINVAL)
        );
        assert_eq!(call(&mut l, g::__NR_mprotect, &[a, 0, 1]), 0);
    }

    #[test]
    fn many_small_areas() {
        let mut l = lib();
        let a = scratch(&mut l, 20);
        // Alternate protections: 20 areas, then one call over all.
        for i in (0..20).step_by(2) {
            assert_eq!(call(&mut l, g::__NR_mprotect, &[a + i * PAGE, PAGE, 1]), 0);
        }
        assert_eq!(call(&mut l, g::__NR_mprotect, &[a, 20 * PAGE, 3]), 0);
        for i in 0..20 {
            assert_eq!(l.native.prot(a + i * PAGE), Some(3));
        }
        assert_eq!(
            call(&mut l, g::__NR_getrandom, &[a, 20 * PAGE, 0]),
            20 * PAGE as i64
        );
    }
}

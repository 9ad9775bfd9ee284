//! `mmap(addr, len, prot, flags, fd, offset)`: anonymous memory, private
//! or shared (`MAP_SHARED`: the kernel's `map_shared`, which a fork shares
//! with the child instead of copying), placed by the library:
//! top-down below `MMAP_TOP`, at `addr` if that hint is free, exactly at
//! `addr` with `MAP_FIXED` (replacing what was there) or
//! `MAP_FIXED_NOREPLACE` (`EEXIST` if something is). File mappings wait
//! for files: the console descriptors are `ENODEV`, others `EBADF`.

use crate::mem::{reserved, Kind, Vma, MMAP_MIN, PAGE};
use crate::{page_up, Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (addr, len, prot, flags, fd, offset) = (a[0], a[1], a[2], a[3] as u32, a[4] as i32, a[5]);
    if prot & !7 != 0 || len == 0 || !offset.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let prot = prot as u32;
    match flags & g::MAP_TYPE {
        g::MAP_SHARED | g::MAP_PRIVATE | g::MAP_SHARED_VALIDATE => {}
        _ => return Err(Errno::EINVAL),
    }
    if flags & g::MAP_ANONYMOUS == 0 {
        return Err(if (0..3).contains(&fd) {
            Errno::ENODEV
        } else {
            Errno::EBADF
        });
    }
    let len = page_up(len).ok_or(Errno::ENOMEM)?;
    let fixed = flags & (g::MAP_FIXED | g::MAP_FIXED_NOREPLACE) != 0;
    let start = if fixed {
        if !addr.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        if addr < MMAP_MIN {
            return Err(Errno::EPERM);
        }
        let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
        if reserved(addr, end) {
            return Err(Errno::ENOMEM);
        }
        if ctx.st.mem.overlaps(addr, end) {
            if flags & g::MAP_FIXED_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            let native = &mut *ctx.native;
            ctx.st.mem.remove(addr, end, |v| {
                let _ = native.unmap(v.start, v.end - v.start);
            })?;
        }
        addr
    } else {
        ctx.st
            .mem
            .find_free(len, addr & !(PAGE - 1))
            .ok_or(Errno::ENOMEM)?
    };
    if flags & g::MAP_TYPE == g::MAP_PRIVATE {
        ctx.native.map_anon(start, len, prot)?;
    } else {
        ctx.native.map_shared(start, len, prot)?;
    }
    let vma = Vma {
        start,
        end: start + len,
        prot,
        kind: Kind::Anon,
    };
    if let Err(e) = ctx.st.mem.insert(vma) {
        let _ = ctx.native.unmap(start, len);
        return Err(e);
    }
    Ok(start)
}

#[cfg(test)]
mod tests {
    use crate::mem::{Kind, MMAP_TOP, PAGE};
    use crate::mock::{t::*, Op};
    use crate::Errno;
    use linux_raw_sys::general as g;

    const ANON: u64 = (g::MAP_PRIVATE | g::MAP_ANONYMOUS) as u64;
    const FIXED: u64 = ANON | g::MAP_FIXED as u64;

    #[test]
    fn places_top_down_and_honours_free_hints() {
        let mut l = lib();
        let a = call(&mut l, g::__NR_mmap, &[0, 5000, 3, ANON, u64::MAX, 0]) as u64;
        assert_eq!(a, MMAP_TOP - 2 * PAGE);
        let b = call(&mut l, g::__NR_mmap, &[0, PAGE, 1, ANON, u64::MAX, 0]) as u64;
        assert_eq!(b, a - PAGE);
        assert_eq!(l.native.ops[1], Op::Map(b, PAGE, 1));
        let h = call(
            &mut l,
            g::__NR_mmap,
            &[0x5000_0000, PAGE, 3, ANON, u64::MAX, 0],
        ) as u64;
        assert_eq!(h, 0x5000_0000);
        // A hint that is taken is only a hint.
        let h2 = call(
            &mut l,
            g::__NR_mmap,
            &[0x5000_0000, PAGE, 3, ANON, u64::MAX, 0],
        ) as u64;
        assert_eq!(h2, b - PAGE);
        assert!(l
            .state
            .mem
            .areas()
            .iter()
            .any(|v| v.start == a && v.kind == Kind::Anon));
    }

    #[test]
    fn fixed_replaces_and_noreplace_refuses() {
        let mut l = lib();
        let a = scratch(&mut l, 4);
        l.native.poke(a + PAGE, b"old");
        let r = call(
            &mut l,
            g::__NR_mmap,
            &[a + PAGE, PAGE, 3, FIXED, u64::MAX, 0],
        );
        assert_eq!(r as u64, a + PAGE);
        assert_eq!(l.native.peek(a + PAGE, 3), [0, 0, 0], "fresh zero page");
        assert_eq!(
            l.state
                .mem
                .areas()
                .iter()
                .filter(|v| v.start >= a && v.end <= a + 4 * PAGE)
                .count(),
            3
        );
        let nr = ANON | u64::from(g::MAP_FIXED_NOREPLACE);
        assert_eq!(
            call(&mut l, g::__NR_mmap, &[a, PAGE, 3, nr, u64::MAX, 0]),
            err(Errno::EEXIST)
        );
        assert_eq!(
            call(&mut l, g::__NR_mmap, &[a + 1, PAGE, 3, FIXED, u64::MAX, 0]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_mmap, &[0x1000, PAGE, 3, FIXED, u64::MAX, 0]),
            err(Errno::EPERM)
        );
        let lib_base = crate::mem::LIBRARY_BASE;
        assert_eq!(
            call(
                &mut l,
                g::__NR_mmap,
                &[lib_base, PAGE, 3, FIXED, u64::MAX, 0]
            ),
            err(Errno::ENOMEM)
        );
    }

    #[test]
    fn shared_memory_is_the_kernels_shared_kind() {
        let mut l = lib();
        let shared = u64::from(g::MAP_SHARED | g::MAP_ANONYMOUS);
        let a = call(&mut l, g::__NR_mmap, &[0, PAGE, 3, shared, u64::MAX, 0]) as u64;
        assert_eq!(l.native.ops.last(), Some(&Op::MapShared(a, PAGE, 3)));
        let b = call(&mut l, g::__NR_mmap, &[0, PAGE, 3, ANON, u64::MAX, 0]) as u64;
        assert_eq!(l.native.ops.last(), Some(&Op::Map(b, PAGE, 3)));
    }

    #[test]
    fn bad_arguments() {
        let mut l = lib();
        assert_eq!(
            call(&mut l, g::__NR_mmap, &[0, 0, 3, ANON, u64::MAX, 0]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_mmap, &[0, PAGE, 8, ANON, u64::MAX, 0]),
            err(Errno::EINVAL)
        );
        let no_type = u64::from(g::MAP_ANONYMOUS);
        assert_eq!(
            call(&mut l, g::__NR_mmap, &[0, PAGE, 3, no_type, u64::MAX, 0]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_mmap, &[0, PAGE, 3, ANON, u64::MAX, 100]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_mmap, &[0, u64::MAX, 3, ANON, u64::MAX, 0]),
            err(Errno::ENOMEM)
        );
        assert_eq!(
            call(&mut l, g::__NR_mmap, &[0, 1 << 47, 3, ANON, u64::MAX, 0]),
            err(Errno::ENOMEM)
        );
        let file = u64::from(g::MAP_PRIVATE);
        assert_eq!(
            call(&mut l, g::__NR_mmap, &[0, PAGE, 1, file, 1, 0]),
            err(Errno::ENODEV)
        );
        assert_eq!(
            call(&mut l, g::__NR_mmap, &[0, PAGE, 1, file, 5, 0]),
            err(Errno::EBADF)
        );
        l.native.fail_map = true;
        assert_eq!(
            call(&mut l, g::__NR_mmap, &[0, PAGE, 3, ANON, u64::MAX, 0]),
            err(Errno::ENOMEM)
        );
        assert!(l.native.ops.is_empty());
    }
}

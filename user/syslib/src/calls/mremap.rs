//! `mremap(old, old_len, new_len, flags, new_addr)`: resizes a mapping
//! that lies within one area (`EFAULT` otherwise): shrinking unmaps the
//! tail; growing maps the pages after it when they are free, or, with
//! `MREMAP_MAYMOVE`, moves it to a new place (the library copies the
//! contents: it runs in the same address space; the kernel has no remap
//! call yet) and unmaps the old one. `MREMAP_FIXED` and
//! `MREMAP_DONTUNMAP` are not supported yet (`EINVAL`), nor is growing a
//! file mapping (`EINVAL`: its new pages would not be the file's).

use crate::mem::{reserved, Kind, Vma, MMAP_TOP, PAGE, PROT_READ, PROT_WRITE};
use crate::{page_up, Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (old, flags) = (a[0], a[3] as u32);
    if !old.is_multiple_of(PAGE) || a[3] >> 32 != 0 || flags & !g::MREMAP_MAYMOVE != 0 {
        return Err(Errno::EINVAL);
    }
    let (Some(old_len), Some(new_len)) = (page_up(a[1]), page_up(a[2])) else {
        return Err(Errno::EINVAL);
    };
    if old_len == 0 || new_len == 0 {
        return Err(Errno::EINVAL);
    }
    let old_end = old.checked_add(old_len).ok_or(Errno::EFAULT)?;
    let area = *ctx
        .st
        .mem
        .areas()
        .iter()
        .find(|v| v.start <= old && old_end <= v.end)
        .ok_or(Errno::EFAULT)?;
    if area.kind.is_file() && new_len > old_len {
        return Err(Errno::EINVAL);
    }
    let native = &mut *ctx.native;
    if new_len <= old_len {
        ctx.st.mem.remove(old + new_len, old_end, |v| {
            let _ = native.unmap(v.start, v.end - v.start);
        })?;
        return Ok(old);
    }
    // In place, if the pages after it are free.
    let new_end = old.checked_add(new_len).ok_or(Errno::ENOMEM)?;
    if new_end <= MMAP_TOP && !ctx.st.mem.overlaps(old_end, new_end) && !reserved(old_end, new_end)
    {
        native.map_anon(old_end, new_end - old_end, area.prot)?;
        let grown = Vma {
            start: old_end,
            end: new_end,
            ..area
        };
        if let Err(e) = ctx.st.mem.insert(grown) {
            let _ = native.unmap(old_end, new_end - old_end);
            return Err(e);
        }
        return Ok(old);
    }
    if flags & g::MREMAP_MAYMOVE == 0 {
        return Err(Errno::ENOMEM);
    }
    let to = ctx.st.mem.find_free(new_len, 0).ok_or(Errno::ENOMEM)?;
    native.map_anon(to, new_len, PROT_READ | PROT_WRITE)?;
    let moved = Vma {
        start: to,
        end: to + new_len,
        prot: area.prot,
        kind: Kind::Anon,
    };
    if let Err(e) = ctx.st.mem.insert(moved) {
        let _ = native.unmap(to, new_len);
        return Err(e);
    }
    if area.prot & PROT_READ == 0 {
        native.protect(old, old_len, PROT_READ)?;
    }
    let mut buf = [0u8; 4096];
    for off in (0..old_len).step_by(buf.len()) {
        native.read(old + off, &mut buf);
        native.write(to + off, &buf);
    }
    if area.prot != PROT_READ | PROT_WRITE {
        native.protect(to, new_len, area.prot)?;
    }
    ctx.st.mem.remove(old, old_end, |v| {
        let _ = native.unmap(v.start, v.end - v.start);
    })?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use crate::mem::PAGE;
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    const MAYMOVE: u64 = g::MREMAP_MAYMOVE as u64;

    #[test]
    fn shrinks_and_grows_in_place() {
        let mut l = lib();
        let a = scratch(&mut l, 4);
        assert_eq!(
            call(&mut l, g::__NR_mremap, &[a, 4 * PAGE, PAGE, 0, 0]) as u64,
            a
        );
        assert_eq!(l.native.prot(a + PAGE), None);
        assert_eq!(
            call(&mut l, g::__NR_mremap, &[a, PAGE, 3 * PAGE, 0, 0]) as u64,
            a
        );
        assert_eq!(l.native.prot(a + 2 * PAGE), Some(3));
        assert_eq!(
            call(&mut l, g::__NR_getrandom, &[a, 3 * PAGE, 0]),
            3 * PAGE as i64
        );
    }

    #[test]
    fn moves_with_its_contents_when_it_must() {
        let mut l = lib();
        let a = scratch(&mut l, 2);
        let b = scratch(&mut l, 1); // top-down: below `a`
        assert!(b < a);
        // Block growth in place with a mapping right after `a`.
        let fixed = u64::from(g::MAP_PRIVATE | g::MAP_ANONYMOUS | g::MAP_FIXED);
        call(
            &mut l,
            g::__NR_mmap,
            &[a + 2 * PAGE, PAGE, 3, fixed, u64::MAX, 0],
        );
        l.native.poke(a + 10, b"moved");
        l.native.poke(a + PAGE + 10, b"too");
        assert_eq!(
            call(&mut l, g::__NR_mremap, &[a, 2 * PAGE, 8 * PAGE, 0, 0]),
            err(Errno::ENOMEM)
        );
        let n = call(&mut l, g::__NR_mremap, &[a, 2 * PAGE, 8 * PAGE, MAYMOVE, 0]) as u64;
        assert_ne!(n, a);
        assert_eq!(l.native.peek(n + 10, 5), b"moved");
        assert_eq!(l.native.peek(n + PAGE + 10, 3), b"too");
        assert_eq!(l.native.prot(a), None, "the old one is gone");
        assert_eq!(
            call(&mut l, g::__NR_getrandom, &[n, 8 * PAGE, 0]),
            8 * PAGE as i64
        );
    }

    #[test]
    fn refusals() {
        let mut l = lib();
        let a = scratch(&mut l, 2);
        assert_eq!(
            call(&mut l, g::__NR_mremap, &[a + 1, PAGE, 2 * PAGE, MAYMOVE, 0]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_mremap, &[a, PAGE, 0, MAYMOVE, 0]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_mremap, &[a, 0, PAGE, MAYMOVE, 0]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_mremap, &[a, PAGE, 2 * PAGE, 2 | MAYMOVE, 0]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_mremap, &[a, 3 * PAGE, 4 * PAGE, MAYMOVE, 0]),
            err(Errno::EFAULT)
        );
        assert_eq!(
            call(
                &mut l,
                g::__NR_mremap,
                &[0x10000, PAGE, 2 * PAGE, MAYMOVE, 0]
            ),
            err(Errno::EFAULT)
        );
    }
}

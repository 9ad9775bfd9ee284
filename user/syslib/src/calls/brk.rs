//! `brk(addr)`: moves the program break. The heap starts on the page
//! after the program (the kernel says where) and grows by mapping pages
//! as the break passes them; shrinking unmaps them. As in Linux the call
//! returns the new break, or the old one when the request is refused
//! (below the start, into another mapping, out of memory); `brk(0)` asks.

use crate::mem::{Kind, Vma, MMAP_TOP, PROT_READ, PROT_WRITE};
use crate::{page_up, Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let want = a[0];
    let mem = &mut ctx.st.mem;
    let old = mem.brk;
    if want < mem.brk_start || want > MMAP_TOP {
        return Ok(old);
    }
    let (Some(old_top), Some(new_top)) = (page_up(old), page_up(want)) else {
        return Ok(old);
    };
    if new_top > old_top {
        if mem.overlaps(old_top, new_top) || crate::mem::reserved(old_top, new_top) {
            return Ok(old);
        }
        let prot = PROT_READ | PROT_WRITE;
        if ctx
            .native
            .map_anon(old_top, new_top - old_top, prot)
            .is_err()
        {
            return Ok(old);
        }
        let heap = Vma {
            start: old_top,
            end: new_top,
            prot,
            kind: Kind::Heap,
        };
        if mem.insert(heap).is_err() {
            let _ = ctx.native.unmap(old_top, new_top - old_top);
            return Ok(old);
        }
    } else if new_top < old_top {
        let native = &mut *ctx.native;
        if mem
            .remove(new_top, old_top, |v| {
                let _ = native.unmap(v.start, v.end - v.start);
            })
            .is_err()
        {
            return Ok(old);
        }
    }
    mem.brk = want;
    Ok(want)
}

#[cfg(test)]
mod tests {
    use crate::mem::PAGE;
    use crate::mock::{t::*, BRK_START};
    use linux_raw_sys::general as g;

    #[test]
    fn grows_and_shrinks() {
        let mut l = lib();
        assert_eq!(call(&mut l, g::__NR_brk, &[0]) as u64, BRK_START);
        let top = BRK_START + 3 * PAGE + 5;
        assert_eq!(call(&mut l, g::__NR_brk, &[top]) as u64, top);
        assert_eq!(l.native.prot(BRK_START + 3 * PAGE), Some(3));
        // The heap is the program's to use and to pass to calls.
        assert_eq!(
            call(&mut l, g::__NR_getrandom, &[BRK_START, 3 * PAGE + 5, 0]),
            3 * PAGE as i64 + 5
        );
        assert_eq!(
            call(&mut l, g::__NR_brk, &[BRK_START + PAGE]) as u64,
            BRK_START + PAGE
        );
        assert_eq!(l.native.prot(BRK_START + PAGE), None);
        assert_eq!(l.native.prot(BRK_START), Some(3));
        assert_eq!(call(&mut l, g::__NR_brk, &[0]) as u64, BRK_START + PAGE);
    }

    #[test]
    fn refusals_return_the_old_break() {
        let mut l = lib();
        // Not into the library.
        assert_eq!(
            call(&mut l, g::__NR_brk, &[crate::mem::LIBRARY_BASE + 1]) as u64,
            BRK_START
        );
        assert_eq!(call(&mut l, g::__NR_brk, &[0x1000]) as u64, BRK_START);
        assert_eq!(call(&mut l, g::__NR_brk, &[u64::MAX]) as u64, BRK_START);
        l.native.fail_map = true;
        assert_eq!(
            call(&mut l, g::__NR_brk, &[BRK_START + 1]) as u64,
            BRK_START
        );
        // A fixed mapping in the way.
        let fixed = u64::from(g::MAP_PRIVATE | g::MAP_ANONYMOUS | g::MAP_FIXED);
        let at = BRK_START + 4 * PAGE;
        assert_eq!(
            call(&mut l, g::__NR_mmap, &[at, PAGE, 3, fixed, u64::MAX, 0]) as u64,
            at
        );
        assert_eq!(call(&mut l, g::__NR_brk, &[at + 1]) as u64, BRK_START);
        assert_eq!(call(&mut l, g::__NR_brk, &[at]) as u64, at);
    }
}

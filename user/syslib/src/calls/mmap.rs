//! `mmap(addr, len, prot, flags, fd, offset)`: anonymous memory, private
//! or shared (`MAP_SHARED`: the kernel's `map_shared`, which a fork shares
//! with the child instead of copying), placed by the library:
//! top-down below `MMAP_TOP`, at `addr` if that hint is free, exactly at
//! `addr` with `MAP_FIXED` (replacing what was there) or
//! `MAP_FIXED_NOREPLACE` (`EEXIST` if something is).
//!
//! Files (K42: a Region over the file's FCM, whose pages the file server
//! provides): the library asks the file server for the file's pages
//! (`FileSystem::map`, which moves the file into the server's shared
//! memory and answers with a one-time handle) and the kernel maps them
//! here (`map_handle`): `MAP_SHARED` is the server's memory itself, so
//! `read`, `write` and other processes' mappings see every store;
//! `MAP_PRIVATE` is a copy-on-write view that follows the file until it
//! touches a page. The server keeps the end of the file: a page past it
//! faults, which [`Layout::past_file_end`](crate::mem::Layout::past_file_end)
//! makes SIGBUS. `/dev/zero` maps anonymous memory; directories, the
//! console and the library's other files are `ENODEV`; a write-only
//! descriptor, or a shared writable mapping of a read-only one, `EACCES`
//! (the server's answer; it also says whether the mapping may become
//! writable, which `mprotect` checks: [`Kind::FileReadOnly`]).

use crate::fd::{Object, Special};
use crate::mem::{reserved, Kind, Vma, MMAP_MIN, PAGE};
use crate::{page_up, Ctx, Errno, SysResult};
use k42_interfaces::map;
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
    let len = page_up(len).ok_or(Errno::ENOMEM)?;
    let private = flags & g::MAP_TYPE == g::MAP_PRIVATE;
    // A file's pages: a handle from the file server, before anything here
    // changes.
    let mut handle = None;
    if flags & g::MAP_ANONYMOUS == 0 {
        let file = match &ctx.st.fds.get(fd as u64)?.obj {
            Object::File { file } => *file,
            Object::Special(Special::Zero) => 0,
            _ => return Err(Errno::ENODEV),
        };
        if file != 0 {
            let how = prot | if private { map::PRIVATE } else { 0 };
            handle = Some(crate::fs::call(ctx, |fs| fs.map(file, offset, len, how))?);
        }
    }
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
    let kind = match handle {
        Some((h, most)) => {
            let got = ctx.native.map_handle(h, start)?;
            // The grant is the most the mapping may ever have (what
            // mprotect may give it): down to what the program asked.
            let lowered = if got == len && prot != most & 7 {
                ctx.native.protect(start, len, prot)
            } else {
                Ok(())
            };
            if got != len || lowered.is_err() {
                let _ = ctx.native.unmap(start, got.min(len));
                return Err(lowered.err().unwrap_or(Errno::EINVAL));
            }
            if most & map::WRITE == 0 {
                Kind::FileReadOnly
            } else {
                Kind::File
            }
        }
        None if private => {
            ctx.native.map_anon(start, len, prot)?;
            Kind::Anon
        }
        None => {
            ctx.native.map_shared(start, len, prot)?;
            Kind::Anon
        }
    };
    let vma = Vma {
        start,
        end: start + len,
        prot,
        kind,
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

    fn last_map_handle(l: &crate::Syslib<crate::mock::MockNative>) -> Option<Op> {
        l.native
            .ops
            .iter()
            .rev()
            .find(|o| matches!(o, Op::MapHandle(..)))
            .cloned()
    }

    #[test]
    fn files_map_the_servers_pages() {
        use crate::mock::STORE;
        let mut l = lib_with_files();
        let m = scratch(&mut l, 3);
        l.native.poke(m, b"/f\0");
        let flags = u64::from(g::O_RDWR | g::O_CREAT);
        let fd = call(&mut l, g::__NR_open, &[m, flags, 0o644]) as u64;
        let data: std::vec::Vec<u8> = (0..8192u32).map(|i| b'a' + (i % 26) as u8).collect();
        l.native.poke(m + PAGE, &data);
        assert_eq!(call(&mut l, g::__NR_write, &[fd, m + PAGE, 2 * PAGE]), 8192);
        let shared = u64::from(g::MAP_SHARED);
        let s = call(&mut l, g::__NR_mmap, &[0, 2 * PAGE, 3, shared, fd, 0]) as u64;
        let Some(Op::MapHandle(h, at)) = last_map_handle(&l) else {
            panic!("{:?}", l.native.ops.last())
        };
        assert_eq!(at, s);
        let share = STORE.share_of(h).expect("a handle of the file server");
        assert_eq!((share.offset, share.len, share.how), (0, 2 * PAGE, 7));
        assert_eq!(l.native.prot(s), Some(3), "lowered to what was asked");
        assert_eq!(l.native.peek(s + PAGE, 3), b"opq", "the file's bytes");
        let area = *l.state.mem.areas().iter().find(|v| v.start == s).unwrap();
        assert_eq!((area.end, area.kind), (s + 2 * PAGE, Kind::File));
        // The program may pass it to calls: write it back out.
        assert_eq!(call(&mut l, g::__NR_write, &[fd, s, 10]), 10);
        // Private, at an offset, read-only: a copy-on-write view.
        let private = u64::from(g::MAP_PRIVATE);
        let p = call(&mut l, g::__NR_mmap, &[0, PAGE, 1, private, fd, PAGE]) as u64;
        let Some(Op::MapHandle(h, _)) = last_map_handle(&l) else {
            panic!()
        };
        let share = STORE.share_of(h).unwrap();
        assert_eq!((share.offset, share.len), (PAGE, PAGE));
        assert_eq!(share.how, 7 | k42_interfaces::map::PRIVATE);
        assert_eq!(l.native.prot(p), Some(1));
        assert_eq!(l.native.peek(p, 2), b"op");
        // A fault in it past the file's end is SIGBUS, one it forbids
        // SIGSEGV.
        assert!(l.state.mem.past_file_end(p + 8, 0));
        assert!(!l.state.mem.past_file_end(p + 8, 2), "a write: SIGSEGV");
        assert!(!l.state.mem.past_file_end(m, 0), "anonymous memory");
        assert_eq!(call(&mut l, g::__NR_munmap, &[s, 2 * PAGE]), 0);
        assert_eq!(l.native.prot(s), None);
        // mremap may shrink a file mapping, not grow it.
        assert_eq!(
            call(&mut l, g::__NR_mremap, &[p, PAGE, 2 * PAGE, 1, 0]),
            err(Errno::EINVAL)
        );
    }

    #[test]
    fn file_refusals_as_linux() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 1);
        l.native.poke(m, b"/f\0/\0/dev/zero\0");
        let creat = u64::from(g::O_WRONLY | g::O_CREAT);
        let wo = call(&mut l, g::__NR_open, &[m, creat, 0o644]) as u64;
        let ro = call(&mut l, g::__NR_open, &[m, 0, 0]) as u64;
        let dir = call(&mut l, g::__NR_open, &[m + 3, u64::from(g::O_DIRECTORY), 0]) as u64;
        let shared = u64::from(g::MAP_SHARED);
        let private = u64::from(g::MAP_PRIVATE);
        let mmap = |l: &mut _, prot: u64, flags: u64, fd: u64, off: u64| {
            call(l, g::__NR_mmap, &[0, PAGE, prot, flags, fd, off])
        };
        assert_eq!(mmap(&mut l, 1, shared, wo, 0), err(Errno::EACCES));
        assert_eq!(mmap(&mut l, 2, shared, ro, 0), err(Errno::EACCES));
        let pv = mmap(&mut l, 3, private, ro, 0) as u64;
        assert_eq!(call(&mut l, g::__NR_mprotect, &[pv, PAGE, 1]), 0);
        assert_eq!(call(&mut l, g::__NR_mprotect, &[pv, PAGE, 3]), 0);
        // Shared and read only: mprotect may not make it writable.
        let sv = mmap(&mut l, 1, shared, ro, 0) as u64;
        let area = *l.state.mem.areas().iter().find(|v| v.start == sv).unwrap();
        assert_eq!(area.kind, Kind::FileReadOnly);
        assert_eq!(
            call(&mut l, g::__NR_mprotect, &[sv, PAGE, 3]),
            err(Errno::EACCES)
        );
        assert_eq!(call(&mut l, g::__NR_mprotect, &[sv, PAGE, 0]), 0);
        assert_eq!(mmap(&mut l, 1, shared, ro, 1), err(Errno::EINVAL));
        assert_eq!(mmap(&mut l, 1, shared, dir, 0), err(Errno::ENODEV));
        // /dev/zero: anonymous memory.
        let z = call(&mut l, g::__NR_open, &[m + 5, 2, 0]) as u64;
        let a = mmap(&mut l, 3, private, z, 0) as u64;
        assert_eq!(l.native.ops.last(), Some(&Op::Map(a, PAGE, 3)));
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

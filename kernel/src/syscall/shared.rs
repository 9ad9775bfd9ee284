//! `map_shared(addr, len, prot)`, `share(addr, len, pid, prot)` and
//! `map_handle(handle, addr)`: memory shared between processes, for data
//! larger than the PPC page (K42's sharing: one FCM mapped by Regions of
//! several Processes, `mm`'s [`map_shared_from`](::mm::AddressSpace::map_shared_from)).
//!
//! - `map_shared(addr, len, prot)`: zero-filled memory at `addr` that a
//!   fork shares with the child instead of copying on write (Linux
//!   `MAP_SHARED | MAP_ANONYMOUS`). Errors as `map_anon`'s (an overlap is
//!   `-EINVAL`).
//! - `share(addr, len, pid, prot)` → a handle: lets process `pid` map
//!   `[addr, addr + len)` of the caller's shared memory (made by
//!   `map_shared`, page aligned) with protection `prot`. The caller hands
//!   the handle over itself (in a PPC argument, say). `-EINVAL` for a
//!   range that is not inside one shared region, `-ENOMEM` past
//!   [`MAX_SHARES`] live handles. Above the `PROT_*` bits of `prot`:
//!   [`SHARE_PRIVATE`] (the grantee gets a private, copy-on-write view,
//!   `mm`'s [`map_private_from`](::mm::AddressSpace::map_private_from):
//!   Linux `MAP_PRIVATE` of a file that a file server keeps in shared
//!   memory) and [`SHARE_ONCE`] (the handle ends with its first
//!   successful mapping: a file server grants one per `mmap`, so handles
//!   do not pile up).
//! - `map_handle(handle, addr)` → the length: maps the shared range at
//!   `addr` in the caller, which must be the granted process (`-EPERM`
//!   otherwise). `-EBADF` for an unknown handle, one whose maker has
//!   ended, or whose range its maker has unmapped since; a bad or
//!   overlapping `addr` fails as in `map_anon`.
//!
//! A file server keeps a file's end with `shared_end` (`shared_end.rs`),
//! which takes the pages past it away from every mapping.
//!
//! A handle lives as long as the process that made it ([`forget`] at its
//! end, and when it execs another program). A mapping made from it is the
//! mapper's own: it lasts until unmapped or until the mapper ends, even
//! after the maker ended. The pages stay charged to the
//! maker's PM and are freed with the last mapping of them.

use super::memory::{errno, prot, with_space};
use super::{Context, Errno, SyscallResult};
use crate::dispatch;
use ::mm::{MapOptions, Prot};
use alloc::collections::BTreeMap;

/// Most live handles, all processes.
pub const MAX_SHARES: usize = 4096;
/// `share`'s `prot` bit for a private, copy-on-write view.
pub const SHARE_PRIVATE: u64 = 1 << 3;
/// `share`'s `prot` bit for a handle good for one mapping.
pub const SHARE_ONCE: u64 = 1 << 4;

/// One grant.
#[derive(Clone, Copy)]
struct Share {
    owner: u32,
    grantee: u32,
    addr: u64,
    len: u64,
    prot: Prot,
    private: bool,
    once: bool,
}

struct Shares {
    next: u32,
    live: BTreeMap<u64, Share>,
}

/// Handle → grant. A handle is `maker pid << 32 | serial`.
static SHARES: spin::Mutex<Shares> = spin::Mutex::new(Shares {
    next: 1,
    live: BTreeMap::new(),
});

/// `map_shared(addr, len, prot)`.
pub fn sys_map_shared(cx: &mut Context<'_>) -> SyscallResult {
    let a = &cx.args;
    let p = prot(a[2])?;
    let opts = MapOptions {
        shared: true,
        ..MapOptions::default()
    };
    with_space(|s| s.map_anon(a[0], a[1], p, opts))?;
    Ok(0)
}

/// `share(addr, len, pid, prot)`.
pub fn sys_share(cx: &mut Context<'_>) -> SyscallResult {
    let [addr, len, pid, bits, ..] = cx.args;
    if bits & !(7 | SHARE_PRIVATE | SHARE_ONCE) != 0 {
        return Err(Errno::Einval);
    }
    let p = prot(bits & 7)?;
    let pid = u32::try_from(pid).map_err(|_| Errno::Einval)?;
    let me = dispatch::current().ok_or(Errno::Einval)?;
    let space = me.process.space().ok_or(Errno::Esrch)?;
    let info = space.region_at(addr).map_err(|_| Errno::Einval)?;
    let inside = addr.checked_add(len).is_some_and(|end| end <= info.end());
    let unit = info.unit() as u64;
    if !info.shared
        || info.kind != ::mm::RegionKind::Default
        || !inside
        || len == 0
        || !addr.is_multiple_of(unit)
        || !len.is_multiple_of(unit)
    {
        return Err(Errno::Einval);
    }
    let mut t = SHARES.lock();
    if t.live.len() >= MAX_SHARES {
        return Err(Errno::Enomem);
    }
    let handle = (u64::from(me.process.pid) << 32) | u64::from(t.next);
    t.next = t.next.wrapping_add(1).max(1);
    t.live.insert(
        handle,
        Share {
            owner: me.process.pid,
            grantee: pid,
            addr,
            len,
            prot: p,
            private: bits & SHARE_PRIVATE != 0,
            once: bits & SHARE_ONCE != 0,
        },
    );
    Ok(handle)
}

/// `map_handle(handle, addr)`.
pub fn sys_map_handle(cx: &mut Context<'_>) -> SyscallResult {
    let [handle, addr, ..] = cx.args;
    let me = dispatch::current().ok_or(Errno::Einval)?;
    let share = *SHARES.lock().live.get(&handle).ok_or(Errno::Ebadf)?;
    let owner = dispatch::process(share.owner).ok_or(Errno::Ebadf)?;
    if share.grantee != me.process.pid {
        return Err(Errno::Eperm);
    }
    let from = owner.space().ok_or(Errno::Ebadf)?;
    // The maker may have unmapped the range since.
    match from.region_at(share.addr) {
        Ok(info) if info.shared && share.addr + share.len <= info.end() => {}
        _ => return Err(Errno::Ebadf),
    }
    let here = me.process.space().ok_or(Errno::Esrch)?;
    if share.private {
        here.map_private_from(addr, &from, share.addr, share.len, share.prot)
    } else {
        here.map_shared_from(addr, &from, share.addr, share.len, share.prot)
    }
    .map_err(errno)?;
    if share.once {
        SHARES.lock().live.remove(&handle);
    }
    Ok(share.len)
}

/// Drops the handles process `pid` made (it ended); mappings made from
/// them stay.
pub fn forget(pid: u32) {
    SHARES.lock().live.retain(|_, s| s.owner != pid);
}

/// Live handles (tests).
pub fn live() -> usize {
    SHARES.lock().live.len()
}

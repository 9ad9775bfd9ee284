//! `probe(addr, len, write)`: makes sure the caller may read (or, with
//! `write` non-zero, write) `[addr, addr + len)` by resolving each page's
//! fault through the memory objects now: 0, or `-EFAULT` if a page cannot
//! be had (no region, the protection, or past the end of a mapped file:
//! the file server's FCM refuses it). The Linux system library probes a
//! program's buffer in a file mapping before it copies to or from it, so a
//! call given a pointer past the end of a mapped file fails with `EFAULT`
//! as on Linux instead of faulting in the library.

use super::memory::with_space;
use super::{Context, Errno, SyscallResult};
use ::mm::{Access, MmError, Resolved};

/// Most bytes one call probes.
pub const MAX_PROBE: u64 = 64 << 20;

/// `probe(addr, len, write)`.
pub fn sys_probe(cx: &mut Context<'_>) -> SyscallResult {
    let [addr, len, write, ..] = cx.args;
    if len == 0 {
        return Ok(0);
    }
    let end = addr
        .checked_add(len)
        .filter(|_| len <= MAX_PROBE)
        .ok_or(Errno::Efault)?;
    let access = if write != 0 {
        Access::Write
    } else {
        Access::Read
    };
    with_space(|s| {
        let mut page = addr & !0xfff;
        while page < end {
            match s.fault(page, access)? {
                Resolved::Mapped => {}
                // Being read in: the caller's copy will wait for it.
                Resolved::Pending(_) => return Err(MmError::BadAddress(page)),
            }
            page += 0x1000;
        }
        Ok(())
    })
    .map_err(|_| Errno::Efault)?;
    Ok(0)
}

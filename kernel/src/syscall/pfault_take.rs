//! `pfault_take(buf, max)`: takes the page-fault completions queued for
//! the calling dispatcher (K42's page-fault completion, delivered with the
//! soft interrupt `SOFT_PFAULT`; see `crate::mm::upcall`). Writes up to
//! `max` pairs of words `(io, result)` at `buf` (result 0: the page is
//! in, retry the access; negative: the read failed with that errno) and
//! returns how many, oldest first; 0 when none is queued.
//!
//! Errors: `-EINVAL` outside a dispatcher or with `max` above
//! `mm::upcall::MAX_DONE`; `-EFAULT` for a bad buffer (checked before any
//! completion is taken, so none is lost to it).

use super::{Context, Errno, SyscallResult};
use crate::arch::uaccess::copy_to_user;
use crate::mm::upcall::{take, MAX_DONE};

/// Bytes per completion in the caller's buffer.
const PAIR: usize = 16;

/// The handler.
pub fn sys_pfault_take(cx: &mut Context<'_>) -> SyscallResult {
    let (buf, max) = (cx.args[0], cx.args[1]);
    let d = crate::dispatch::current().ok_or(Errno::Einval)?;
    if max > MAX_DONE as u64 {
        return Err(Errno::Einval);
    }
    let max = max as usize;
    // The whole buffer first: a bad one loses nothing.
    let mut bytes = alloc::vec![0u8; max * PAIR];
    copy_to_user(buf, &bytes)?;
    let done = take(&d, max);
    for (i, (io, result)) in done.iter().enumerate() {
        bytes[i * PAIR..i * PAIR + 8].copy_from_slice(&io.to_le_bytes());
        bytes[i * PAIR + 8..(i + 1) * PAIR].copy_from_slice(&result.to_le_bytes());
    }
    copy_to_user(buf, &bytes[..done.len() * PAIR])?;
    Ok(done.len() as u64)
}

//! `shared_end(addr, size)`: a file server sets the end of a file it
//! keeps in shared memory. `addr` is the start of the caller's shared
//! region (`map_shared`) holding the file, `size` the file's length in
//! bytes (`u64::MAX`: no end). The region's FCM then refuses faults past
//! the page holding the end (the mapper's library turns the fault into
//! SIGBUS, as Linux does past the end of a mapped file), and the pages
//! past it leave the FCM and are unmapped from every Region over it, in
//! every process (K42: the FCM unmaps them through the HATs of its
//! attachments). Returns how many pages were dropped. `-EINVAL` if `addr`
//! is not the start of a shared default region or `size` passes its end.

use super::memory::with_space;
use super::{Context, SyscallResult};

/// `shared_end(addr, size)`.
pub fn sys_shared_end(cx: &mut Context<'_>) -> SyscallResult {
    let [addr, size, ..] = cx.args;
    let size = (size != u64::MAX).then_some(size);
    let dropped = with_space(|s| s.set_shared_end(addr, size))?;
    Ok(dropped as u64)
}

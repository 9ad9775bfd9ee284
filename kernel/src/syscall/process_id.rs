//! `process_id()`: the id of the calling process, as the kernel names it
//! (PPC servers see callers by it; the system library answers `getpid`
//! with it). `-EINVAL` for a program run outside the dispatcher scheduler.

use super::{Context, Errno, SyscallResult};

/// The handler.
pub fn sys_process_id(_cx: &mut Context<'_>) -> SyscallResult {
    let d = crate::dispatch::current().ok_or(Errno::Einval)?;
    Ok(u64::from(d.process.pid))
}

//! `yield()`: gives up the rest of the time slice. With one user context
//! per processor (no dispatcher scheduler wired in yet) there is nothing
//! else to run, so it returns at once; it is still a full kernel entry and
//! exit, which the SSE test uses to check that user registers survive.

use super::SyscallResult;

/// Always succeeds.
pub fn sys_yield(_args: &[u64; 6]) -> SyscallResult {
    Ok(0)
}

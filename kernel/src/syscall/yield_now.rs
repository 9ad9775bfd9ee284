//! `yield()`: gives up the rest of the time slice. A dispatcher run by the
//! kernel scheduler leaves the processor when the call returns and the
//! scheduler picks again (itself, if it is still the most deserving); a
//! program run directly (`process::spawn_and_wait`) just continues.

use super::{Context, SyscallResult};

/// Always succeeds.
pub fn sys_yield(_cx: &mut Context<'_>) -> SyscallResult {
    crate::dispatch::user_yield();
    Ok(0)
}

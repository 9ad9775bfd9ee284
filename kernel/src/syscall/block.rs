//! `block()`: the dispatcher has nothing to do until a PPC (later also an
//! async message, a soft interrupt or a timer) wakes it. A program run
//! directly, outside the dispatcher scheduler, cannot block: `-EINVAL`.

use super::{Context, Errno, SyscallResult};

/// Leaves the processor when the call returns.
pub fn sys_block(_cx: &mut Context<'_>) -> SyscallResult {
    if crate::dispatch::user_block() {
        Ok(0)
    } else {
        Err(Errno::Einval)
    }
}

//! `exit_dispatcher(status)`: ends the calling program. Until there are
//! processes with several dispatchers, the program is the dispatcher.

use super::{Context, SyscallResult};
use crate::arch::usermode;

/// The status is the low 8 bits of the first argument, as on Linux.
pub fn sys_exit(cx: &mut Context<'_>) -> SyscallResult {
    let args = &cx.args;
    usermode::finish(args[0] & 0xff);
    Ok(0)
}

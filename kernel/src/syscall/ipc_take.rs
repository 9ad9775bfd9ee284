//! `ipc_take(id)`: the reply of a released PPC (K42's *IPC return*; see
//! `crate::ppc`, "Released calls"). The calling dispatcher's call `id`
//! was released when its server blocked; once the IPC-return upcall has
//! said it is answered, the thread that made it takes the reply: the
//! register block and page go to this processor's PPC region, and the
//! call returns the server's status with the reply length in `rdx`, as
//! `ipc_call` does.
//!
//! Errors: `-EINVAL` for an id naming no released call of this
//! dispatcher (or taken already); `-EAGAIN` while the server has not
//! returned; `-EFAULT` if the PPC region is not mapped.

use super::{Context, SyscallResult};

/// The handler.
pub fn sys_ipc_take(cx: &mut Context<'_>) -> SyscallResult {
    let mut len = 0;
    let status = crate::ppc::ipc_take(cx.args[0], &mut len)?;
    cx.frame.rdx = len;
    Ok(status)
}

//! The PPC and messaging calls: `set_entry_point`, `ipc_call`,
//! `ipc_return`, `export`, `grant`, `async_send`, `soft_interrupt`,
//! `create_dispatcher` (the mechanism is in `crate::ppc`).

use super::{Context, SyscallResult};
use crate::ppc;

/// `set_entry_point(kind, entry, stack)`.
pub fn sys_set_entry_point(cx: &mut Context<'_>) -> SyscallResult {
    let a = &cx.args;
    ppc::set_entry_point(a[0], a[1], a[2])
}

/// `ipc_call(handle, method, len, id)`.
pub fn sys_ipc_call(cx: &mut Context<'_>) -> SyscallResult {
    let a = &cx.args;
    ppc::ipc_call(a[0], a[1], a[2], a[3])
}

/// `ipc_return(status, len)`.
pub fn sys_ipc_return(cx: &mut Context<'_>) -> SyscallResult {
    let a = &cx.args;
    ppc::ipc_return(a[0], a[1])
}

/// `export(cookie)`: a handle for a new object of the caller.
pub fn sys_export(_cx: &mut Context<'_>) -> SyscallResult {
    ppc::export()
}

/// `grant(handle, pid, rights)`.
pub fn sys_grant(cx: &mut Context<'_>) -> SyscallResult {
    let a = &cx.args;
    ppc::grant(a[0], a[1], a[2])
}

/// `async_send(handle, cpu, w0, w1, w2, w3)`.
pub fn sys_async_send(cx: &mut Context<'_>) -> SyscallResult {
    let a = &cx.args;
    ppc::async_send(a[0], a[1], [a[2], a[3], a[4], a[5]])
}

/// `soft_interrupt(cpu, bits)`.
pub fn sys_soft_interrupt(cx: &mut Context<'_>) -> SyscallResult {
    let a = &cx.args;
    ppc::soft_interrupt(a[0], a[1])
}

/// `create_dispatcher(cpu, entry, stack)`.
pub fn sys_create_dispatcher(cx: &mut Context<'_>) -> SyscallResult {
    let a = &cx.args;
    ppc::create_dispatcher(a[0], a[1], a[2])
}

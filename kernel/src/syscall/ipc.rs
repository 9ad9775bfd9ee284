//! The PPC and messaging calls: `set_entry_point`, `ipc_call`,
//! `ipc_return`, `export`, `grant`, `async_send`, `soft_interrupt`,
//! `create_dispatcher` (the mechanism is in `crate::ppc`).

use super::SyscallResult;
use crate::ppc;

/// `set_entry_point(kind, entry, stack)`.
pub fn sys_set_entry_point(a: &[u64; 6]) -> SyscallResult {
    ppc::set_entry_point(a[0], a[1], a[2])
}

/// `ipc_call(handle, method, len)`.
pub fn sys_ipc_call(a: &[u64; 6]) -> SyscallResult {
    ppc::ipc_call(a[0], a[1], a[2])
}

/// `ipc_return(status, len)`.
pub fn sys_ipc_return(a: &[u64; 6]) -> SyscallResult {
    ppc::ipc_return(a[0], a[1])
}

/// `export(cookie)`: a handle for a new object of the caller.
pub fn sys_export(_a: &[u64; 6]) -> SyscallResult {
    ppc::export()
}

/// `grant(handle, pid, rights)`.
pub fn sys_grant(a: &[u64; 6]) -> SyscallResult {
    ppc::grant(a[0], a[1], a[2])
}

/// `async_send(handle, cpu, w0, w1, w2, w3)`.
pub fn sys_async_send(a: &[u64; 6]) -> SyscallResult {
    ppc::async_send(a[0], a[1], [a[2], a[3], a[4], a[5]])
}

/// `soft_interrupt(cpu, bits)`.
pub fn sys_soft_interrupt(a: &[u64; 6]) -> SyscallResult {
    ppc::soft_interrupt(a[0], a[1])
}

/// `create_dispatcher(cpu, entry, stack)`.
pub fn sys_create_dispatcher(a: &[u64; 6]) -> SyscallResult {
    ppc::create_dispatcher(a[0], a[1], a[2])
}

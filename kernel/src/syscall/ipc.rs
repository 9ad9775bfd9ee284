//! The PPC calls: `set_entry_point`, `ipc_call`, `ipc_return`, `export`,
//! `grant` (the mechanism is in `crate::ppc`).

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

//! `set_fs_base(addr)` and `set_gs_base(addr)`: the FS and GS bases of the
//! calling context (what `arch_prctl(ARCH_SET_FS / ARCH_SET_GS)` become in
//! the system library).

use super::{Context, Errno, SyscallResult};
use crate::arch::usermode;

/// Refuses a non-canonical or kernel address.
pub fn sys_set_fs_base(cx: &mut Context<'_>) -> SyscallResult {
    let args = &cx.args;
    if args[0] >= ::mm::USER_END {
        return Err(Errno::Einval);
    }
    usermode::set_fs_base(args[0]);
    Ok(0)
}

/// Refuses a non-canonical or kernel address.
pub fn sys_set_gs_base(cx: &mut Context<'_>) -> SyscallResult {
    let args = &cx.args;
    if args[0] >= ::mm::USER_END {
        return Err(Errno::Einval);
    }
    usermode::set_gs_base(args[0]);
    Ok(0)
}

//! `setpgid(pid, pgid)`: moves the caller (`pid` 0) or one of its
//! children into process group `pgid` (0: the process's own id), with
//! Linux's rules, kept by the kernel (`kernel::syscall::pgrp`): `ESRCH`
//! for a process that is neither, `EPERM` across sessions, for a session
//! leader or a group of another session, `EINVAL` for a negative id.

use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, pgid) = (a[0] as i32, a[1] as i32);
    if pid < 0 || pgid < 0 {
        return Err(Errno::EINVAL);
    }
    ctx.native.process_group(1, pid.into(), pgid.into())
}

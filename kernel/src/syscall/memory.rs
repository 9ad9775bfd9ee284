//! `map_anon(addr, len, prot)`, `unmap(addr, len)`, `protect(addr, len,
//! prot)`: the calling process's anonymous memory, at addresses the
//! caller (its system library) chooses. `prot` uses Linux's `PROT_READ`
//! (1), `PROT_WRITE` (2) and `PROT_EXEC` (4) bits; ranges are page
//! aligned; the errors are `mm`'s, as errno values.

use super::{Context, Errno, SyscallResult};
use ::mm::{MapOptions, MmError, Prot};

pub(super) fn prot(bits: u64) -> Result<Prot, Errno> {
    if bits & !7 != 0 {
        return Err(Errno::Einval);
    }
    Ok(Prot {
        read: bits & 1 != 0,
        write: bits & 2 != 0,
        exec: bits & 4 != 0,
    })
}

pub(super) fn errno(e: MmError) -> Errno {
    match e {
        MmError::BadAddress(_) | MmError::Protection(_) => Errno::Efault,
        MmError::OutOfMemory => Errno::Enomem,
        _ => Errno::Einval,
    }
}

pub(super) fn with_space<R>(
    f: impl FnOnce(&crate::mm::user::Space) -> Result<R, MmError>,
) -> Result<R, Errno> {
    let d = crate::dispatch::current().ok_or(Errno::Enosys)?;
    let space = d.process.space().ok_or(Errno::Esrch)?;
    f(&space).map_err(errno)
}

/// Maps zero-filled memory.
pub fn sys_map_anon(cx: &mut Context<'_>) -> SyscallResult {
    let a = &cx.args;
    let p = prot(a[2])?;
    with_space(|s| s.map_anon(a[0], a[1], p, MapOptions::default()))?;
    Ok(0)
}

/// Unmaps.
pub fn sys_unmap(cx: &mut Context<'_>) -> SyscallResult {
    let a = &cx.args;
    with_space(|s| s.unmap(a[0], a[1]))?;
    Ok(0)
}

/// Changes protection.
pub fn sys_protect(cx: &mut Context<'_>) -> SyscallResult {
    let a = &cx.args;
    let p = prot(a[2])?;
    with_space(|s| s.protect(a[0], a[1], p))?;
    Ok(0)
}

//! `console_write(buf, len)`: writes user bytes to the kernel console (a
//! debugging call, until the console server takes over). Returns `len`,
//! or `-EFAULT` if any byte is not readable user memory.

use super::{Context, Errno, SyscallResult};
use crate::arch::uaccess::copy_from_user;

/// Longest write, per call.
const MAX: u64 = 4096;

/// Copies the bytes in and prints them, or keeps them when a test or the
/// difftest runner captures this processor's output
/// ([`crate::process::capture`]).
pub fn sys_console_write(cx: &mut Context<'_>) -> SyscallResult {
    let args = &cx.args;
    let (buf, len) = (args[0], args[1]);
    if len > MAX {
        return Err(Errno::Einval);
    }
    let mut bytes = [0u8; MAX as usize];
    let bytes = &mut bytes[..len as usize];
    copy_from_user(bytes, buf)?;
    let text = core::str::from_utf8(bytes).unwrap_or("<not UTF-8>");
    if !crate::process::captured(text) {
        crate::print!("{text}");
    }
    Ok(len)
}

/// `kernel_log(buf, len)`: a diagnostic line for the kernel log (a
/// `WARN` line naming the process), not part of the program's output:
/// the system library reports unimplemented calls this way.
pub fn sys_kernel_log(cx: &mut Context<'_>) -> SyscallResult {
    let args = &cx.args;
    let (buf, len) = (args[0], args[1].min(MAX));
    let mut bytes = [0u8; MAX as usize];
    let bytes = &mut bytes[..len as usize];
    copy_from_user(bytes, buf)?;
    let text = core::str::from_utf8(bytes)
        .unwrap_or("<not UTF-8>")
        .trim_end();
    let pid = crate::dispatch::current().map_or(0, |d| d.process.pid);
    log::warn!("process {pid}: {text}");
    Ok(len)
}

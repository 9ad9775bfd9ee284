//! `process_group(op, pid, pgid)`: Linux process groups and sessions,
//! kept by the kernel per process (`Process::pgid`, `Process::sid`)
//! because `signal_send` to a group (`kill(-pgid)`) must find every
//! member, in any process. A forked process starts in its parent's group
//! and session; exec keeps both; a process the kernel starts leads its
//! own group, in the kernel's session 0.
//!
//! `op` 0 `getpgid(pid)`, 1 `setpgid(pid, pgid)`, 2 `getsid(pid)`,
//! 3 `setsid()`, 4 the caller's parent (`getppid`), 5 the caller stops
//! by signal `pid` (the library's default action of a stop signal:
//! `signal::stopped`); `pid` 0 is the caller. Linux's rules: `setpgid` moves
//! the caller or one of its children (else `ESRCH`), in its session
//! (else `EPERM`), not a session leader (`EPERM`), into a group of that
//! session or a new one named by the process's own id (else `EPERM`);
//! a negative group is `EINVAL`. `setsid` is `EPERM` for a group leader
//! (any process already in the group named by the caller's id); otherwise
//! the caller leads a new session and group, and gets its id. A new
//! session has no controlling terminal: the console belongs to at most
//! one session, which has a foreground group (`terminal.rs`).

use super::{Context, Errno, SyscallResult};
use crate::dispatch;
use core::sync::atomic::Ordering;

/// `getpgid`.
pub const GETPGID: u64 = 0;
/// `setpgid`.
pub const SETPGID: u64 = 1;
/// `getsid`.
pub const GETSID: u64 = 2;
/// `setsid`.
pub const SETSID: u64 = 3;
/// The caller's parent (`getppid`; 0: the kernel started it).
pub const GETPPID: u64 = 4;
/// The caller stops by signal `pid` (`signal::stopped`).
pub const STOP: u64 = 5;

/// Serializes the changes (a check and its update are one step).
static LOCK: spin::Mutex<()> = spin::Mutex::new(());

/// The handler.
pub fn sys_process_group(cx: &mut Context<'_>) -> SyscallResult {
    let [op, pid, pgid, ..] = cx.args;
    let me = dispatch::current().ok_or(Errno::Einval)?;
    let me = &me.process;
    let pid = match pid as i64 {
        0 => me.pid,
        p if p < 0 || p > i64::from(u32::MAX) => return Err(Errno::Esrch),
        p => p as u32,
    };
    let _g = LOCK.lock();
    let target = || {
        if pid == me.pid {
            Some(me.clone())
        } else {
            dispatch::process(pid)
        }
    };
    match op {
        GETPGID => Ok(u64::from(
            target().ok_or(Errno::Esrch)?.pgid.load(Ordering::Relaxed),
        )),
        GETSID => Ok(u64::from(
            target().ok_or(Errno::Esrch)?.sid.load(Ordering::Relaxed),
        )),
        SETPGID => {
            let pgid = match pgid as i64 {
                0 => pid,
                g if g < 0 || g > i64::from(u32::MAX) => return Err(Errno::Einval),
                g => g as u32,
            };
            let t = target().ok_or(Errno::Esrch)?;
            let child = t.parent.load(Ordering::Relaxed) == u64::from(me.pid);
            if t.pid != me.pid && !child {
                return Err(Errno::Esrch);
            }
            let sid = me.sid.load(Ordering::Relaxed);
            if t.sid.load(Ordering::Relaxed) != sid || t.sid.load(Ordering::Relaxed) == t.pid {
                return Err(Errno::Eperm);
            }
            if pgid != t.pid {
                let exists = dispatch::processes().iter().any(|p| {
                    p.pgid.load(Ordering::Relaxed) == pgid && p.sid.load(Ordering::Relaxed) == sid
                });
                if !exists {
                    return Err(Errno::Eperm);
                }
            }
            t.pgid.store(pgid, Ordering::Relaxed);
            Ok(0)
        }
        SETSID => {
            let leader = dispatch::processes()
                .iter()
                .any(|p| p.pgid.load(Ordering::Relaxed) == me.pid);
            if leader {
                return Err(Errno::Eperm);
            }
            me.sid.store(me.pid, Ordering::Relaxed);
            me.pgid.store(me.pid, Ordering::Relaxed);
            Ok(u64::from(me.pid))
        }
        GETPPID => Ok(me.parent.load(Ordering::Relaxed)),
        STOP => {
            drop(_g);
            super::signal::stopped(me, pid.min(64));
            Ok(0)
        }
        _ => Err(Errno::Einval),
    }
}

//! `waitid(idtype, id, infop, options, rusage)`: waits for a child to
//! end, as `wait4` (the kernel's `wait_child`, interrupted by signals the
//! same way), and describes it in a `siginfo_t`: `SIGCHLD`, `CLD_EXITED`
//! with the exit code or `CLD_KILLED` with the signal, the child's pid.
//! `P_ALL`, `P_PID` and `P_PGID`; `WEXITED`, `WSTOPPED` (`CLD_STOPPED`)
//! and `WCONTINUED` (`CLD_CONTINUED`); `WNOHANG` returns 0 with a
//! zeroed `si_pid` while children run. `WNOWAIT` (leave the child
//! waitable) is `EINVAL` for now: the kernel's collection is final.

use crate::signal::{self, code, sig::SIGCHLD, ERESTARTSYS};
use crate::{Ctx, Errno, SysResult};

const WNOHANG: u64 = 1;
const WEXITED: u64 = 4;
const WSTOPPED: u64 = 2;
const WCONTINUED: u64 = 8;
const WNOWAIT: u64 = 0x0100_0000;
const P_ALL: u64 = 0;
const P_PID: u64 = 1;
const P_PGID: u64 = 2;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (idtype, id, infop, options, rusage) = (a[0], a[1] as i32, a[2], a[3], a[4]);
    if options & (WEXITED | WSTOPPED | WCONTINUED) == 0
        || options & WNOWAIT != 0
        || options & !(WNOHANG | WEXITED | WSTOPPED | WCONTINUED) != 0
    {
        return Err(Errno::EINVAL);
    }
    let want = match idtype {
        P_ALL => 0,
        P_PID if id > 0 => id as u32,
        P_PGID if id >= 0 => {
            let g = if id == 0 {
                ctx.native.process_group(0, 0, 0).unwrap_or(0) as i32
            } else {
                id
            };
            g.wrapping_neg() as u32
        }
        _ => return Err(Errno::EINVAL),
    };
    let mut info = [0u8; 128];
    loop {
        match ctx
            .native
            .wait_child_options(want, options & (WSTOPPED | WCONTINUED))
        {
            Ok((_, status))
                if status < 0x1000 && ctx.st.actions[SIGCHLD as usize - 1].handler == 1 =>
            {
                continue
            }
            Ok((child, status)) => {
                let (c, value) = match status {
                    0x2000 => (code::CLD_CONTINUED, 18),
                    s if s & 0x1000 != 0 => (code::CLD_STOPPED, s & 0xff),
                    129..=192 => (code::CLD_KILLED, status - 128),
                    s => (code::CLD_EXITED, s & 0xff),
                };
                info[..4].copy_from_slice(&(SIGCHLD as i32).to_le_bytes());
                info[8..12].copy_from_slice(&c.to_le_bytes());
                info[16..20].copy_from_slice(&child.to_le_bytes());
                info[24..28].copy_from_slice(&(value as i32).to_le_bytes());
                break;
            }
            Err(e) if e == Errno::EAGAIN => {
                if options & WNOHANG != 0 {
                    break;
                }
                if signal::wait(ctx) {
                    return Err(ERESTARTSYS);
                }
            }
            Err(e) => return Err(e),
        }
    }
    if infop != 0 {
        ctx.write_user(infop, &info)?;
    }
    if rusage != 0 {
        ctx.write_user(rusage, &[0u8; 144])?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn refusals() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        assert_eq!(
            call(&mut l, g::__NR_waitid, &[0, 0, m, 0]),
            err(Errno::EINVAL),
            "no WEXITED"
        );
        assert_eq!(
            call(&mut l, g::__NR_waitid, &[9, 0, m, 4]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_waitid, &[0, 0, m, 4]),
            err(Errno::ECHILD)
        );
    }
}

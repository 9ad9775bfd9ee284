//! `prlimit64(pid, resource, new, old)`: the resource limits of this
//! process (pid 0 or its own; others `ESRCH`), starting at Linux's
//! defaults. Recorded and reported; only the library's own allocations
//! would enforce them, and none does yet.

use crate::{Ctx, Errno, Rlimit, SysResult, RLIM_INFINITY};
use linux_raw_sys::general as g;

const _: () = assert!(core::mem::size_of::<g::rlimit64>() == 16);

/// Linux's defaults for a process started by the kernel.
pub fn defaults() -> [Rlimit; g::RLIM_NLIMITS as usize] {
    let inf = Rlimit {
        cur: RLIM_INFINITY,
        max: RLIM_INFINITY,
    };
    let mut r = [inf; g::RLIM_NLIMITS as usize];
    let set =
        |r: &mut [Rlimit], res: u32, cur: u64, max: u64| r[res as usize] = Rlimit { cur, max };
    set(&mut r, g::RLIMIT_STACK, 8 << 20, RLIM_INFINITY);
    set(&mut r, g::RLIMIT_CORE, 0, RLIM_INFINITY);
    set(&mut r, g::RLIMIT_NOFILE, 1024, 4096);
    set(&mut r, g::RLIMIT_MEMLOCK, 8 << 20, 8 << 20);
    set(&mut r, g::RLIMIT_MSGQUEUE, 819_200, 819_200);
    set(&mut r, g::RLIMIT_NICE, 0, 0);
    set(&mut r, g::RLIMIT_RTPRIO, 0, 0);
    r
}

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, resource, new, old) = (a[0] as i32, a[1] as u32, a[2], a[3]);
    if pid != 0 && pid as u32 != ctx.st.pid {
        return Err(Errno::ESRCH);
    }
    if resource >= g::RLIM_NLIMITS {
        return Err(Errno::EINVAL);
    }
    let new = if new != 0 {
        let l = Rlimit {
            cur: ctx.read_u64(new)?,
            max: ctx.read_u64(new + 8)?,
        };
        if l.cur > l.max {
            return Err(Errno::EINVAL);
        }
        Some(l)
    } else {
        None
    };
    let was = ctx.st.rlimits[resource as usize];
    if let Some(l) = new {
        ctx.st.rlimits[resource as usize] = l;
    }
    if old != 0 {
        ctx.write_u64(old, was.cur)?;
        ctx.write_u64(old + 8, was.max)?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn reads_and_sets() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        assert_eq!(
            call(
                &mut l,
                g::__NR_prlimit64,
                &[0, g::RLIMIT_STACK.into(), 0, m]
            ),
            0
        );
        assert_eq!(
            l.native.peek(m, 16),
            [(8u64 << 20).to_le_bytes(), u64::MAX.to_le_bytes()].concat()
        );
        l.native.poke(
            m + 32,
            &[100u64.to_le_bytes(), 200u64.to_le_bytes()].concat(),
        );
        assert_eq!(
            call(
                &mut l,
                g::__NR_prlimit64,
                &[1, g::RLIMIT_NOFILE.into(), m + 32, m]
            ),
            0
        );
        assert_eq!(
            l.native.peek(m, 8),
            1024u64.to_le_bytes(),
            "the old soft limit"
        );
        assert_eq!(
            call(
                &mut l,
                g::__NR_prlimit64,
                &[0, g::RLIMIT_NOFILE.into(), 0, m]
            ),
            0
        );
        assert_eq!(
            l.native.peek(m, 16),
            [100u64.to_le_bytes(), 200u64.to_le_bytes()].concat()
        );
    }

    #[test]
    fn refusals() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        assert_eq!(
            call(&mut l, g::__NR_prlimit64, &[5, 3, 0, m]),
            err(Errno::ESRCH)
        );
        assert_eq!(
            call(&mut l, g::__NR_prlimit64, &[0, 16, 0, m]),
            err(Errno::EINVAL)
        );
        l.native
            .poke(m, &[300u64.to_le_bytes(), 200u64.to_le_bytes()].concat());
        assert_eq!(
            call(&mut l, g::__NR_prlimit64, &[0, 7, m, 0]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_prlimit64, &[0, 7, 0x10, 0]),
            err(Errno::EFAULT)
        );
        assert_eq!(
            call(&mut l, g::__NR_prlimit64, &[0, 7, 0, crate::mock::TEXT]),
            err(Errno::EFAULT)
        );
    }
}

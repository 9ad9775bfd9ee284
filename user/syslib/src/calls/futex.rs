//! `futex(uaddr, op, val, timeout, uaddr2, val3)`: `FUTEX_WAIT` and
//! `FUTEX_WAKE`, and their `_BITSET` forms with the match-any bitset, on
//! the kernel's `futex_wait`/`futex_wake` (`kernel::syscall::futex`).
//!
//! With several threads the waits and wake-ups of the process's own
//! threads are the library's (`threads`); the kernel's serve other
//! processes and a single-threaded one.
//!
//! `FUTEX_PRIVATE_FLAG` changes nothing here: the kernel keys a word of
//! shared memory (`mmap(MAP_SHARED | MAP_ANONYMOUS)`) by its frame and a
//! private one by (process, address) either way, so waiters in a parent
//! and its forked children meet on shared memory and only there.
//! `FUTEX_WAIT` takes a relative timeout, `FUTEX_WAIT_BITSET` an absolute
//! one on `CLOCK_MONOTONIC` (or `CLOCK_REALTIME` with
//! `FUTEX_CLOCK_REALTIME`: the same clock here, see `clock_gettime`); a
//! timeout already past still checks the word first (`EAGAIN` before
//! `ETIMEDOUT`, as Linux). A soft interrupt ending the kernel's wait is
//! `EINTR`, which callers retry as after a signal. Not yet: bitsets other
//! than match-any, requeue, wake-op and the priority-inheritance
//! operations (`ENOSYS`).

use crate::{Access, Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

const NS: u64 = 1_000_000_000;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (uaddr, op, val, utime, val3) = (a[0], a[1] as u32, a[2] as u32, a[3], a[5] as u32);
    let cmd = op & !(g::FUTEX_PRIVATE_FLAG | g::FUTEX_CLOCK_REALTIME);
    let bitset = matches!(cmd, g::FUTEX_WAIT_BITSET | g::FUTEX_WAKE_BITSET);
    match cmd {
        g::FUTEX_WAIT | g::FUTEX_WAKE | g::FUTEX_WAIT_BITSET | g::FUTEX_WAKE_BITSET => {}
        _ => return Err(Errno::ENOSYS),
    }
    if bitset && val3 == 0 {
        return Err(Errno::EINVAL);
    }
    if bitset && val3 != g::FUTEX_BITSET_MATCH_ANY {
        return Err(Errno::ENOSYS);
    }
    if !uaddr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    ctx.st.mem.check(uaddr, 4, Access::Read)?;
    if matches!(cmd, g::FUTEX_WAKE | g::FUTEX_WAKE_BITSET) {
        return crate::threads::futex_wake(ctx, uaddr, val).map(u64::from);
    }
    let timeout = match utime {
        0 => 0,
        at => {
            let mut ts = [0u8; 16];
            ctx.read_user(at, &mut ts)?;
            let sec = i64::from_le_bytes(ts[..8].try_into().expect("8 bytes"));
            let nsec = i64::from_le_bytes(ts[8..].try_into().expect("8 bytes"));
            if sec < 0 || !(0..NS as i64).contains(&nsec) {
                return Err(Errno::EINVAL);
            }
            let t = (sec as u64).saturating_mul(NS).saturating_add(nsec as u64);
            let left = if cmd == g::FUTEX_WAIT_BITSET {
                t.saturating_sub(super::clock_gettime::now(ctx))
            } else {
                t
            };
            // The kernel's 0 is "no timeout": the shortest one is 1 ns.
            left.max(1)
        }
    };
    crate::threads::futex_wait(ctx, uaddr, val, timeout)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mem::PAGE;
    use crate::mock::{t::*, Op};
    use crate::Errno;
    use linux_raw_sys::general as g;

    const WAIT: u64 = (g::FUTEX_WAIT | g::FUTEX_PRIVATE_FLAG) as u64;
    const WAKE: u64 = g::FUTEX_WAKE as u64;
    const ETIMEDOUT: Errno = Errno(linux_raw_sys::errno::ETIMEDOUT);

    fn timespec(l: &mut crate::Syslib<crate::mock::MockNative>, at: u64, sec: i64, nsec: i64) {
        l.native.poke(at, &sec.to_le_bytes());
        l.native.poke(at + 8, &nsec.to_le_bytes());
    }

    #[test]
    fn wait_checks_the_word_and_passes_the_timeout() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.poke(m, &7u32.to_le_bytes());
        let ts = m + 64;
        assert_eq!(
            call(&mut l, g::__NR_futex, &[m, WAIT, 8, 0, 0, 0]),
            err(Errno::EAGAIN)
        );
        assert_eq!(
            call(&mut l, g::__NR_futex, &[m, WAIT, 7, 0, 0, 0]),
            0,
            "woken (spuriously)"
        );
        timespec(&mut l, ts, 1, 500);
        assert_eq!(
            call(&mut l, g::__NR_futex, &[m, WAIT, 7, ts, 0, 0]),
            err(ETIMEDOUT)
        );
        timespec(&mut l, ts, 0, 0);
        assert_eq!(
            call(&mut l, g::__NR_futex, &[m, WAIT, 7, ts, 0, 0]),
            err(ETIMEDOUT)
        );
        let waits: std::vec::Vec<_> = l
            .native
            .ops
            .iter()
            .filter_map(|o| match o {
                Op::FutexWait(a, v, t) => Some((*a, *v, *t)),
                _ => None,
            })
            .collect();
        assert_eq!(
            waits,
            [(m, 8, 0), (m, 7, 0), (m, 7, 1_000_000_500), (m, 7, 1)],
            "a zero timeout is the shortest one, not none"
        );
    }

    #[test]
    fn bitset_wait_takes_an_absolute_time() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        let ts = m + 64;
        l.native.kernel_clock = Some(5 * super::NS);
        let op = u64::from(g::FUTEX_WAIT_BITSET | g::FUTEX_CLOCK_REALTIME);
        let any = u64::from(g::FUTEX_BITSET_MATCH_ANY);
        timespec(&mut l, ts, 7, 0);
        assert_eq!(
            call(&mut l, g::__NR_futex, &[m, op, 0, ts, 0, any]),
            err(ETIMEDOUT)
        );
        timespec(&mut l, ts, 2, 0);
        assert_eq!(
            call(&mut l, g::__NR_futex, &[m, op, 0, ts, 0, any]),
            err(ETIMEDOUT)
        );
        assert_eq!(
            l.native.ops[l.native.ops.len() - 2..],
            [Op::FutexWait(m, 0, 2 * super::NS), Op::FutexWait(m, 0, 1)]
        );
        assert_eq!(
            call(&mut l, g::__NR_futex, &[m, op, 0, ts, 0, 0]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_futex, &[m, op, 0, ts, 0, 1]),
            err(Errno::ENOSYS)
        );
    }

    #[test]
    fn wake_reports_how_many() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.futex_sleepers = 2;
        assert_eq!(call(&mut l, g::__NR_futex, &[m, WAKE, 1, 0, 0, 0]), 1);
        assert_eq!(call(&mut l, g::__NR_futex, &[m, WAKE, 9, 0, 0, 0]), 2);
        assert_eq!(l.native.ops.last(), Some(&Op::FutexWake(m, 9)));
    }

    #[test]
    fn bad_arguments() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        let ts = m + 64;
        assert_eq!(
            call(&mut l, g::__NR_futex, &[m + 2, WAIT, 0, 0, 0, 0]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_futex, &[m + PAGE, WAIT, 0, 0, 0, 0]),
            err(Errno::EFAULT)
        );
        assert_eq!(
            call(&mut l, g::__NR_futex, &[0, WAKE, 1, 0, 0, 0]),
            err(Errno::EFAULT)
        );
        assert_eq!(
            call(&mut l, g::__NR_futex, &[m, WAIT, 0, m + PAGE, 0, 0]),
            err(Errno::EFAULT)
        );
        timespec(&mut l, ts, 0, 1_000_000_000);
        assert_eq!(
            call(&mut l, g::__NR_futex, &[m, WAIT, 0, ts, 0, 0]),
            err(Errno::EINVAL)
        );
        timespec(&mut l, ts, -1, 0);
        assert_eq!(
            call(&mut l, g::__NR_futex, &[m, WAIT, 0, ts, 0, 0]),
            err(Errno::EINVAL)
        );
        let requeue = u64::from(g::FUTEX_CMP_REQUEUE);
        assert_eq!(
            call(&mut l, g::__NR_futex, &[m, requeue, 1, 0, m, 0]),
            err(Errno::ENOSYS)
        );
        assert!(
            !l.native
                .ops
                .iter()
                .any(|o| matches!(o, Op::FutexWait(..) | Op::FutexWake(..))),
            "no bad call reached the kernel"
        );
    }
}

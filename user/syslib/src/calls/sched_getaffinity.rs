//! `sched_getaffinity(pid, len, mask)`: the processors the caller may run
//! on: those online (`machine`), intersected with the mask a
//! `sched_setaffinity` set. musl's `sysconf(_SC_NPROCESSORS_ONLN)` and
//! `_SC_NPROCESSORS_CONF` count these bits, and so does busybox `nproc`.
//!
//! As Linux (`kernel/sched/core.c`): `len` (an `unsigned int`) must hold
//! the kernel's mask (`len * 8` at least the highest processor id + 1)
//! and be a multiple of 8 (`sizeof(long)`), else `EINVAL`; at most the
//! kernel's mask size (8 bytes: K42-rs has at most 64 processors) is
//! written, and that byte count is the result; `EFAULT` for a bad `mask`.
//!
//! `pid` 0, the process's id or one of its threads' ids name the caller;
//! any other id is `ESRCH` (the library does not know another process's
//! affinity, and every process reports the whole machine unless it set
//! its own). The mask is the process's, not the thread's: K42-rs threads
//! are the library's, on the process's dispatchers.

use crate::machine::{affinity, machine, MASK_BYTES};
use crate::{Ctx, Errno, SysResult};

/// Whether `pid` names the calling process (or one of its threads).
pub fn is_self(ctx: &Ctx<'_>, pid: i32) -> bool {
    pid == 0 || pid > 0 && (pid as u32 == ctx.st.pid || ctx.st.threads.has(pid as u32))
}

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, len, mask) = (a[0] as i32, u64::from(a[1] as u32), a[2]);
    let m = machine(ctx.native, ctx.st.cpu);
    let nr_cpu_ids = u64::from(64 - m.online_mask.leading_zeros());
    if len * 8 < nr_cpu_ids || !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    if !is_self(ctx, pid) {
        return Err(Errno::ESRCH);
    }
    let n = len.min(MASK_BYTES);
    let bits = affinity(ctx).to_le_bytes();
    ctx.write_user(mask, &bits[..n as usize])?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use crate::machine::Machine;
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    fn four() -> Machine {
        Machine {
            processors: 4,
            online_mask: 0b1111,
            total_frames: 1 << 15,
            free_frames: 1 << 14,
            page_size: 4096,
            cpu: 2,
        }
    }

    #[test]
    fn the_online_processors() {
        let mut l = lib();
        l.native.machine = Some(four());
        let m = scratch(&mut l, 1);
        l.native.poke(m, &[0xff; 128]);
        assert_eq!(call(&mut l, g::__NR_sched_getaffinity, &[0, 128, m]), 8);
        assert_eq!(l.native.peek(m, 9), [0b1111, 0, 0, 0, 0, 0, 0, 0, 0xff]);
        let pid = u64::from(l.state.pid);
        assert_eq!(call(&mut l, g::__NR_sched_getaffinity, &[pid, 8, m]), 8);
    }

    #[test]
    fn without_the_kernel_call_one_processor() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        assert_eq!(call(&mut l, g::__NR_sched_getaffinity, &[0, 16, m]), 8);
        assert_eq!(l.native.peek(m, 8), [1, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn refusals() {
        let mut l = lib();
        l.native.machine = Some(four());
        let m = scratch(&mut l, 1);
        for len in [0, 4, 12] {
            assert_eq!(
                call(&mut l, g::__NR_sched_getaffinity, &[0, len, m]),
                err(Errno::EINVAL),
                "len {len}"
            );
        }
        assert_eq!(
            call(&mut l, g::__NR_sched_getaffinity, &[9999, 8, m]),
            err(Errno::ESRCH)
        );
        assert_eq!(
            call(&mut l, g::__NR_sched_getaffinity, &[u64::MAX, 8, m]),
            err(Errno::ESRCH),
            "-1"
        );
        assert_eq!(
            call(&mut l, g::__NR_sched_getaffinity, &[0, 8, 0x10]),
            err(Errno::EFAULT)
        );
        assert_eq!(
            call(
                &mut l,
                g::__NR_sched_getaffinity,
                &[0, 8, crate::mock::TEXT]
            ),
            err(Errno::EFAULT),
            "read-only"
        );
    }
}

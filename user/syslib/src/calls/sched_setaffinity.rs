//! `sched_setaffinity(pid, len, mask)`: sets the processors the process
//! may run on, as far as the program can see: `sched_getaffinity`
//! reports the mask from then on (intersected with the processors
//! online), a fork inherits it and so does an exec (as on Linux).
//!
//! Not enforced: K42-rs places a process's dispatchers by its own
//! balancer (`kernel::dispatch`), and the library does not move them. A
//! program that pins itself still runs correctly, only perhaps elsewhere.
//!
//! As Linux (`kernel/sched/core.c`, `get_user_cpu_mask`): the first
//! `min(len, 8)` bytes of `mask` are read (the kernel's mask is 8 bytes:
//! at most 64 processors; bits past it are ignored, a shorter `len`
//! leaves the rest 0), `EFAULT` if they cannot be; then `pid` is looked
//! up as in `sched_getaffinity` (0, the process or one of its threads;
//! `ESRCH` otherwise); a mask with no processor online is `EINVAL`.

use crate::calls::sched_getaffinity::is_self;
use crate::machine::{machine, MASK_BYTES};
use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (pid, len, mask) = (a[0] as i32, u64::from(a[1] as u32), a[2]);
    let n = len.min(MASK_BYTES) as usize;
    let mut bits = [0u8; MASK_BYTES as usize];
    if n > 0 {
        ctx.read_user(mask, &mut bits[..n])?;
    }
    if !is_self(ctx, pid) {
        return Err(Errno::ESRCH);
    }
    let wanted = u64::from_le_bytes(bits);
    if wanted & machine(ctx.native, ctx.st.cpu).online_mask == 0 {
        return Err(Errno::EINVAL);
    }
    ctx.st.affinity = wanted;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::machine::Machine;
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn remembered_and_reported() {
        let mut l = lib();
        l.native.machine = Some(Machine {
            processors: 4,
            online_mask: 0b1111,
            total_frames: 1 << 15,
            free_frames: 1 << 14,
            page_size: 4096,
            cpu: 0,
        });
        let m = scratch(&mut l, 1);
        // Processors 1 and 5: only 1 is online.
        l.native.poke(m, &0b10_0010u64.to_le_bytes());
        assert_eq!(call(&mut l, g::__NR_sched_setaffinity, &[0, 8, m]), 0);
        assert_eq!(call(&mut l, g::__NR_sched_getaffinity, &[0, 8, m + 64]), 8);
        assert_eq!(l.native.peek(m + 64, 8), [0b10, 0, 0, 0, 0, 0, 0, 0]);
        // A one-byte mask (the rest 0), a longer one (bits past 64 ignored).
        l.native.poke(m, &[0b1100, 0xff, 0xff]);
        assert_eq!(call(&mut l, g::__NR_sched_setaffinity, &[0, 1, m]), 0);
        assert_eq!(call(&mut l, g::__NR_sched_getaffinity, &[0, 8, m + 64]), 8);
        assert_eq!(l.native.peek(m + 64, 2), [0b1100, 0]);
        l.native.poke(m, &[1, 0, 0, 0, 0, 0, 0, 0, 0xff]);
        assert_eq!(call(&mut l, g::__NR_sched_setaffinity, &[0, 128, m]), 0);
        assert_eq!(call(&mut l, g::__NR_sched_getaffinity, &[0, 8, m + 64]), 8);
        assert_eq!(l.native.peek(m + 64, 8), [1, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn refusals() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.poke(m, &[0; 8]);
        assert_eq!(
            call(&mut l, g::__NR_sched_setaffinity, &[0, 8, m]),
            err(Errno::EINVAL),
            "no processor"
        );
        assert_eq!(
            call(&mut l, g::__NR_sched_setaffinity, &[0, 0, 0x10]),
            err(Errno::EINVAL),
            "nothing read: an empty mask"
        );
        l.native.poke(m, &[0b10]);
        assert_eq!(
            call(&mut l, g::__NR_sched_setaffinity, &[0, 8, m]),
            err(Errno::EINVAL),
            "processor 1 is not online (one processor)"
        );
        assert_eq!(
            call(&mut l, g::__NR_sched_setaffinity, &[0, 8, 0x10]),
            err(Errno::EFAULT)
        );
        l.native.poke(m, &[1]);
        assert_eq!(
            call(&mut l, g::__NR_sched_setaffinity, &[4242, 8, m]),
            err(Errno::ESRCH)
        );
        assert_eq!(l.state.affinity, crate::machine::ALL, "unchanged");
    }
}

//! `tgkill(tgid, tid, sig)`: a signal to thread `tid` of process `tgid`.
//! A thread of this process stands for the process (`tkill`); in another
//! process only its first thread, whose id is the process's, is known:
//! `tid` must then be `tgid` (else `ESRCH`). Ids <= 0 are `EINVAL`.
//! `si_code` `SI_TKILL`.

use crate::signal::{self, code};
use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (tgid, tid) = (a[0] as i32, a[1] as i32);
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let own = tgid as u32 == ctx.st.pid;
    if own && !ctx.st.threads.has(tid as u32) || !own && tid != tgid {
        return Err(Errno::ESRCH);
    }
    signal::send(ctx, i64::from(tgid), a[2], code::SI_TKILL, 0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn one_thread_per_process() {
        let mut l = lib();
        assert_eq!(call(&mut l, g::__NR_tgkill, &[1, 1, 0]), 0);
        assert_eq!(
            call(&mut l, g::__NR_tgkill, &[999, 1, 10]),
            err(Errno::ESRCH)
        );
        assert_eq!(
            call(&mut l, g::__NR_tgkill, &[0, 1, 10]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_tgkill, &[1, 1, 65]),
            err(Errno::EINVAL)
        );
    }
}

//! `kill(pid, sig)`: a signal to a process (`pid` > 0), the caller's
//! process group (0), every process it may signal (-1) or group `-pid`,
//! through the kernel's `signal_send` (`si_code` `SI_USER`); `sig` 0 only
//! checks that the target exists (`ESRCH`). Numbers above 64 are
//! `EINVAL`. A signal to the caller itself is delivered before the call
//! returns (`signal::deliver`).

use crate::signal::{self, code};
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    signal::send(ctx, i64::from(a[0] as i32), a[1], code::SI_USER, 0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn checks_the_number_and_passes_the_pid_as_an_int() {
        let mut l = lib();
        assert_eq!(call(&mut l, g::__NR_kill, &[1, 65]), err(Errno::EINVAL));
        assert_eq!(call(&mut l, g::__NR_kill, &[999, 0]), err(Errno::ESRCH));
        assert_eq!(
            call(&mut l, g::__NR_kill, &[0xffff_ffff, 0]),
            err(Errno::ESRCH)
        );
        assert_eq!(
            l.native.sig.sent.last(),
            Some(&(-1, 0, 0, 0)),
            "-1 as an int"
        );
        assert_eq!(call(&mut l, g::__NR_kill, &[1, 0]), 0);
        assert!(l.native.sig.queued.is_empty(), "0 only probes");
    }
}

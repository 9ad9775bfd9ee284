//! `rseq(area, len, flags, sig)`: restartable sequences are not offered
//! (`ENOSYS`, quietly: glibc registers an area at start-up of every
//! program and carries on without one, as on a kernel before 4.18).

use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(_: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    Err(Errno::ENOSYS)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general::__NR_rseq;

    #[test]
    fn rseq_is_not_offered() {
        let mut l = lib();
        assert_eq!(
            call(&mut l, __NR_rseq, &[0x1000, 32, 0, 0]),
            err(Errno::ENOSYS)
        );
    }
}

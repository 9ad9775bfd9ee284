//! `sendfile(out, in, offset, count)`: not offered (`ENOSYS`, quietly):
//! the callers (busybox's `cat` and `cp` among them) then copy with
//! `read` and `write`, which is what this library would do anyway.

use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(_: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    Err(Errno::ENOSYS)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general::__NR_sendfile;

    #[test]
    fn sendfile_is_not_offered() {
        let mut l = lib();
        assert_eq!(
            call(&mut l, __NR_sendfile, &[1, 0, 0, 10]),
            err(Errno::ENOSYS)
        );
    }
}

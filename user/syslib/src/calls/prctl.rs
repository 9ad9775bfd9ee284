//! `prctl(option, ...)`: `PR_SET_NAME` is accepted (the name is not kept:
//! nothing here shows thread names yet); every other option is `EINVAL`,
//! Linux's answer for an option it does not know, which C libraries and
//! busybox take in their stride.

use crate::{Ctx, Errno, SysResult};

/// `PR_SET_NAME` (`linux/prctl.h`).
pub const PR_SET_NAME: u64 = 15;
/// `PR_GET_NAME`.
pub const PR_GET_NAME: u64 = 16;

/// The handler.
pub fn call(_: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    match a[0] {
        PR_SET_NAME => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

#[cfg(test)]
mod tests {
    use super::{PR_GET_NAME, PR_SET_NAME};
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general::__NR_prctl;

    #[test]
    fn only_the_name_is_taken() {
        let mut l = lib();
        assert_eq!(call(&mut l, __NR_prctl, &[PR_SET_NAME, 0x1000]), 0);
        assert_eq!(
            call(&mut l, __NR_prctl, &[PR_GET_NAME, 0x1000]),
            err(Errno::EINVAL)
        );
    }
}

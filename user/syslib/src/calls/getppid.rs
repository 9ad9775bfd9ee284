//! `getppid()`: the parent's id: 0, the kernel started this process (as
//! Linux answers for init), until there is `fork`.

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(_: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use linux_raw_sys::general as g;

    #[test]
    fn ids() {
        let mut l = lib();
        assert_eq!(call(&mut l, g::__NR_getpid, &[]), 1);
        assert_eq!(call(&mut l, g::__NR_gettid, &[]), 1);
        assert_eq!(call(&mut l, g::__NR_getppid, &[]), 0);
        l.state.pid = 7;
        assert_eq!(call(&mut l, g::__NR_getpid, &[]), 7);
        assert_eq!(call(&mut l, g::__NR_gettid, &[]), 7);
    }
}

//! `getppid()`: the parent's id, as the kernel knows it (it follows
//! re-parenting when a parent ends first, `process_group` op 4); 0 for a
//! process the kernel started (as Linux answers for init).

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    Ok(ctx.native.process_group(4, 0, 0).unwrap_or(0))
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
        l.state.threads = crate::threads::Threads::new(7);
        assert_eq!(call(&mut l, g::__NR_getpid, &[]), 7);
        assert_eq!(call(&mut l, g::__NR_gettid, &[]), 7);
    }
}

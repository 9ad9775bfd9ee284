//! `getegid()`: the effective group id: 0 (root) until there are users; a Linux process
//! started by the kernel is root.

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
    fn everyone_is_root() {
        let mut l = lib();
        for nr in [
            g::__NR_getuid,
            g::__NR_geteuid,
            g::__NR_getgid,
            g::__NR_getegid,
        ] {
            assert_eq!(call(&mut l, nr, &[]), 0);
        }
        assert!(l.native.console.is_empty(), "none is unimplemented");
    }
}

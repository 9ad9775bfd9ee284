//! `set_tid_address(tidptr)`: records where the thread's id is cleared
//! (and a futex woken) when it exits (`threads::exit`); returns the
//! thread id.

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    ctx.st.clear_child_tid = a[0];
    Ok(u64::from(ctx.st.threads.current))
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use linux_raw_sys::general as g;

    #[test]
    fn records_and_returns_the_tid() {
        let mut l = lib();
        assert_eq!(call(&mut l, g::__NR_set_tid_address, &[0x40_2010]), 1);
        assert_eq!(l.state.clear_child_tid, 0x40_2010);
    }
}

//! `exit_group(status)`: ends the process (status & 0xff).

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    ctx.st.exit = Some(a[0] as u8);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::lib;
    use crate::Outcome;
    use linux_raw_sys::general as g;

    #[test]
    fn both_end_the_process_with_the_low_byte() {
        let mut l = lib();
        assert_eq!(
            l.handle(g::__NR_exit_group.into(), [0x1_02, 0, 0, 0, 0, 0]),
            Outcome::Exit(2)
        );
        let mut l = lib();
        assert_eq!(
            l.handle(g::__NR_exit.into(), [7, 0, 0, 0, 0, 0]),
            Outcome::Exit(7)
        );
    }
}

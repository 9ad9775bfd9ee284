//! `exit(status)`: ends the calling thread (`threads::exit`: its
//! `clear_child_tid` word is cleared and woken, another thread runs); the
//! last thread's ends the process (status & 0xff, as `wait` reports it).

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    if !crate::threads::exit(ctx) {
        ctx.st.exit = Some(a[0] as u8);
    }
    Ok(0)
}

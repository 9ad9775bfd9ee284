//! `exit(status)`: ends the calling thread; with one thread per process,
//! the process (status & 0xff, as `wait` reports it).

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    ctx.st.exit = Some(a[0] as u8);
    Ok(0)
}

//! `pipe(fds)`: `pipe2(fds, 0)`.

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    super::pipe2::call(ctx, [a[0], 0, 0, 0, 0, 0])
}

//! `vfork()`: a full copy-on-write `fork` (the parent does not wait for
//! the child's exec or exit, which is allowed: vfork only permits the
//! parent to be suspended).

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    super::fork::call(ctx, a)
}

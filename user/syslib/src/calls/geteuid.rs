//! `geteuid()`: the effective user id: 0 (root) until there are users; a Linux process
//! started by the kernel is root.

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(_: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    Ok(0)
}

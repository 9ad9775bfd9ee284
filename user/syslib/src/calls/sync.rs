//! `sync()`: nothing to write back (the file server is in memory).

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(_: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    Ok(0)
}

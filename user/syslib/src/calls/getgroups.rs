//! `getgroups(size, list)`: the process is root in no supplementary
//! groups: 0 (`EINVAL` for a negative size).

use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(_: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    if (a[0] as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

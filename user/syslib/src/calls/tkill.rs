//! `tkill(tid, sig)`: a signal to a thread. One thread per process, whose
//! id is the process's: the process `tid` (`si_code` `SI_TKILL`, as for
//! musl's `raise`). `tid` <= 0 is `EINVAL`.

use crate::signal::{self, code};
use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let tid = a[0] as i32;
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    signal::send(ctx, i64::from(tid), a[1], code::SI_TKILL, 0)
}

//! `tkill(tid, sig)`: a signal to a thread (`si_code` `SI_TKILL`, as for
//! musl's `raise`). A thread of this process stands for the process
//! (signals are delivered by whichever thread runs next: `threads`);
//! another id is the process of that id. `tid` <= 0 is `EINVAL`.

use crate::signal::{self, code};
use crate::{Ctx, Errno, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let tid = a[0] as i32;
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let tid = if ctx.st.threads.has(tid as u32) {
        ctx.st.pid
    } else {
        tid as u32
    };
    signal::send(ctx, i64::from(tid), a[1], code::SI_TKILL, 0)
}

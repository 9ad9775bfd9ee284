//! `rt_sigreturn()`: back from a signal handler: the registers, mask,
//! FPU state and alternate stack saved in its frame come back
//! (`signal::sigreturn`); the program continues where the signal found
//! it, with its `rax` as it was.

use crate::{signal, Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    signal::sigreturn(ctx)
}

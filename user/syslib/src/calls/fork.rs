//! `fork()`: a copy-on-write copy of the process (the kernel's
//! `fork_process`), which starts after the program's `syscall` with 0;
//! the parent gets the child's id. Only through trap reflection (the
//! kernel copies the program's frame from the save area): a fork through
//! the direct branch is not supported yet.

use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    ctx.native.fork_process().map(u64::from)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::{call, err, lib};
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn without_the_kernel_call_fork_is_enosys() {
        let mut l = lib();
        assert_eq!(call(&mut l, g::__NR_fork, &[]), err(Errno::ENOSYS));
    }
}

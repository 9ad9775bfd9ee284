//! `read(fd, buf, count)` at the descriptor's offset (`fs::read`): a
//! file of the file server, a `/dev` or `/proc` file, or the console,
//! which has no input yet (there is no console server to read the
//! keyboard) and so reads end of file. As in Linux, end of file touches
//! no memory, so only a buffer outside user space is `EFAULT`
//! (`access_ok`); a closed descriptor is `EBADF`.

use super::MAX_RW_COUNT;
use crate::fs::{self, AT_CURRENT};
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    fs::read(ctx, a[0], a[1], a[2].min(MAX_RW_COUNT), AT_CURRENT)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general::__NR_read;

    #[test]
    fn a_console_nobody_types_on_reads_end_of_file() {
        let mut l = lib();
        let buf = scratch(&mut l, 1);
        assert_eq!(call(&mut l, __NR_read, &[0, buf, 100]), 0);
        assert_eq!(l.native.peek(buf, 4), [0; 4]);
        // End of file copies nothing, so only access_ok applies.
        assert_eq!(call(&mut l, __NR_read, &[0, 0x10, 100]), 0);
        assert_eq!(
            call(&mut l, __NR_read, &[0, 0xffff_8000_0000_0000, 1]),
            err(Errno::EFAULT)
        );
        assert_eq!(
            call(&mut l, __NR_read, &[0, u64::MAX, 2]),
            err(Errno::EFAULT)
        );
        assert_eq!(call(&mut l, __NR_read, &[7, buf, 1]), err(Errno::EBADF));
    }
}

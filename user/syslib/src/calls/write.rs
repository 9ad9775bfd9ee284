//! `write(fd, buf, count)` at the descriptor's offset (`fs::write`): a
//! file of the file server, a `/dev` file, or the console (the kernel's
//! debug console call, until a console server takes over). The whole
//! buffer is checked first (`EFAULT`, nothing written); a closed
//! descriptor is `EBADF`.

use super::MAX_RW_COUNT;
use crate::fs::{self, AT_CURRENT};
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    fs::write(ctx, a[0], a[1], a[2].min(MAX_RW_COUNT), AT_CURRENT)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general::__NR_write;

    #[test]
    fn writes_to_the_console() {
        let mut l = lib();
        let buf = scratch(&mut l, 2);
        let text: std::vec::Vec<u8> = (0..1500).map(|i| b'a' + (i % 26) as u8).collect();
        l.native.poke(buf + 100, &text);
        assert_eq!(call(&mut l, __NR_write, &[1, buf + 100, 1500]), 1500);
        assert_eq!(l.native.console, text);
        assert_eq!(call(&mut l, __NR_write, &[2, buf, 0]), 0);
    }

    #[test]
    fn utf8_is_not_cut_between_console_writes() {
        let mut l = lib();
        let buf = scratch(&mut l, 1);
        // 511 ASCII bytes, then a 3-byte character across the 512 boundary.
        let mut text = std::vec![b'x'; 511];
        text.extend_from_slice("€ end".as_bytes());
        l.native.poke(buf, &text);
        assert_eq!(
            call(&mut l, __NR_write, &[1, buf, text.len() as u64]),
            text.len() as i64
        );
        assert_eq!(l.native.console, text);
        assert_eq!(l.native.writes.len(), 2);
        assert!(std::str::from_utf8(&l.native.writes[0]).is_ok());
        assert!(std::str::from_utf8(&l.native.writes[1]).is_ok());
    }

    #[test]
    fn bad_buffers_and_descriptors() {
        let mut l = lib();
        let buf = scratch(&mut l, 1);
        // Runs off the end of the mapping: nothing is written.
        assert_eq!(
            call(&mut l, __NR_write, &[1, buf + 4000, 200]),
            err(Errno::EFAULT)
        );
        assert_eq!(
            call(&mut l, __NR_write, &[1, u64::MAX - 4, 10]),
            err(Errno::EFAULT)
        );
        // The library's own memory is not the program's.
        assert_eq!(
            call(&mut l, __NR_write, &[1, crate::mem::LIBRARY_BASE, 10]),
            err(Errno::EFAULT)
        );
        assert_eq!(call(&mut l, __NR_write, &[3, buf, 1]), err(Errno::EBADF));
        assert!(l.native.console.is_empty());
    }
}

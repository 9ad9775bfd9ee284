//! `pipe2(fds, flags)`: a pipe of the file server (`FileSystem::pipe`,
//! see `crate::pipe`), its read end in `fds[0]` and its write end in
//! `fds[1]`; `O_NONBLOCK` (both ends' descriptions), `O_CLOEXEC` (both
//! descriptors); other flags `EINVAL` (`O_DIRECT`'s packet mode is not
//! there).

use crate::fd::Object;
use crate::{fs, Access, Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let (fds, flags) = (a[0], a[1] as u32);
    if u64::from(flags) != a[1] || flags & !(g::O_CLOEXEC | g::O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    ctx.st.mem.check(fds, 8, Access::Write)?;
    let (r, w) = fs::call(ctx, |s| s.pipe(flags & g::O_NONBLOCK))?;
    let keep = flags & (g::O_CLOEXEC | g::O_NONBLOCK);
    let rfd = match fs::install(ctx, Object::File { file: r }, g::O_RDONLY | keep) {
        Ok(n) => n,
        Err(e) => {
            let _ = fs::call(ctx, |s| s.close(w));
            return Err(e);
        }
    };
    let wfd = match fs::install(ctx, Object::File { file: w }, g::O_WRONLY | keep) {
        Ok(n) => n,
        Err(e) => {
            if let Ok(f) = ctx.st.fds.take(rfd) {
                fs::release(ctx, f);
            }
            return Err(e);
        }
    };
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&(rfd as u32).to_le_bytes());
    b[4..].copy_from_slice(&(wfd as u32).to_le_bytes());
    ctx.write_user(fds, &b)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    fn fds(l: &crate::Syslib<crate::mock::MockNative>, at: u64) -> (u64, u64) {
        let b = l.native.peek(at, 8);
        (
            u32::from_le_bytes(b[..4].try_into().unwrap()).into(),
            u32::from_le_bytes(b[4..].try_into().unwrap()).into(),
        )
    }

    #[test]
    fn a_pipe_carries_bytes_one_way_and_ends() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 2);
        assert_eq!(call(&mut l, g::__NR_pipe, &[m]), 0);
        let (r, w) = fds(&l, m);
        assert_eq!((r, w), (3, 4));
        l.native.poke(m + 100, b"through the pipe");
        assert_eq!(call(&mut l, g::__NR_write, &[w, m + 100, 16]), 16);
        assert_eq!(call(&mut l, g::__NR_read, &[r, m + 200, 7]), 7);
        assert_eq!(l.native.peek(m + 200, 7), b"through");
        let fionread = u64::from(linux_raw_sys::ioctl::FIONREAD);
        assert_eq!(call(&mut l, g::__NR_ioctl, &[r, fionread, m + 400]), 0);
        assert_eq!(
            l.native.peek(m + 400, 4),
            9u32.to_le_bytes(),
            "9 bytes left"
        );
        assert_eq!(
            call(&mut l, g::__NR_read, &[w, m + 200, 7]),
            err(Errno::EBADF)
        );
        assert_eq!(call(&mut l, g::__NR_lseek, &[r, 0, 0]), err(Errno::ESPIPE));
        assert_eq!(
            call(&mut l, g::__NR_pread64, &[r, m + 200, 1, 0]),
            err(Errno::ESPIPE)
        );
        assert_eq!(call(&mut l, g::__NR_ftruncate, &[w, 0]), err(Errno::EINVAL));
        assert_eq!(call(&mut l, g::__NR_fstat, &[r, m + 300]), 0);
        let mode = u32::from_le_bytes(l.native.peek(m + 324, 4).try_into().unwrap());
        assert_eq!(mode & g::S_IFMT, g::S_IFIFO);
        // The writer goes: the rest, then end of file.
        assert_eq!(call(&mut l, g::__NR_close, &[w]), 0);
        assert_eq!(call(&mut l, g::__NR_read, &[r, m + 200, 100]), 9);
        assert_eq!(call(&mut l, g::__NR_read, &[r, m + 200, 100]), 0);
        assert_eq!(call(&mut l, g::__NR_close, &[r]), 0);
        assert_eq!(
            call(&mut l, g::__NR_pipe2, &[m, u64::from(g::O_APPEND)]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_pipe2, &[8, 0]),
            err(Errno::EFAULT),
            "nothing is made for a bad pointer"
        );
        assert_eq!(call(&mut l, g::__NR_pipe2, &[m, 0]), 0);
        assert_eq!(fds(&l, m), (3, 4), "the numbers came back");
    }

    #[test]
    fn a_broken_pipe_is_epipe_and_sigpipe() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 1);
        let flags = u64::from(g::O_CLOEXEC | g::O_NONBLOCK);
        assert_eq!(call(&mut l, g::__NR_pipe2, &[m, flags]), 0);
        let (r, w) = fds(&l, m);
        assert_eq!(call(&mut l, g::__NR_fcntl, &[r, u64::from(g::F_GETFD)]), 1);
        assert_eq!(
            call(&mut l, g::__NR_fcntl, &[w, u64::from(g::F_GETFL)]) as u32 & g::O_NONBLOCK,
            g::O_NONBLOCK
        );
        assert_eq!(
            call(&mut l, g::__NR_read, &[r, m + 100, 10]),
            err(Errno::EAGAIN),
            "empty and non-blocking"
        );
        assert_eq!(call(&mut l, g::__NR_close, &[r]), 0);
        assert!(l.state.sig.pending.is_empty());
        assert_eq!(
            call(&mut l, g::__NR_write, &[w, m + 100, 10]),
            err(crate::pipe::EPIPE)
        );
        assert_eq!(
            l.state
                .sig
                .pending
                .iter()
                .map(|i| i.sig)
                .collect::<std::vec::Vec<_>>(),
            [g::SIGPIPE]
        );
    }

    #[test]
    fn a_full_pipe_says_eagain_without_o_nonblock_only_when_asked() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 17);
        assert_eq!(
            call(&mut l, g::__NR_pipe2, &[m, u64::from(g::O_NONBLOCK)]),
            0
        );
        let (r, w) = fds(&l, m);
        let buf = m + 4096;
        let mut total = 0;
        loop {
            match call(&mut l, g::__NR_write, &[w, buf, 4096]) {
                n if n > 0 => total += n,
                n => {
                    assert_eq!(n, err(Errno::EAGAIN));
                    break;
                }
            }
        }
        assert_eq!(total, 65536);
        // A blocking read empties it; a blocking write then goes through.
        assert_eq!(
            call(&mut l, g::__NR_fcntl, &[w, u64::from(g::F_SETFL), 0]),
            0
        );
        assert_eq!(call(&mut l, g::__NR_read, &[r, buf, 65536]), 65536);
        assert_eq!(call(&mut l, g::__NR_write, &[w, buf, 65536]), 65536);
        // Full again and blocking: the writer waits on the doorbell; a
        // signal with a handler ends the wait (EINTR).
        l.state.actions[g::SIGUSR1 as usize - 1].handler = crate::mock::TEXT;
        assert_eq!(call(&mut l, g::__NR_kill, &[1, g::SIGUSR1.into()]), 0);
        assert_eq!(
            call(&mut l, g::__NR_write, &[w, buf, 1]),
            err(Errno(linux_raw_sys::errno::EINTR))
        );
        assert!(
            l.native
                .ops
                .iter()
                .any(|o| matches!(o, crate::mock::Op::MapHandle(..))),
            "the doorbell was mapped"
        );
    }
}

//! `ppoll(fds, nfds, timeout, sigmask, sigsetsize)`: `poll` with a
//! `struct timespec` timeout (NULL: forever; the time left is written
//! back, as Linux does) and, if `sigmask` is not NULL, that signal mask
//! while it waits (`crate::pipe::with_mask`).

use super::nanosleep::timespec;
use super::poll::{read_fds, write_revents};
use crate::pipe;
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let mut fds = read_fds(ctx, a[0], a[1])?;
    let timeout = match a[2] {
        0 => None,
        at => Some(timespec(ctx, at)?),
    };
    let mask = pipe::read_mask(ctx, a[3], a[4])?;
    let (n, left) = pipe::with_mask(ctx, mask, |ctx| pipe::poll(ctx, &mut fds, timeout))?;
    write_revents(ctx, a[0], &fds)?;
    if a[2] != 0 {
        pipe::put_timespec(ctx, a[2], left)?;
    }
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn ppoll_times_out_with_its_mask_and_restores_it() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 1);
        assert_eq!(call(&mut l, g::__NR_pipe, &[m]), 0);
        l.native.poke(m + 64, &[3, 0, 0, 0, 1, 0, 0, 0]);
        // 0.5 s, and SIGUSR1 blocked meanwhile.
        l.native.poke(m + 128, &0u64.to_le_bytes());
        l.native.poke(m + 136, &500_000_000u64.to_le_bytes());
        l.native
            .poke(m + 144, &(1u64 << (g::SIGUSR1 - 1)).to_le_bytes());
        l.state.actions[g::SIGUSR1 as usize - 1].handler = crate::mock::TEXT;
        assert_eq!(call(&mut l, g::__NR_kill, &[1, g::SIGUSR1.into()]), 0);
        assert_eq!(
            call(&mut l, g::__NR_ppoll, &[m + 64, 1, m + 128, m + 144, 8]),
            0,
            "the blocked signal did not end it"
        );
        assert_eq!(l.native.peek(m + 136, 8), [0; 8], "no time left");
        assert_eq!(l.state.blocked, 0, "the mask came back");
        assert_eq!(
            call(&mut l, g::__NR_ppoll, &[m + 64, 1, m + 128, m + 144, 4]),
            err(Errno::EINVAL)
        );
        // Unblocked, the pending signal ends the next one.
        assert_eq!(
            call(&mut l, g::__NR_ppoll, &[m + 64, 1, 0, 0, 8]),
            err(Errno(linux_raw_sys::errno::EINTR))
        );
    }
}

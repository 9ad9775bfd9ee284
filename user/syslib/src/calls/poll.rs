//! `poll(fds, nfds, timeout_ms)`: readiness of descriptors, waiting up to
//! `timeout_ms` (negative: forever; 0: not at all). The work is
//! `crate::pipe::poll`'s; `EINVAL` for more entries than `RLIMIT_NOFILE`.

use crate::pipe::{self, PollFd};
use crate::{fs, Ctx, Errno, SysResult};

/// Reads the `struct pollfd` array (`fd`, `events`, `revents`: 8 bytes
/// each).
pub fn read_fds(ctx: &Ctx<'_>, at: u64, n: u64) -> Result<alloc::vec::Vec<PollFd>, Errno> {
    if n > fs::nofile(ctx) as u64 {
        return Err(Errno::EINVAL);
    }
    let mut raw = alloc::vec![0u8; n as usize * 8];
    ctx.read_user(at, &mut raw)?;
    Ok(raw
        .chunks_exact(8)
        .map(|e| PollFd {
            fd: i32::from_le_bytes([e[0], e[1], e[2], e[3]]),
            events: u32::from(u16::from_le_bytes([e[4], e[5]])),
            revents: 0,
        })
        .collect())
}

/// Writes the `revents` back.
pub fn write_revents(ctx: &mut Ctx<'_>, at: u64, fds: &[PollFd]) -> Result<(), Errno> {
    for (i, p) in fds.iter().enumerate() {
        ctx.write_user(at + 8 * i as u64 + 6, &(p.revents as u16).to_le_bytes())?;
    }
    Ok(())
}

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let mut fds = read_fds(ctx, a[0], a[1])?;
    let ms = a[2] as i32;
    let timeout = (ms >= 0).then(|| u64::from(ms as u32) * 1_000_000);
    let (n, _) = pipe::poll(ctx, &mut fds, timeout)?;
    write_revents(ctx, a[0], &fds)?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    fn entry(fd: i32, events: u16) -> [u8; 8] {
        let mut e = [0u8; 8];
        e[..4].copy_from_slice(&fd.to_le_bytes());
        e[4..6].copy_from_slice(&events.to_le_bytes());
        e[6..].copy_from_slice(&0xffffu16.to_le_bytes());
        e
    }

    fn revents(l: &crate::Syslib<crate::mock::MockNative>, at: u64, i: u64) -> u16 {
        let b = l.native.peek(at + 8 * i + 6, 2);
        u16::from_le_bytes([b[0], b[1]])
    }

    #[test]
    fn poll_sees_pipes_files_and_the_console() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 1);
        assert_eq!(call(&mut l, g::__NR_pipe, &[m]), 0);
        let (pin, pout) = (g::POLLIN as u16, g::POLLOUT as u16);
        let set = m + 64;
        for (i, e) in [
            entry(3, pin),
            entry(4, pout),
            entry(-1, pin),
            entry(99, pin),
            entry(1, pout),
        ]
        .iter()
        .enumerate()
        {
            l.native.poke(set + 8 * i as u64, e);
        }
        // Nothing to read yet: the writer, the bad descriptor and the
        // console count; nothing waits with a zero timeout.
        assert_eq!(call(&mut l, g::__NR_poll, &[set, 5, 0]), 3);
        assert_eq!(revents(&l, set, 0), 0);
        assert_eq!(revents(&l, set, 1), pout, "only what was asked");
        assert_eq!(revents(&l, set, 2), 0, "a negative descriptor is skipped");
        assert_eq!(revents(&l, set, 3), g::POLLNVAL as u16);
        assert_eq!(revents(&l, set, 4), pout);
        // Only the empty read end: a timeout of 30 ms runs out.
        assert_eq!(call(&mut l, g::__NR_poll, &[set, 1, 30]), 0);
        assert!(l
            .native
            .ops
            .iter()
            .any(|o| matches!(o, crate::mock::Op::FutexWait(_, _, 30_000_000))));
        l.native.poke(m + 200, b"x");
        assert_eq!(call(&mut l, g::__NR_write, &[4, m + 200, 1]), 1);
        assert_eq!(call(&mut l, g::__NR_poll, &[set, 1, u64::MAX]), 1);
        assert_eq!(revents(&l, set, 0), pin);
        // The writer goes: the reader sees the hang-up (asked or not).
        assert_eq!(call(&mut l, g::__NR_close, &[4]), 0);
        l.native.poke(set, &entry(3, 0));
        assert_eq!(call(&mut l, g::__NR_poll, &[set, 1, 0]), 1);
        assert_eq!(revents(&l, set, 0), g::POLLHUP as u16);
        assert_eq!(
            call(&mut l, g::__NR_poll, &[set, 100_000, 0]),
            err(Errno::EINVAL)
        );
        assert_eq!(call(&mut l, g::__NR_poll, &[8, 1, 0]), err(Errno::EFAULT));
    }

    #[test]
    fn a_signal_ends_a_poll_with_eintr() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 1);
        assert_eq!(call(&mut l, g::__NR_pipe, &[m]), 0);
        l.native.poke(m + 64, &entry(3, g::POLLIN as u16));
        l.state.actions[g::SIGUSR1 as usize - 1].handler = crate::mock::TEXT;
        assert_eq!(call(&mut l, g::__NR_kill, &[1, g::SIGUSR1.into()]), 0);
        assert_eq!(
            call(&mut l, g::__NR_poll, &[m + 64, 1, u64::MAX]),
            err(Errno(linux_raw_sys::errno::EINTR))
        );
    }
}

//! `select(nfds, readfds, writefds, exceptfds, timeout)`: `poll` over
//! `fd_set` bitmaps (a descriptor in a set must be open: `EBADF`), with a
//! `struct timeval` timeout (NULL: forever) where the time left is
//! written back, as Linux does. Ready for reading: `POLLIN`, `POLLHUP`
//! or `POLLERR`; for writing: `POLLOUT` or `POLLERR`; exceptional
//! conditions (`POLLPRI`) never happen here.

use crate::pipe::{self, PollFd};
use crate::{fs, Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// What `select` asks and answers, by descriptor number.
pub struct Sets {
    /// `nfds`.
    n: usize,
    /// The three sets' addresses (0: none).
    at: [u64; 3],
    /// Their bits.
    bits: [alloc::vec::Vec<u64>; 3],
}

impl Sets {
    /// Reads the sets of a `select` (`EINVAL` for a negative `nfds`).
    pub fn read(ctx: &Ctx<'_>, nfds: u64, at: [u64; 3]) -> Result<Sets, Errno> {
        let nfds = nfds as i32;
        if nfds < 0 {
            return Err(Errno::EINVAL);
        }
        let n = (nfds as usize).min(fs::nofile(ctx));
        let words = n.div_ceil(64);
        let mut bits: [alloc::vec::Vec<u64>; 3] = Default::default();
        for (set, &addr) in bits.iter_mut().zip(&at) {
            *set = alloc::vec![0; words];
            if addr != 0 {
                for (i, w) in set.iter_mut().enumerate() {
                    *w = ctx.read_u64(addr + 8 * i as u64)?;
                }
            }
        }
        Ok(Sets { n, at, bits })
    }

    fn has(&self, set: usize, fd: usize) -> bool {
        self.bits[set][fd / 64] & (1 << (fd % 64)) != 0
    }

    /// The `poll` entries for the descriptors named in any set.
    pub fn entries(&self, ctx: &Ctx<'_>) -> Result<alloc::vec::Vec<PollFd>, Errno> {
        let mut out = alloc::vec::Vec::new();
        for fd in 0..self.n {
            let (r, w, e) = (self.has(0, fd), self.has(1, fd), self.has(2, fd));
            if !(r || w || e) {
                continue;
            }
            ctx.st.fds.get(fd as u64)?;
            let mut events = 0;
            if r {
                events |= g::POLLIN | g::POLLHUP | g::POLLERR;
            }
            if w {
                events |= g::POLLOUT | g::POLLERR;
            }
            if e {
                events |= g::POLLPRI;
            }
            out.push(PollFd {
                fd: fd as i32,
                events,
                revents: 0,
            });
        }
        Ok(out)
    }

    /// Writes back the sets `found` answers: how many bits are set.
    pub fn answer(&mut self, ctx: &mut Ctx<'_>, found: &[PollFd]) -> Result<u64, Errno> {
        for set in &mut self.bits {
            set.fill(0);
        }
        let mut n = 0;
        for p in found {
            let fd = p.fd as usize;
            let ready = [
                p.revents & (g::POLLIN | g::POLLRDNORM | g::POLLHUP | g::POLLERR) != 0,
                p.revents & (g::POLLOUT | g::POLLWRNORM | g::POLLERR) != 0,
                p.revents & g::POLLPRI != 0,
            ];
            for (set, yes) in ready.iter().enumerate() {
                if *yes && p.events & [g::POLLIN, g::POLLOUT, g::POLLPRI][set] != 0 {
                    self.bits[set][fd / 64] |= 1 << (fd % 64);
                    n += 1;
                }
            }
        }
        for (set, &addr) in self.bits.iter().zip(&self.at) {
            if addr != 0 {
                for (i, w) in set.iter().enumerate() {
                    ctx.write_u64(addr + 8 * i as u64, *w)?;
                }
            }
        }
        Ok(n)
    }
}

/// `select` and `pselect6`: the sets, the timeout in ns (`None`:
/// forever), the mask to wait with: (bits set, time left).
pub fn select(
    ctx: &mut Ctx<'_>,
    nfds: u64,
    at: [u64; 3],
    timeout: Option<u64>,
    mask: Option<u64>,
) -> Result<(u64, u64), Errno> {
    let mut sets = Sets::read(ctx, nfds, at)?;
    let mut fds = sets.entries(ctx)?;
    let (_, left) = pipe::with_mask(ctx, mask, |ctx| pipe::poll(ctx, &mut fds, timeout))?;
    Ok((sets.answer(ctx, &fds)?, left))
}

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let timeout = match a[4] {
        0 => None,
        at => {
            let (s, us) = (ctx.read_u64(at)? as i64, ctx.read_u64(at + 8)? as i64);
            if s < 0 || us < 0 {
                return Err(Errno::EINVAL);
            }
            // As Linux: microseconds beyond a second carry over.
            Some(
                (s as u64)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(us as u64 * 1000),
            )
        }
    };
    let (n, left) = select(ctx, a[0], [a[1], a[2], a[3]], timeout, None)?;
    if a[4] != 0 {
        ctx.write_u64(a[4], left / 1_000_000_000)?;
        ctx.write_u64(a[4] + 8, left % 1_000_000_000 / 1000)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn select_answers_in_the_sets() {
        let mut l = lib_with_files();
        let m = scratch(&mut l, 1);
        assert_eq!(call(&mut l, g::__NR_pipe, &[m]), 0);
        let (rs, ws, tv) = (m + 64, m + 128, m + 192);
        // Read 3 (the empty read end), write 4 and 1.
        l.native.poke(rs, &(1u64 << 3).to_le_bytes());
        l.native.poke(ws, &(1u64 << 4 | 1 << 1).to_le_bytes());
        l.native.poke(tv, &[0; 16]);
        assert_eq!(call(&mut l, g::__NR_select, &[5, rs, ws, 0, tv]), 2);
        assert_eq!(l.native.peek(rs, 8), 0u64.to_le_bytes());
        assert_eq!(l.native.peek(ws, 8), (1u64 << 4 | 1 << 1).to_le_bytes());
        // Data: readable; 0.25 s asked, nearly all of it left.
        l.native.poke(m + 300, b"x");
        assert_eq!(call(&mut l, g::__NR_write, &[4, m + 300, 1]), 1);
        l.native.poke(rs, &(1u64 << 3).to_le_bytes());
        l.native.poke(tv + 8, &250_000u64.to_le_bytes());
        assert_eq!(call(&mut l, g::__NR_select, &[4, rs, 0, 0, tv]), 1);
        assert_eq!(l.native.peek(rs, 8), (1u64 << 3).to_le_bytes());
        // A closed descriptor in a set: EBADF.
        l.native.poke(rs, &(1u64 << 9).to_le_bytes());
        assert_eq!(
            call(&mut l, g::__NR_select, &[10, rs, 0, 0, tv]),
            err(Errno::EBADF)
        );
        assert_eq!(
            call(&mut l, g::__NR_select, &[u64::MAX, 0, 0, 0, tv]),
            err(Errno::EINVAL)
        );
    }
}

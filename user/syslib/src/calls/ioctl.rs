//! `ioctl(fd, request, arg)`: on the console (descriptors 0-2 at start,
//! `/dev/tty`), a terminal: `TCGETS` and `TCSETS`/`TCSETSW`/`TCSETSF` read and record
//! its settings (recorded only: the console has no line discipline
//! yet), `TIOCGWINSZ`/`TIOCSWINSZ` its window size (24 x 80 to start),
//! `TIOCGPGRP` the process's group. Any other request is `ENOTTY`, as a
//! Linux terminal answers; other open descriptors are not terminals
//! (`ENOTTY`), closed ones `EBADF`.

use crate::{Ctx, Errno, SysResult};
use linux_raw_sys::general as g;
use linux_raw_sys::ioctl as io;

/// `struct termios` of the kernel ABI (36 bytes: four flag words, the
/// line discipline, 19 control characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Termios {
    /// `c_iflag`, `c_oflag`, `c_cflag`, `c_lflag`.
    pub flags: [u32; 4],
    /// `c_line`.
    pub line: u8,
    /// `c_cc`.
    pub cc: [u8; 19],
}

const TERMIOS_BYTES: usize = 36;
const _: () = assert!(core::mem::size_of::<g::termios>() == TERMIOS_BYTES);
const _: () = assert!(core::mem::size_of::<g::winsize>() == 8);

impl Termios {
    /// Linux's defaults for a terminal (`tty_std_termios`).
    pub const fn console() -> Self {
        Termios {
            flags: [
                g::ICRNL | g::IXON,
                g::OPOST | g::ONLCR,
                g::B38400 | g::CS8 | g::CREAD | g::HUPCL,
                g::ISIG
                    | g::ICANON
                    | g::ECHO
                    | g::ECHOE
                    | g::ECHOK
                    | g::ECHOCTL
                    | g::ECHOKE
                    | g::IEXTEN,
            ],
            line: 0,
            // ^C ^\ DEL ^U ^D, VTIME 0, VMIN 1, ...: INIT_C_CC.
            cc: [
                3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0,
            ],
        }
    }

    fn to_bytes(self) -> [u8; TERMIOS_BYTES] {
        let mut b = [0u8; TERMIOS_BYTES];
        for (i, f) in self.flags.iter().enumerate() {
            b[4 * i..4 * i + 4].copy_from_slice(&f.to_le_bytes());
        }
        b[16] = self.line;
        b[17..].copy_from_slice(&self.cc);
        b
    }

    fn from_bytes(b: &[u8; TERMIOS_BYTES]) -> Self {
        let w = |i: usize| u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
        let mut cc = [0u8; 19];
        cc.copy_from_slice(&b[17..]);
        Termios {
            flags: [w(0), w(1), w(2), w(3)],
            line: b[16],
            cc,
        }
    }
}

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    if a[1] as u32 == io::FIONREAD {
        if let Some(n) = crate::pipe::bytes_ready(ctx, a[0])? {
            ctx.write_user(a[2], &n.to_le_bytes())?;
            return Ok(0);
        }
    }
    if !crate::fs::is_console(ctx, a[0])? {
        return Err(Errno::ENOTTY);
    }
    let arg = a[2];
    match a[1] as u32 {
        io::TCGETS => {
            let t = ctx.st.termios.to_bytes();
            ctx.write_user(arg, &t)?;
        }
        io::TCSETS | io::TCSETSW | io::TCSETSF => {
            let mut b = [0u8; TERMIOS_BYTES];
            ctx.read_user(arg, &mut b)?;
            ctx.st.termios = Termios::from_bytes(&b);
        }
        io::TIOCGWINSZ => {
            let mut b = [0u8; 8];
            for (i, v) in ctx.st.winsize.iter().enumerate() {
                b[2 * i..2 * i + 2].copy_from_slice(&v.to_le_bytes());
            }
            ctx.write_user(arg, &b)?;
        }
        io::TIOCSWINSZ => {
            let mut b = [0u8; 8];
            ctx.read_user(arg, &mut b)?;
            for (i, v) in ctx.st.winsize.iter_mut().enumerate() {
                *v = u16::from_le_bytes([b[2 * i], b[2 * i + 1]]);
            }
        }
        io::TIOCGPGRP => {
            let pgrp = ctx.st.pid;
            ctx.write_user(arg, &pgrp.to_le_bytes())?;
        }
        _ => return Err(Errno::ENOTTY),
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general::__NR_ioctl;
    use linux_raw_sys::ioctl as io;

    #[test]
    fn the_console_is_a_terminal() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        assert_eq!(call(&mut l, __NR_ioctl, &[1, io::TIOCGWINSZ.into(), m]), 0);
        assert_eq!(l.native.peek(m, 4), [24, 0, 80, 0]);
        assert_eq!(call(&mut l, __NR_ioctl, &[0, io::TCGETS.into(), m]), 0);
        let mut t = l.native.peek(m, 36);
        // c_lflag has ICANON and ECHO.
        assert_eq!(t[12] & 0b1010, 0b1010);
        // Raw mode is recorded and read back.
        t[12] = 0;
        l.native.poke(m + 100, &t);
        assert_eq!(
            call(&mut l, __NR_ioctl, &[0, io::TCSETS.into(), m + 100]),
            0
        );
        assert_eq!(
            call(&mut l, __NR_ioctl, &[0, io::TCGETS.into(), m + 200]),
            0
        );
        assert_eq!(l.native.peek(m + 200, 36), t);
    }

    #[test]
    fn other_requests_and_descriptors() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        assert_eq!(
            call(&mut l, __NR_ioctl, &[1, 0x5401_9999, m]),
            err(Errno::ENOTTY)
        );
        assert_eq!(
            call(&mut l, __NR_ioctl, &[5, io::TCGETS.into(), m]),
            err(Errno::EBADF)
        );
        assert_eq!(
            call(&mut l, __NR_ioctl, &[1, io::TCGETS.into(), 0x40]),
            err(Errno::EFAULT)
        );
        assert_eq!(
            call(
                &mut l,
                __NR_ioctl,
                &[1, io::TIOCGWINSZ.into(), crate::mock::TEXT]
            ),
            err(Errno::EFAULT)
        );
    }
}

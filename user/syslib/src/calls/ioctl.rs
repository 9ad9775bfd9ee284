//! `ioctl(fd, request, arg)`: on the console (descriptors 0-2 at start,
//! `/dev/tty`), a terminal: `TCGETS` and `TCSETS`/`TCSETSW`/`TCSETSF` read
//! and record its settings (the library's line discipline, `tty.rs`, uses
//! them; the kernel is told the signal characters; from a background
//! group `SIGTTOU` first; `TCSETSF` throws the unread input away),
//! `TIOCGWINSZ`/`TIOCSWINSZ` its window size (24 x 80 to start). Job
//! control, on the
//! kernel's `terminal` call (`tty.rs`): `TIOCGPGRP`/`TIOCSPGRP` the
//! foreground process group (`tcgetpgrp`, `tcsetpgrp`: `ENOTTY` if the
//! console is not the caller's controlling terminal, `EPERM` for a group
//! of another session; from a background group `SIGTTOU` unless it is
//! ignored or blocked), `TIOCSCTTY` (a session leader takes the console;
//! `arg` 1 steals it), `TIOCNOTTY`. Any other request is `ENOTTY`, as a
//! Linux terminal answers; other open descriptors are not terminals
//! (`ENOTTY`), closed ones `EBADF`.

use crate::tty::op;
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

    /// As the kernel ABI lays it out.
    pub fn to_bytes(self) -> [u8; TERMIOS_BYTES] {
        let mut b = [0u8; TERMIOS_BYTES];
        for (i, f) in self.flags.iter().enumerate() {
            b[4 * i..4 * i + 4].copy_from_slice(&f.to_le_bytes());
        }
        b[16] = self.line;
        b[17..].copy_from_slice(&self.cc);
        b
    }

    /// From the kernel ABI's layout.
    pub fn from_bytes(b: &[u8; TERMIOS_BYTES]) -> Self {
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
            let t = crate::tty::settings(ctx).to_bytes();
            ctx.write_user(arg, &t)?;
        }
        io::TCSETS | io::TCSETSW | io::TCSETSF => {
            let mut b = [0u8; TERMIOS_BYTES];
            ctx.read_user(arg, &mut b)?;
            let t = Termios::from_bytes(&b);
            // The kernel first: from a background group it is SIGTTOU.
            let ttou = crate::signal::sig::SIGTTOU;
            let quiet = crate::tty::quiet(ctx, ttou);
            let word = crate::tty::signal_word(&t);
            match ctx.native.terminal(op::SIGNALS, word, quiet.into()) {
                Err(e) if e.0 == linux_raw_sys::errno::EIO => {
                    return Err(crate::tty::job_stop(ctx, ttou))
                }
                _ => {}
            }
            ctx.st.termios = t;
            crate::tty::save(ctx);
            if a[1] as u32 == io::TCSETSF {
                // Typed input not read yet is thrown away.
                ctx.st.tty = crate::tty::Input::default();
            }
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
            let pgrp = ctx.native.terminal(op::FOREGROUND, 0, 0)? as u32;
            ctx.write_user(arg, &pgrp.to_le_bytes())?;
        }
        io::TIOCSPGRP => {
            let mut b = [0u8; 4];
            ctx.read_user(arg, &mut b)?;
            let pgrp = i64::from(i32::from_le_bytes(b));
            let ttou = crate::signal::sig::SIGTTOU;
            let quiet = crate::tty::quiet(ctx, ttou);
            match ctx
                .native
                .terminal(op::SET_FOREGROUND, pgrp as u64, quiet.into())
            {
                Err(e) if e.0 == linux_raw_sys::errno::EIO => {
                    return Err(crate::tty::job_stop(ctx, ttou))
                }
                r => r?,
            };
        }
        io::TIOCSCTTY => {
            ctx.native.terminal(op::ACQUIRE, arg, 0)?;
        }
        io::TIOCNOTTY => {
            ctx.native.terminal(op::RELEASE, 0, 0)?;
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

    /// `tcgetpgrp`/`tcsetpgrp` and the controlling terminal, on the
    /// mock kernel's terminal (`mock::MockTerminal`).
    #[test]
    fn foreground_group_and_controlling_terminal() {
        use crate::signal::{code, sig};
        let mut l = lib();
        let m = scratch(&mut l, 1);
        type Lib = crate::Syslib<crate::mock::MockNative>;
        let ioctl = |l: &mut Lib, req: u32, arg: u64| call(l, __NR_ioctl, &[0, req.into(), arg]);
        let set = |l: &mut Lib, g: i32| {
            l.native.poke(m, &g.to_le_bytes());
            ioctl(l, io::TIOCSPGRP, m)
        };
        assert_eq!(
            ioctl(&mut l, io::TIOCGPGRP, m),
            err(Errno::ENOTTY),
            "no controlling terminal"
        );
        assert_eq!(set(&mut l, 1), err(Errno::ENOTTY));
        let tty = m + 64;
        l.native.poke(tty, b"/dev/tty\0");
        let rw = u64::from(linux_raw_sys::general::O_RDWR);
        let open = linux_raw_sys::general::__NR_open;
        assert_eq!(call(&mut l, open, &[tty, rw]), err(Errno::ENXIO));
        assert_eq!(ioctl(&mut l, io::TIOCSCTTY, 0), 0);
        let fd = call(&mut l, open, &[tty, rw]);
        assert!(fd >= 3, "/dev/tty is the console now: {fd}");
        let fd = fd as u64;
        assert_eq!(
            call(&mut l, __NR_ioctl, &[fd, io::TCGETS.into(), m + 100]),
            0
        );
        assert_eq!(ioctl(&mut l, io::TIOCGPGRP, m + 8), 0);
        assert_eq!(
            l.native.peek(m + 8, 4),
            1u32.to_le_bytes(),
            "the leader's group"
        );
        assert_eq!(
            set(&mut l, 7),
            err(Errno::EPERM),
            "not a group of the session"
        );
        assert_eq!(set(&mut l, -1), err(Errno::EINVAL));
        assert_eq!(ioctl(&mut l, io::TIOCSPGRP, 0x40), err(Errno::EFAULT));
        l.native.terminal.groups.push(7);
        assert_eq!(set(&mut l, 7), 0, "a job to the foreground");
        assert_eq!(l.native.terminal.fg, 7);
        // Now in the background: SIGTTOU stops the caller's group first,
        // and the call is restarted after (ERESTARTSYS; `handle`, without
        // the program's frame to restart, says EINTR).
        assert_eq!(set(&mut l, 1), err(Errno(4)));
        let ttou = (0, sig::SIGTTOU, code::SI_KERNEL, 0);
        assert_eq!(l.native.sig.sent.last(), Some(&ttou));
        assert_eq!(l.native.terminal.fg, 7, "not changed");
        // A shell ignores SIGTTOU: it takes the terminal back.
        l.state.actions[sig::SIGTTOU as usize - 1].handler = 1;
        let sent = l.native.sig.sent.len();
        assert_eq!(set(&mut l, 1), 0);
        assert_eq!(l.native.terminal.fg, 1);
        assert_eq!(l.native.sig.sent.len(), sent, "no signal");
        assert_eq!(ioctl(&mut l, io::TIOCNOTTY, 0), 0);
        assert_eq!(ioctl(&mut l, io::TIOCGPGRP, m), err(Errno::ENOTTY));
    }

    /// `TCSETS` tells the kernel the signal characters (`tty::signal_word`).
    #[test]
    fn tcsets_gives_the_kernel_the_signal_characters() {
        use crate::tty::op;
        let mut l = lib();
        let m = scratch(&mut l, 1);
        assert_eq!(call(&mut l, __NR_ioctl, &[0, io::TCGETS.into(), m]), 0);
        assert_eq!(call(&mut l, __NR_ioctl, &[0, io::TCSETS.into(), m]), 0);
        let word = 3 | 28 << 8 | 26 << 16 | 1 << 24 | 1 << 25;
        assert_eq!(
            l.native.terminal.calls.last(),
            Some(&(op::SIGNALS, word, 0))
        );
        // From a background group: SIGTTOU first, nothing recorded.
        let t = &mut l.native.terminal;
        (t.controlling, t.fg) = (true, 9);
        let mut raw = l.native.peek(m, 36);
        raw[12] = 0;
        l.native.poke(m + 100, &raw);
        let set = [0, io::TCSETS.into(), m + 100];
        assert_eq!(call(&mut l, __NR_ioctl, &set), err(Errno(4)), "ERESTARTSYS");
        let ttou = (0, 22, crate::signal::code::SI_KERNEL, 0);
        assert_eq!(l.native.sig.sent.last(), Some(&ttou));
        assert_eq!(
            call(&mut l, __NR_ioctl, &[0, io::TCGETS.into(), m + 200]),
            0
        );
        assert_eq!(
            l.native.peek(m + 200, 36),
            l.native.peek(m, 36),
            "unchanged"
        );
        l.native.terminal.fg = 1;
        // Raw mode without ISIG (a line editor reads ^C itself), and a
        // new interrupt character.
        let mut t = l.native.peek(m, 36);
        t[12] &= !1; // ISIG
        t[17] = 7; // VINTR
        l.native.poke(m, &t);
        assert_eq!(call(&mut l, __NR_ioctl, &[0, io::TCSETSW.into(), m]), 0);
        let word = 7 | 28 << 8 | 26 << 16 | 1 << 25;
        assert_eq!(
            l.native.terminal.calls.last(),
            Some(&(op::SIGNALS, word, 0))
        );
        // TCSETSF throws away what was typed and not read; TCSETS keeps it.
        let mut echo = alloc::vec::Vec::new();
        for &b in b"line\n" {
            l.state.tty.feed(&super::Termios::console(), b, &mut echo);
        }
        assert_eq!(call(&mut l, __NR_ioctl, &[0, io::TCSETS.into(), m]), 0);
        assert!(l.state.tty.readable());
        assert_eq!(call(&mut l, __NR_ioctl, &[0, io::TCSETSF.into(), m]), 0);
        assert!(!l.state.tty.readable(), "flushed");
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

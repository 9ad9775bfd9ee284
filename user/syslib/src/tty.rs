//! The console as a terminal: input and its line discipline.
//!
//! Until a console server owns the keyboard, the kernel hands out the
//! bytes typed on the serial console (`console_read`, which never waits),
//! and the library is the terminal: with `ICANON` it collects a line,
//! erasing with `VERASE`, `VKILL` and `VWERASE` and ending it with a
//! newline or `VEOF`, and hands complete lines to `read`; without it,
//! bytes as they come (at least one). `ECHO` echoes what was typed,
//! `ICRNL` turns a carriage return into a newline. A reader with nothing
//! to read sleeps [`POLL_NS`] between tries; a signal that is to be acted
//! on ends the wait (`ERESTARTSYS`: restarted unless a handler without
//! `SA_RESTART` runs).
//!
//! The settings are the `termios` of `ioctl(TCGETS/TCSETS)`: the
//! session's, which the kernel keeps for the library ([`settings`],
//! [`save`]), if the console is the process's controlling terminal (so
//! `stty` changes them for the shell and its jobs), else the process's
//! own. The typed but unread input belongs to this process (a child reads
//! its own).
//!
//! **Job control.** The kernel keeps what must work while nobody reads
//! (`kernel::syscall::terminal`, the native call `terminal(op, a, b)`,
//! ops in [`op`]): which session has the console as its controlling
//! terminal, its foreground process group (`TIOCGPGRP`, `TIOCSPGRP`,
//! `TIOCSCTTY`, `TIOCNOTTY`), and the signal characters: at every
//! `TCSETS` the library gives it one word ([`signal_word`]: `VINTR`,
//! `VQUIT`, `VSUSP`, `ISIG`, echo, `NOFLSH`), so that a typed `^C` sends
//! `SIGINT` to the foreground group even while the shell waits in
//! `wait4`. Such a character that reaches the library anyway (the kernel
//! has another process's settings) throws the line away here, as it
//! always did. A process of a background group that reads the console
//! gets `EIO` from the kernel and raises `SIGTTIN` on its group (a stop,
//! [`job_stop`]), or fails with `EIO` if it ignores or blocks `SIGTTIN`;
//! `tcsetpgrp` and `TCSETS` from the background raise `SIGTTOU` the same
//! way, or go ahead if it is ignored or blocked (`calls::ioctl`). Not
//! yet: `TOSTOP` (writes from the background), orphaned process groups.

use alloc::vec::Vec;

use crate::{Ctx, Errno, SysResult};
use linux_raw_sys::general as g;

/// How long a reader sleeps when no byte was typed.
pub const POLL_NS: u64 = 10_000_000;

/// The ops of the native `terminal(op, a, b)` (`kernel::syscall::terminal`).
pub mod op {
    /// `tcgetpgrp`: the foreground group.
    pub const FOREGROUND: u64 = 0;
    /// `tcsetpgrp(a)`; `b`: the caller ignores or blocks `SIGTTOU` (else
    /// `EIO` from a background group).
    pub const SET_FOREGROUND: u64 = 1;
    /// `TIOCSCTTY` (`a`: steal it from another session).
    pub const ACQUIRE: u64 = 2;
    /// `TIOCNOTTY`.
    pub const RELEASE: u64 = 3;
    /// The signal characters ([`signal_word`](super::signal_word)).
    pub const SIGNALS: u64 = 4;
    /// Keep this `termios` as the session's.
    pub const SAVE: u64 = 5;
    /// The session's `termios` (36 bytes, or 0 if none was kept).
    pub const LOAD: u64 = 6;
}

/// The console's settings: the session's, which the kernel keeps, when
/// the console is this process's controlling terminal (then also the new
/// `st.termios`), else this process's own.
pub fn settings(ctx: &mut Ctx<'_>) -> crate::calls::ioctl::Termios {
    let mut b = ctx.st.termios.to_bytes();
    if let Ok(true) = ctx.native.terminal_settings(false, &mut b) {
        ctx.st.termios = crate::calls::ioctl::Termios::from_bytes(&b);
    }
    ctx.st.termios
}

/// Keeps `st.termios` as the session's settings (if the console is this
/// process's terminal).
pub fn save(ctx: &mut Ctx<'_>) {
    let mut b = ctx.st.termios.to_bytes();
    let _ = ctx.native.terminal_settings(true, &mut b);
}

/// `EIO`.
const EIO: Errno = Errno(linux_raw_sys::errno::EIO);

/// What the kernel needs of `t` to raise signals from typed characters:
/// `VINTR` in bits 0-7, `VQUIT` 8-15, `VSUSP` 16-23, `ISIG` bit 24,
/// `ECHO` and `ECHOCTL` (echo `^C`) bit 25, `NOFLSH` bit 26.
pub fn signal_word(t: &crate::calls::ioctl::Termios) -> u64 {
    let l = t.flags[3];
    let cc = |i: u32| u64::from(t.cc[i as usize]);
    let bit = |on: bool, b: u32| u64::from(on) << b;
    cc(g::VINTR)
        | cc(g::VQUIT) << 8
        | cc(g::VSUSP) << 16
        | bit(l & g::ISIG != 0, 24)
        | bit(l & g::ECHO != 0 && l & g::ECHOCTL != 0, 25)
        | bit(l & g::NOFLSH != 0, 26)
}

/// Whether signal `s` is ignored or blocked (then job control's stop
/// signals are not sent: the call fails or goes ahead instead).
pub fn quiet(ctx: &Ctx<'_>, s: u32) -> bool {
    use crate::signal::{bit, disposition, Disposition};
    let a = &ctx.st.actions[s as usize - 1];
    ctx.st.blocked & bit(s) != 0 || disposition(s, a) == Disposition::Ignore
}

/// A background process touched the terminal: `s` (`SIGTTIN`,
/// `SIGTTOU`) goes to its whole group, and the call is restarted after
/// the stop (`ERESTARTSYS`).
pub fn job_stop(ctx: &mut Ctx<'_>, s: u32) -> Errno {
    let _ = ctx
        .native
        .signal_send(0, s, crate::signal::code::SI_KERNEL, 0);
    crate::signal::ERESTARTSYS
}

/// Typed input not yet read.
#[derive(Clone, Debug, Default)]
pub struct Input {
    /// The bytes.
    buf: Vec<u8>,
    /// How many of them a read may take now (complete lines with
    /// `ICANON`; everything without).
    ready: usize,
    /// `VEOF` on an empty line: the next read returns 0.
    eof: bool,
}

impl Input {
    /// Whether a read would return at once (a line, raw bytes, or end of
    /// file).
    pub fn readable(&self) -> bool {
        self.ready > 0 || self.eof
    }

    /// Takes in one typed byte under `termios`; what to echo goes to
    /// `echo`.
    pub fn feed(&mut self, t: &crate::calls::ioctl::Termios, b: u8, echo: &mut Vec<u8>) {
        let [iflag, _, _, lflag] = t.flags;
        let cc = |i: u32| t.cc[i as usize];
        let b = if b == b'\r' && iflag & g::ICRNL != 0 {
            b'\n'
        } else {
            b
        };
        let echoing = lflag & g::ECHO != 0;
        if lflag & g::ISIG != 0 && b == cc(g::VINTR) {
            self.buf.truncate(self.ready);
            if echoing {
                echo.extend_from_slice(b"^C\n");
            }
            return;
        }
        if lflag & g::ICANON == 0 {
            self.buf.push(b);
            self.ready = self.buf.len();
            if echoing {
                echo.push(b);
            }
            return;
        }
        let pending = self.buf.len() - self.ready;
        if b == cc(g::VERASE) || b == 0x08 {
            if pending > 0 {
                self.buf.pop();
                if echoing {
                    echo.extend_from_slice(b"\x08 \x08");
                }
            }
        } else if b == cc(g::VKILL) {
            for _ in 0..pending {
                echo.extend_from_slice(if echoing { b"\x08 \x08" } else { b"" });
            }
            self.buf.truncate(self.ready);
        } else if b == cc(g::VWERASE) {
            let line = &self.buf[self.ready..];
            let keep = line.iter().rposition(|&c| c != b' ').map_or(0, |end| {
                line[..end]
                    .iter()
                    .rposition(|&c| c == b' ')
                    .map_or(0, |s| s + 1)
            });
            for _ in keep..pending {
                echo.extend_from_slice(if echoing { b"\x08 \x08" } else { b"" });
            }
            self.buf.truncate(self.ready + keep);
        } else if b == cc(g::VEOF) {
            if pending == 0 {
                self.eof = true;
            }
            self.ready = self.buf.len();
        } else {
            self.buf.push(b);
            if b == b'\n' {
                self.ready = self.buf.len();
            }
            if echoing {
                echo.push(b);
            }
        }
    }

    /// Up to `max` bytes a read may take now: `Some(empty)` for end of
    /// file, `None` if the reader has to wait.
    pub fn take(&mut self, max: usize, canonical: bool) -> Option<Vec<u8>> {
        if self.ready == 0 {
            if self.eof {
                self.eof = false;
                return Some(Vec::new());
            }
            return None;
        }
        let mut n = self.ready.min(max);
        if canonical {
            // One line at a time.
            if let Some(nl) = self.buf[..n].iter().position(|&c| c == b'\n') {
                n = nl + 1;
            }
        }
        self.ready -= n;
        Some(self.buf.drain(..n).collect())
    }
}

/// `read` on the console: up to `len` bytes into the program's `buf`,
/// waiting for them unless `nonblock` (`EAGAIN`).
pub fn read(ctx: &mut Ctx<'_>, buf: u64, len: u64, nonblock: bool) -> SysResult {
    // As Linux: only a buffer outside user space fails at once
    // (`access_ok`); the rest is checked when bytes are copied.
    if buf
        .checked_add(len)
        .is_none_or(|e| e > crate::calls::arch_prctl::USER_END)
    {
        return Err(Errno::EFAULT);
    }
    let canonical = settings(ctx).flags[3] & g::ICANON != 0;
    loop {
        if let Some(bytes) = ctx.st.tty.take(len as usize, canonical) {
            ctx.write_user(buf, &bytes)?;
            return Ok(bytes.len() as u64);
        }
        // Raw mode takes from the console only what this read asks for:
        // bytes typed ahead (a shell reading a key at a time, then the
        // command it starts) stay in the console for the next reader.
        let want = if canonical { PULL_MAX } else { len as usize };
        let n = match pull(ctx, want) {
            Ok(n) => n,
            // Nobody can type: end of file.
            Err(Errno::ENODEV) => return Ok(0),
            // A background group of the terminal's session.
            Err(EIO) if quiet(ctx, crate::signal::sig::SIGTTIN) => return Err(EIO),
            Err(EIO) => return Err(job_stop(ctx, crate::signal::sig::SIGTTIN)),
            Err(e) => return Err(e),
        };
        if n == 0 {
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            if crate::threads::sleep(ctx, POLL_NS).is_err() && crate::signal::interrupted(ctx) {
                return Err(crate::signal::ERESTARTSYS);
            }
        }
    }
}

/// Most bytes [`pull`] takes from the console at once.
pub const PULL_MAX: usize = 64;

/// Takes up to `max` (1 to [`PULL_MAX`]) typed bytes from the kernel's
/// console into the line discipline, echoing them: how many (0: none
/// typed yet; `ENODEV` when nobody can type, `EIO` for a background
/// group, as `console_read`).
pub fn pull(ctx: &mut Ctx<'_>, max: usize) -> Result<usize, Errno> {
    let mut typed = [0u8; PULL_MAX];
    let typed = &mut typed[..max.clamp(1, PULL_MAX)];
    let n = ctx.native.console_read(typed)?;
    let mut echo = Vec::new();
    let t = ctx.st.termios;
    for &b in &typed[..n] {
        ctx.st.tty.feed(&t, b, &mut echo);
    }
    if !echo.is_empty() {
        ctx.native.console_write(&echo);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::ioctl::Termios;
    use crate::mock::t::*;

    #[test]
    fn read_waits_for_a_line_and_echoes_it() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.keyboard = true;
        l.native.typed.extend(b"ls -l\rnext");
        assert_eq!(call(&mut l, g::__NR_read, &[0, m, 100]), 6);
        assert_eq!(l.native.peek(m, 6), b"ls -l\n");
        assert_eq!(l.native.console_text(), "ls -l\nnext", "echoed as typed");
        // "next" has no newline: the reader sleeps until the keyboard goes
        // away (the mock's), then sees end of file.
        assert_eq!(call(&mut l, g::__NR_read, &[0, m, 100]), 0);
        assert!(l.native.slept >= 1_000_000_000);
        l.native.typed.extend(b"x\n");
        let nonblock = u64::from(g::O_NONBLOCK);
        assert_eq!(
            call(&mut l, g::__NR_fcntl, &[0, u64::from(g::F_SETFL), nonblock]),
            0
        );
        l.native.keyboard = true;
        assert_eq!(call(&mut l, g::__NR_read, &[0, m, 100]), 6, "nextx\\n");
        assert_eq!(call(&mut l, g::__NR_read, &[0, m, 100]), err(Errno::EAGAIN));
    }

    /// A background group's read raises SIGTTIN on its group and is
    /// restarted after the stop; with SIGTTIN ignored it is EIO.
    #[test]
    fn background_reads_stop_or_fail() {
        use crate::signal::{code, sig};
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.keyboard = true;
        l.native.typed.extend(b"mine\n");
        let t = &mut l.native.terminal;
        (t.controlling, t.fg) = (true, 9);
        // ERESTARTSYS: `handle` (no frame to restart) says EINTR.
        assert_eq!(call(&mut l, g::__NR_read, &[0, m, 100]), err(Errno(4)));
        let ttin = (0, sig::SIGTTIN, code::SI_KERNEL, 0);
        assert_eq!(l.native.sig.sent, [ttin]);
        assert_eq!(l.native.typed.len(), 5, "nothing taken");
        l.state.actions[sig::SIGTTIN as usize - 1].handler = 1;
        assert_eq!(call(&mut l, g::__NR_read, &[0, m, 100]), err(Errno(5)));
        assert_eq!(l.native.sig.sent.len(), 1);
        // In the foreground again: the line.
        l.native.terminal.fg = 1;
        assert_eq!(call(&mut l, g::__NR_read, &[0, m, 100]), 5);
        assert_eq!(l.native.peek(m, 5), b"mine\n");
    }

    /// With the console as its terminal a process reads with the
    /// session's settings (another process's `stty`), and its `TCSETS`
    /// becomes the session's; without, it keeps its own.
    #[test]
    fn the_sessions_settings_are_shared() {
        let ioctl = linux_raw_sys::general::__NR_ioctl;
        let (tcgets, tcsets) = (
            u64::from(linux_raw_sys::ioctl::TCGETS),
            u64::from(linux_raw_sys::ioctl::TCSETS),
        );
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.terminal.controlling = true;
        let mut raw = Termios::console();
        raw.flags[3] &= !(g::ICANON | g::ECHO);
        l.native.terminal.settings = Some(raw.to_bytes());
        l.native.keyboard = true;
        l.native.typed.extend(b"ab");
        assert_eq!(call(&mut l, g::__NR_read, &[0, m, 100]), 2, "raw: no line");
        assert_eq!(l.native.console_text(), "", "no echo");
        assert_eq!(call(&mut l, ioctl, &[0, tcgets, m]), 0);
        assert_eq!(l.native.peek(m, 36), raw.to_bytes());
        let cooked = Termios::console().to_bytes();
        l.native.poke(m, &cooked);
        assert_eq!(call(&mut l, ioctl, &[0, tcsets, m]), 0);
        assert_eq!(
            l.native.terminal.settings,
            Some(cooked),
            "the session's now"
        );
        l.native.terminal.controlling = false;
        l.native.terminal.settings = Some(raw.to_bytes());
        assert_eq!(call(&mut l, ioctl, &[0, tcgets, m + 64]), 0);
        assert_eq!(l.native.peek(m + 64, 36), cooked, "its own");
    }

    /// A raw-mode read takes from the console only what it asks for: what
    /// was typed ahead stays there for the next reader (a shell reading
    /// a key at a time, then the command it runs).
    #[test]
    fn raw_reads_leave_typed_ahead_bytes_in_the_console() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.terminal.controlling = true;
        let mut raw = Termios::console();
        raw.flags[3] &= !(g::ICANON | g::ECHO);
        l.native.terminal.settings = Some(raw.to_bytes());
        l.native.keyboard = true;
        l.native.typed.extend(b"x\rhello\r");
        assert_eq!(call(&mut l, g::__NR_read, &[0, m, 1]), 1);
        assert_eq!(call(&mut l, g::__NR_read, &[0, m, 1]), 1);
        assert_eq!(l.native.peek(m, 1), b"\n", "ICRNL still on");
        assert_eq!(l.native.typed.len(), 6, "the rest is the console's");
        // A canonical reader (the command) gets the typed-ahead line.
        l.native.terminal.settings = Some(Termios::console().to_bytes());
        assert_eq!(call(&mut l, g::__NR_read, &[0, m, 64]), 6);
        assert_eq!(l.native.peek(m, 6), b"hello\n");
    }

    fn typed(i: &mut Input, t: &Termios, s: &[u8]) -> Vec<u8> {
        let mut echo = Vec::new();
        for &b in s {
            i.feed(t, b, &mut echo);
        }
        echo
    }

    #[test]
    fn canonical_lines_with_erase_kill_and_eof() {
        let t = Termios::console();
        let mut i = Input::default();
        assert_eq!(typed(&mut i, &t, b"helx\x7flo"), b"helx\x08 \x08lo");
        assert_eq!(i.take(100, true), None, "no line yet");
        typed(&mut i, &t, b"\rsecond\n");
        assert_eq!(i.take(100, true).unwrap(), b"hello\n");
        assert_eq!(i.take(3, true).unwrap(), b"sec");
        assert_eq!(i.take(100, true).unwrap(), b"ond\n");
        typed(&mut i, &t, b"gone\x15kept two\x17\x17one\x04");
        assert_eq!(
            i.take(100, true).unwrap(),
            b"one",
            "VEOF ends the line without a newline"
        );
        typed(&mut i, &t, b"\x04");
        assert_eq!(
            i.take(100, true).unwrap(),
            b"",
            "VEOF on an empty line: end of file"
        );
        assert_eq!(i.take(100, true), None);
        assert_eq!(typed(&mut i, &t, b"abc\x03"), b"abc^C\n");
        assert_eq!(i.take(100, true), None, "^C threw the line away");
    }

    #[test]
    fn raw_mode_hands_out_bytes_as_typed() {
        let mut t = Termios::console();
        t.flags[3] &= !(g::ICANON | g::ECHO);
        let mut i = Input::default();
        assert_eq!(typed(&mut i, &t, b"ab\x7f"), b"");
        assert_eq!(i.take(2, false).unwrap(), b"ab");
        assert_eq!(i.take(2, false).unwrap(), b"\x7f");
        assert_eq!(i.take(2, false), None);
    }
}

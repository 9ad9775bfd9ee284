//! `terminal(op, a, b)`: the serial console as a controlling terminal
//! (issue 9, job control): the session it belongs to, its foreground
//! process group, and the characters that raise signals when typed.
//!
//! The line discipline and the `termios` settings are the system
//! library's (`user/syslib/src/tty.rs`, K42's way: the Linux state of a
//! process is user-level state). But the kernel sees every typed byte
//! first (`console_read::typed`), also while nobody reads the console
//! (the shell waits in `wait4` while `sleep 100` runs in the foreground),
//! so the interrupt characters are recognised here. The library tells the
//! kernel only what that needs, one word at every `TCSETS`
//! ([`Keys::from_word`]): `VINTR`, `VQUIT`, `VSUSP`, and the `ISIG`,
//! `ECHO`-and-`ECHOCTL` and `NOFLSH` flags. Like a terminal's settings
//! they are the console's, not a process's: the last setter's hold. Only
//! the processes of the session that has the console set them, and only
//! while a session has it do typed characters raise signals (without one
//! every byte is input: test boots, whose programs may set anything).
//! The whole `termios` is the session's too: the library saves it here
//! at `TCSETS` and loads it at `TCGETS` and before reading, so `stty` in
//! one process changes what the next one reads with; a process without
//! the console as its terminal keeps its own.
//!
//! A typed `VINTR` (`^C`) sends `SIGINT` to every process of the
//! foreground group (`VQUIT`: `SIGQUIT`, `VSUSP`: `SIGTSTP`), with
//! `si_code` `SI_KERNEL`, throws away the input not yet read (unless
//! `NOFLSH`) and echoes `^C`.
//!
//! The ops (`a`, `b` their arguments; `ENOTTY` when the console is not
//! the caller's controlling terminal, i.e. its session does not own it):
//!
//! | op | Linux | |
//! |----|-------|-|
//! | 0 [`FOREGROUND`] | `tcgetpgrp` (`TIOCGPGRP`) | the foreground group |
//! | 1 [`SET_FOREGROUND`] | `tcsetpgrp` (`TIOCSPGRP`) | group `a` of the caller's session (`EPERM` if none, `EINVAL` if negative); from a background group `EIO` unless `b` (the library then raises `SIGTTOU`; `b`: the caller ignores or blocks it) |
//! | 2 [`ACQUIRE`] | `TIOCSCTTY` | a session leader (`EPERM` otherwise) takes the console, its group in the foreground; `EPERM` if another live session has it, unless `a` (steal: everybody is root) |
//! | 3 [`RELEASE`] | `TIOCNOTTY` | the session leader gives it up: `SIGHUP` and `SIGCONT` to the foreground group; for anyone else nothing (Linux detaches only the caller, which this model, where a session owns the console, cannot express) |
//! | 4 [`SIGNALS`] | `TCSETS` | the signal characters and flags (`a`, see [`Keys::from_word`]); from a background group `EIO` unless `b` (the library raises `SIGTTOU`; `b`: it ignores or blocks it) |
//! | 5 [`SAVE`] | `TCSETS` | keeps the library's 36-byte `termios` at `a` for the session (opaque here) |
//! | 6 [`LOAD`] | `TCGETS` | copies it to `a`: 36, or 0 if none was saved since the session got the console |
//!
//! Who owns the console at first: nobody. The monitor starts `/init` with
//! [`run_on_console`]: a new session whose leader is `/init`, the
//! console its controlling terminal with `/init`'s group in the
//! foreground (what `getty` or busybox's `setsid -c` make for a login
//! shell); when it ends the console is hung up. Test and difftest boots
//! start their programs without a terminal, as Linux's harness does.
//! Reading the console from a background group of its session is
//! `console_read`'s `EIO` (the library raises `SIGTTIN`).

use super::signal::{post, signalable, Queued};
use super::{Context, Errno, SyscallResult};
use crate::arch::uaccess::{copy_from_user, copy_to_user};
use crate::dispatch::{self, Dispatcher, Process};
use crate::process::{Personality, SpawnError};
use alloc::sync::Arc;
use core::sync::atomic::Ordering;

/// `tcgetpgrp`.
pub const FOREGROUND: u64 = 0;
/// `tcsetpgrp`.
pub const SET_FOREGROUND: u64 = 1;
/// `TIOCSCTTY`.
pub const ACQUIRE: u64 = 2;
/// `TIOCNOTTY`.
pub const RELEASE: u64 = 3;
/// The signal characters (`TCSETS`).
pub const SIGNALS: u64 = 4;
/// Keep the library's `termios` (`TCSETS`).
pub const SAVE: u64 = 5;
/// The kept `termios` (`TCGETS`).
pub const LOAD: u64 = 6;
/// `sizeof(struct termios)` of the kernel ABI.
const TERMIOS: usize = 36;

/// `SIGHUP`.
const SIGHUP: u32 = 1;
/// `SIGINT`.
const SIGINT: u32 = 2;
/// `SIGQUIT`.
const SIGQUIT: u32 = 3;
/// `SIGCONT`.
const SIGCONT: u32 = 18;
/// `SIGTSTP`.
const SIGTSTP: u32 = 20;
/// `si_code` of a signal the kernel sends (`SI_KERNEL`).
const SI_KERNEL: i32 = 0x80;

/// What the kernel knows of the console's `termios`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keys {
    /// `VINTR` (0: disabled, `_POSIX_VDISABLE`).
    pub intr: u8,
    /// `VQUIT`.
    pub quit: u8,
    /// `VSUSP`.
    pub susp: u8,
    /// `ISIG`: the characters raise signals.
    pub isig: bool,
    /// `ECHO` and `ECHOCTL`: a signal character is echoed as `^C`.
    pub echo: bool,
    /// `NOFLSH`: the unread input stays.
    pub noflsh: bool,
}

impl Keys {
    /// Linux's defaults (`^C`, `^\`, `^Z`, `ISIG`, `ECHO | ECHOCTL`).
    pub const LINUX: Keys = Keys {
        intr: 3,
        quit: 28,
        susp: 26,
        isig: true,
        echo: true,
        noflsh: false,
    };

    /// The library's word: `VINTR` in bits 0-7, `VQUIT` 8-15, `VSUSP`
    /// 16-23, `ISIG` bit 24, `ECHO` and `ECHOCTL` bit 25, `NOFLSH` bit 26.
    pub fn from_word(w: u64) -> Keys {
        Keys {
            intr: w as u8,
            quit: (w >> 8) as u8,
            susp: (w >> 16) as u8,
            isig: w & 1 << 24 != 0,
            echo: w & 1 << 25 != 0,
            noflsh: w & 1 << 26 != 0,
        }
    }

    /// The signal typing `b` raises, if any.
    pub fn signal(&self, b: u8) -> Option<u32> {
        if !self.isig || b == 0 {
            return None;
        }
        [
            (self.intr, SIGINT),
            (self.quit, SIGQUIT),
            (self.susp, SIGTSTP),
        ]
        .into_iter()
        .find(|&(c, _)| c == b)
        .map(|(_, s)| s)
    }
}

/// The session that has the console, and its foreground group.
#[derive(Clone, Copy, Debug)]
struct Owner {
    sid: u32,
    fg: u32,
}

struct Console {
    owner: Option<Owner>,
    keys: Keys,
    /// The session's `termios`, as its library saved it.
    settings: Option<[u8; TERMIOS]>,
}

static CONSOLE: spin::Mutex<Console> = spin::Mutex::new(Console {
    owner: None,
    keys: Keys::LINUX,
    settings: None,
});

/// What typing a signal character does: the signal, whether to echo it,
/// whether to throw the unread input away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Typed {
    /// The signal.
    pub sig: u32,
    /// Echo `^X`.
    pub echo: bool,
    /// Throw the unread input away.
    pub flush: bool,
}

/// The signal typing `b` raises (`None`: `b` is input).
pub fn signal_for(b: u8) -> Option<Typed> {
    let c = CONSOLE.lock();
    c.owner?;
    let keys = c.keys;
    keys.signal(b).map(|sig| Typed {
        sig,
        echo: keys.echo,
        flush: !keys.noflsh,
    })
}

/// Sends `sig` to every process of group `pgid`.
fn signal_group(pgid: u32, sig: u32) {
    let q = Queued {
        sig,
        code: SI_KERNEL,
        pid: 0,
        value: 0,
    };
    for p in dispatch::processes() {
        if p.pgid.load(Ordering::Relaxed) == pgid && signalable(&p) {
            let _ = post(&p, q);
        }
    }
}

/// Sends `sig` to the console's foreground group (a typed signal
/// character); nothing if nobody owns the console.
pub fn signal_foreground(sig: u32) {
    let fg = CONSOLE.lock().owner.map(|o| o.fg);
    if let Some(fg) = fg {
        signal_group(fg, sig);
    }
}

/// The console's foreground group, if a session owns it.
pub fn foreground() -> Option<u32> {
    CONSOLE.lock().owner.map(|o| o.fg)
}

/// Whether `p` is in a background group of the session that owns the
/// console (its reads of the console are then `EIO`).
pub fn background(p: &Process) -> bool {
    CONSOLE.lock().owner.is_some_and(|o| {
        o.sid == p.sid.load(Ordering::Relaxed) && o.fg != p.pgid.load(Ordering::Relaxed)
    })
}

/// Whether a process of session `sid` is still alive.
fn live(sid: u32) -> bool {
    dispatch::processes()
        .iter()
        .any(|p| p.sid.load(Ordering::Relaxed) == sid)
}

/// Gives the console to `p`: it leads a new session (named by its id) of
/// which its group is the foreground; the settings start as Linux's.
pub fn attach(p: &Process) {
    p.sid.store(p.pid, Ordering::Relaxed);
    let mut c = CONSOLE.lock();
    c.owner = Some(Owner {
        sid: p.pid,
        fg: p.pgid.load(Ordering::Relaxed),
    });
    c.keys = Keys::LINUX;
    c.settings = None;
}

/// The console is hung up if session `sid` has it (its leader ended):
/// nobody owns it, and `SIGHUP` then `SIGCONT` go to the foreground group
/// and to every group of the session with a stopped member (the jobs a
/// shell leaves stopped, orphaned by its end: Linux's rule for orphaned
/// groups), so that no job waits for a `SIGCONT` that nobody can send.
pub fn hang_up(sid: u32) {
    let fg = {
        let mut c = CONSOLE.lock();
        match c.owner {
            Some(o) if o.sid == sid => {
                c.owner = None;
                c.settings = None;
                o.fg
            }
            _ => return,
        }
    };
    let mut groups = alloc::vec![fg];
    for p in dispatch::processes() {
        let g = p.pgid.load(Ordering::Relaxed);
        let stopped = p.stopped.load(Ordering::Acquire) != 0;
        if stopped && p.sid.load(Ordering::Relaxed) == sid && !groups.contains(&g) {
            groups.push(g);
        }
    }
    for g in groups {
        signal_group(g, SIGHUP);
        signal_group(g, SIGCONT);
    }
}

/// Starts the Linux program `path` with `argv` on this processor with the
/// console as its controlling terminal ([`attach`], before it runs).
pub fn start_on_console(path: &str, argv: &[&[u8]]) -> Result<Arc<Dispatcher>, SpawnError> {
    let d = crate::process::start(path, argv, Personality::Linux)?;
    attach(&d.process);
    Ok(d)
}

/// Runs [`start_on_console`]'s program until it ends, then hangs the
/// console up ([`hang_up`]); its exit status.
pub fn run_on_console(path: &str, argv: &[&[u8]]) -> Result<u64, SpawnError> {
    let d = start_on_console(path, argv)?;
    dispatch::run_loop(&|| d.status().is_some());
    hang_up(d.process.pid);
    Ok(d.status().expect("ended"))
}

/// The handler.
pub fn sys_terminal(cx: &mut Context<'_>) -> SyscallResult {
    let [op, a, b, ..] = cx.args;
    let me = dispatch::current().ok_or(Errno::Einval)?;
    let me = &me.process;
    let (sid, pgid) = (
        me.sid.load(Ordering::Relaxed),
        me.pgid.load(Ordering::Relaxed),
    );
    match op {
        ACQUIRE => {
            if sid != me.pid {
                return Err(Errno::Eperm);
            }
            let mut c = CONSOLE.lock();
            match c.owner {
                Some(o) if o.sid == sid => return Ok(0),
                Some(o) if a == 0 && live(o.sid) => return Err(Errno::Eperm),
                _ => {}
            }
            c.owner = Some(Owner { sid, fg: pgid });
            return Ok(0);
        }
        FOREGROUND | SET_FOREGROUND | RELEASE | SIGNALS | SAVE | LOAD => {}
        _ => return Err(Errno::Einval),
    }
    let mut c = CONSOLE.lock();
    let owner = c
        .owner
        .as_mut()
        .filter(|o| o.sid == sid)
        .ok_or(Errno::Enotty)?;
    match op {
        FOREGROUND => Ok(u64::from(owner.fg)),
        SET_FOREGROUND => {
            let g = u32::try_from(a as i64).map_err(|_| Errno::Einval)?;
            let member = dispatch::processes().iter().any(|p| {
                p.pgid.load(Ordering::Relaxed) == g && p.sid.load(Ordering::Relaxed) == sid
            });
            if !member {
                return Err(Errno::Eperm);
            }
            if owner.fg != pgid && b == 0 {
                return Err(Errno::Eio);
            }
            owner.fg = g;
            Ok(0)
        }
        SIGNALS => {
            if owner.fg != pgid && b == 0 {
                return Err(Errno::Eio);
            }
            c.keys = Keys::from_word(a);
            Ok(0)
        }
        SAVE => {
            drop(c);
            let mut t = [0u8; TERMIOS];
            copy_from_user(&mut t, a)?;
            CONSOLE.lock().settings = Some(t);
            Ok(0)
        }
        LOAD => {
            let Some(t) = c.settings else { return Ok(0) };
            drop(c);
            copy_to_user(a, &t)?;
            Ok(TERMIOS as u64)
        }
        _ => {
            drop(c);
            if sid == me.pid {
                hang_up(sid);
            }
            Ok(0)
        }
    }
}

ktest::ktest! {
    /// The signal characters: Linux's defaults, the library's word, and
    /// `ISIG` off or a disabled character (0) raising nothing.
    fn terminal_keys() {
        let k = Keys::LINUX;
        assert_eq!(k.signal(3), Some(SIGINT));
        assert_eq!(k.signal(28), Some(SIGQUIT));
        assert_eq!(k.signal(26), Some(SIGTSTP));
        assert_eq!(k.signal(b'c'), None);
        let w = 3 | 28 << 8 | 26 << 16 | 1 << 24 | 1 << 25;
        assert_eq!(Keys::from_word(w), k);
        let off = Keys::from_word(w & !(1 << 24));
        assert_eq!(off.signal(3), None, "no ISIG");
        let none = Keys::from_word(1 << 24);
        assert_eq!(none.signal(0), None, "a disabled character is never typed");
        assert!(Keys::from_word(w | 1 << 26).noflsh);
    }
}

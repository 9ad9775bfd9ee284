//! Pipes, FIFOs and `poll`: waiting for the file server's objects.
//!
//! A pipe is an object of the file server (`ramfs`, `FileSystem::pipe`),
//! its ends open file descriptions like any file's, so `dup`, `fork` and
//! `exec` pass them on as they pass files. The server never waits (a PPC
//! handler runs on its caller's time, one call at a time per processor):
//! an empty pipe reads `EAGAIN`, a full one writes `EAGAIN`. Waiting is
//! this library's business, K42's way (the object in the server, the
//! blocking in the client's library):
//!
//! - the **doorbell**: one page of the server, mapped read only into the
//!   process at [`DOORBELL_VA`] on first need (`FileSystem::doorbell`
//!   gives a handle for `map_handle`; a forked child inherits the
//!   mapping, an exec'd program maps it again). The server increments
//!   its first word at every change of any pipe (data in or out, an end
//!   opened or closed); the library whose call changed it `futex_wake`s
//!   the word when the call returns ([`rang`]: a wake from inside the
//!   server's PPC handler would hand the processor to a waiter that then
//!   finds the server busy);
//! - a call that got `EAGAIN` on a blocking description ([`Waiter`])
//!   reads the word, tries again, and if it still has to wait,
//!   `futex_wait`s for the word to move from what it read: a change
//!   between the try and the wait makes the wait return at once, so none
//!   is missed. A signal ends the wait: the call returns `ERESTARTSYS`
//!   (`EINTR`, or restarted under `SA_RESTART`: `signal::deliver`);
//! - `poll`, `select` and their `p` forms ([`poll`]) ask the server for
//!   the readiness of all its descriptions in one PPC
//!   (`FileSystem::poll`), look at the library's own objects themselves
//!   (the console is readable when a line is typed, `/dev` files always
//!   are), and wait on the doorbell with the timeout (the console has no
//!   doorbell: with it in the set, the wait is sliced at `tty::POLL_NS`).
//!
//! A server without a doorbell (`ENOSYS`) still works: waiters sleep
//! [`tty::POLL_NS`](crate::tty::POLL_NS) between tries.
//!
//! Writes go to the server in pieces of at most [`crate::fs::CHUNK`]
//! bytes, each all or nothing (they are below `PIPE_BUF`); a write of
//! `PIPE_BUF` bytes that does not fit one piece may interleave with
//! another writer's at the piece boundary (Linux's never does).

use k42_interfaces::pipe as bits;
use linux_raw_sys::general as g;

use crate::fd::Object;
use crate::signal::{self, ERESTARTSYS};
use crate::{fs, Ctx, Errno};

/// Where the library maps the file server's doorbell page (in the
/// library's own window, which no program mapping may touch).
pub const DOORBELL_VA: u64 = 0x7ffe_0000;

/// The doorbell as this process has it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Doorbell {
    /// Not asked for yet.
    #[default]
    Unknown,
    /// Mapped: the word's address.
    Mapped(u64),
    /// The server has none (or the mapping failed): sleep and retry.
    None,
}

/// The doorbell word's address, mapping the page on first use.
pub fn doorbell(ctx: &mut Ctx<'_>) -> Option<u64> {
    match ctx.st.doorbell {
        Doorbell::Mapped(a) => return Some(a),
        Doorbell::None => return None,
        Doorbell::Unknown => {}
    }
    let mapped = fs::call(ctx, |s| s.doorbell())
        .and_then(|h| ctx.native.map_handle(h, DOORBELL_VA))
        .map(|_| DOORBELL_VA);
    ctx.st.doorbell = match mapped {
        Ok(a) => Doorbell::Mapped(a),
        Err(_) => {
            crate::log_once(
                ctx,
                u32::MAX - 1,
                "no doorbell from the file server: pipes poll",
            );
            Doorbell::None
        }
    };
    mapped.ok()
}

/// The doorbell word before a call that may change a pipe (mapping the
/// doorbell on first use; `None` without one): see [`rang`].
pub fn bell_before(ctx: &mut Ctx<'_>) -> Option<u32> {
    ring_count(ctx)
}

/// After such a call: if the server rang meanwhile, wakes whoever waits
/// on the doorbell (the server does not: see `ramfs::Bell`), and notes
/// the word for the next call.
pub fn rang(ctx: &mut Ctx<'_>, before: &mut Option<u32>) {
    let (Doorbell::Mapped(a), Some(b)) = (ctx.st.doorbell, *before) else {
        return;
    };
    let mut w = [0u8; 4];
    ctx.native.read(a, &mut w);
    let now = u32::from_le_bytes(w);
    if now != b {
        let _ = crate::threads::futex_wake(ctx, a, u32::MAX);
        *before = Some(now);
    }
}

/// The doorbell word now (0 without one).
fn ring_count(ctx: &mut Ctx<'_>) -> Option<u32> {
    let a = doorbell(ctx)?;
    let mut w = [0u8; 4];
    ctx.native.read(a, &mut w);
    Some(u32::from_le_bytes(w))
}

/// Waits until the doorbell word moves from `seen` (or `timeout_ns`
/// passes, 0: none; without a doorbell, sleeps a slice): `Ok(true)` if
/// the wait timed out.
fn wait_for_ring(ctx: &mut Ctx<'_>, seen: Option<u32>, timeout_ns: u64) -> Result<bool, Errno> {
    let slice = crate::tty::POLL_NS;
    let r = match (ctx.st.doorbell, seen) {
        (Doorbell::Mapped(a), Some(seen)) => crate::threads::futex_wait(ctx, a, seen, timeout_ns),
        _ => {
            let ns = if timeout_ns == 0 {
                slice
            } else {
                timeout_ns.min(slice)
            };
            match crate::threads::sleep(ctx, ns) {
                Ok(()) if ns == timeout_ns => Err(Errno(linux_raw_sys::errno::ETIMEDOUT)),
                r => r,
            }
        }
    };
    match r {
        Ok(()) | Err(Errno::EAGAIN) => Ok(false),
        Err(Errno(linux_raw_sys::errno::ETIMEDOUT)) => Ok(true),
        // A soft interrupt: the caller looks for signals.
        Err(Errno(linux_raw_sys::errno::EINTR)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A read or write that got `EAGAIN` from the server and may have to
/// wait (see the module docs).
#[derive(Default)]
pub struct Waiter {
    /// The doorbell word read before the last try (`None`: not yet).
    seen: Option<Option<u32>>,
    /// Tries the server was too busy to take (see [`Waiter::busy`]).
    busy: u32,
}

/// How often a call the server was too busy to take is tried again, a
/// millisecond apart.
pub const BUSY_RETRIES: u32 = 1000;

impl Waiter {
    /// The server was too busy to take the call (`EIO`: the transport
    /// gave up after its own tries, which happens when many waiters woken
    /// by one ring call it at once on one processor): sleeps a
    /// millisecond before the caller tries again, `EIO` after
    /// [`BUSY_RETRIES`].
    pub fn busy(&mut self, ctx: &mut Ctx<'_>) -> Result<(), Errno> {
        self.busy += 1;
        if self.busy > BUSY_RETRIES {
            return Err(EIO);
        }
        match crate::threads::sleep(ctx, 1_000_000) {
            Err(e) if e != EIO && signal::interrupted(ctx) => Err(ERESTARTSYS),
            _ => Ok(()),
        }
    }

    /// Description `file` said `EAGAIN`: `EAGAIN` if it is non-blocking,
    /// `ERESTARTSYS` if a signal is to be acted on; otherwise returns
    /// when the caller should try again (at once the first time, with the
    /// doorbell word read; then after the word moved).
    pub fn again(&mut self, ctx: &mut Ctx<'_>, file: u64) -> Result<(), Errno> {
        match self.seen {
            None => {
                let status = fs::call(ctx, |s| s.flags(file, 0, 0))?;
                if status & g::O_NONBLOCK != 0 {
                    return Err(Errno::EAGAIN);
                }
            }
            Some(seen) => {
                if signal::interrupted(ctx) {
                    return Err(ERESTARTSYS);
                }
                wait_for_ring(ctx, seen, 0)?;
                if signal::interrupted(ctx) {
                    return Err(ERESTARTSYS);
                }
            }
        }
        self.seen = Some(ring_count(ctx));
        Ok(())
    }
}

/// Waits for the server's description `file` to show `want` (a
/// [`bits`] mask): a blocking `open` of a FIFO waiting for the other
/// side. `ERESTARTSYS` if a signal comes first.
pub fn wait_for(ctx: &mut Ctx<'_>, file: u64, want: u32) -> Result<(), Errno> {
    loop {
        let seen = ring_count(ctx);
        if server_poll(ctx, &[file])?[0].0 & want != 0 {
            return Ok(());
        }
        if signal::interrupted(ctx) {
            return Err(ERESTARTSYS);
        }
        wait_for_ring(ctx, seen, 0)?;
    }
}

/// `SIGPIPE` for a write that met `EPIPE` (Linux sends it to the writer;
/// its default ends the process).
pub fn broken(ctx: &mut Ctx<'_>) {
    let pid = ctx.st.pid;
    signal::push(
        ctx.st,
        signal::Info {
            sig: g::SIGPIPE,
            code: signal::code::SI_USER,
            pid,
            ..signal::Info::default()
        },
    );
}

/// The server's readiness of `files`: ([`bits`], bytes to read) each.
pub fn server_poll(ctx: &mut Ctx<'_>, files: &[u64]) -> Result<alloc::vec::Vec<(u32, u32)>, Errno> {
    /// Descriptions per PPC (in and out fit the page).
    const BATCH: usize = 240;
    let mut all = alloc::vec::Vec::with_capacity(files.len());
    for part in files.chunks(BATCH) {
        let mut req = [0u8; BATCH * 8];
        for (i, f) in part.iter().enumerate() {
            req[i * 8..i * 8 + 8].copy_from_slice(&f.to_le_bytes());
        }
        let mut out = [0u8; BATCH * 8];
        let n = part.len() * 8;
        fs::call(ctx, |s| s.poll(&req[..n], &mut out[..n]))?;
        for o in out[..n].chunks_exact(8) {
            let w = |at: usize| u32::from_le_bytes([o[at], o[at + 1], o[at + 2], o[at + 3]]);
            all.push((w(0), w(4)));
        }
    }
    Ok(all)
}

/// `POLLRDNORM` and `POLLWRNORM`, which Linux reports with `POLLIN` and
/// `POLLOUT`.
const POLLRDNORM: u32 = 0x40;
/// See [`POLLRDNORM`].
const POLLWRNORM: u32 = 0x100;

/// One entry of a `poll` set: the descriptor (negative: ignored), the
/// events asked for, the events found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollFd {
    /// The descriptor.
    pub fd: i32,
    /// Events asked for.
    pub events: u32,
    /// Events found (always including `POLLERR`, `POLLHUP`, `POLLNVAL`).
    pub revents: u32,
}

/// Whether the console has input for a read (typed input taken in; end of
/// file when nobody can type).
fn console_readable(ctx: &mut Ctx<'_>) -> bool {
    if ctx.st.tty.readable() {
        return true;
    }
    // In raw mode one typed byte makes the console readable: the rest
    // stays the console's, for whoever reads next (`tty::read`).
    let t = crate::tty::settings(ctx);
    let want = if t.flags[3] & linux_raw_sys::general::ICANON != 0 {
        crate::tty::PULL_MAX
    } else {
        1
    };
    match crate::tty::pull(ctx, want) {
        Ok(_) => ctx.st.tty.readable(),
        Err(_) => true,
    }
}

/// Fills in `revents` of every entry: how many have some. `console`: one
/// of them is the console (which has no doorbell).
fn scan(ctx: &mut Ctx<'_>, fds: &mut [PollFd], console: &mut bool) -> Result<usize, Errno> {
    let mut files = alloc::vec::Vec::new();
    for p in fds.iter_mut() {
        p.revents = 0;
        if p.fd < 0 {
            continue;
        }
        let found = match ctx.st.fds.get(p.fd as u64).map(|f| f.obj.clone()) {
            Err(_) => bits::POLLNVAL,
            Ok(Object::Console) => {
                *console = true;
                let r = if console_readable(ctx) {
                    bits::POLLIN | POLLRDNORM
                } else {
                    0
                };
                r | bits::POLLOUT | POLLWRNORM
            }
            Ok(o) => match o.description() {
                Some(file) => {
                    files.push(file);
                    continue;
                }
                None => bits::POLLIN | POLLRDNORM | bits::POLLOUT | POLLWRNORM,
            },
        };
        p.revents = found;
    }
    if !files.is_empty() {
        let mut ready = server_poll(ctx, &files)?.into_iter();
        for p in fds.iter_mut() {
            let is_file = p.fd >= 0
                && ctx
                    .st
                    .fds
                    .get(p.fd as u64)
                    .is_ok_and(|f| f.obj.description().is_some());
            if is_file {
                let (b, _) = ready.next().unwrap_or((bits::POLLNVAL, 0));
                let mut b = b & !bits::PEER;
                if b & bits::POLLIN != 0 {
                    b |= POLLRDNORM;
                }
                if b & bits::POLLOUT != 0 {
                    b |= POLLWRNORM;
                }
                p.revents = b;
            }
        }
    }
    let always = bits::POLLERR | bits::POLLHUP | bits::POLLNVAL;
    let mut n = 0;
    for p in fds.iter_mut() {
        p.revents &= p.events | always;
        if p.revents != 0 {
            n += 1;
        }
    }
    Ok(n)
}

/// `poll`'s core (`poll`, `ppoll`, `select`, `pselect6`): fills in
/// `revents`, waiting up to `timeout_ns` (`None`: forever; 0: not at all)
/// for one to have some: how many have, and the time left.
/// `ERESTARTNOHAND` if a signal comes first.
pub fn poll(
    ctx: &mut Ctx<'_>,
    fds: &mut [PollFd],
    timeout_ns: Option<u64>,
) -> Result<(usize, u64), Errno> {
    let start = signal::now(ctx);
    let deadline = timeout_ns.map(|t| start.saturating_add(t));
    let mut left = timeout_ns.unwrap_or(u64::MAX);
    loop {
        let mut console = false;
        let seen = if timeout_ns == Some(0) {
            None
        } else {
            ring_count(ctx)
        };
        let n = scan(ctx, fds, &mut console)?;
        if n > 0 || left == 0 {
            return Ok((n, left));
        }
        if signal::interrupted(ctx) {
            return Err(signal::ERESTARTNOHAND);
        }
        let slice = match (console, deadline) {
            (true, _) => left.min(crate::tty::POLL_NS),
            (false, None) => 0,
            (false, Some(_)) => left,
        };
        let timed_out = wait_for_ring(ctx, seen, slice)?;
        if let Some(d) = deadline {
            // A wait that ran its whole slice to the deadline ends it,
            // whatever the clock says.
            left = if timed_out && slice >= left {
                0
            } else {
                d.saturating_sub(signal::now(ctx))
            };
        }
    }
}

/// `EPIPE`: no reader left.
pub const EPIPE: Errno = Errno(linux_raw_sys::errno::EPIPE);

/// The signal mask at `set` (`size` bytes: 8, else `EINVAL`), or `None`
/// for a NULL `set`.
pub fn read_mask(ctx: &Ctx<'_>, set: u64, size: u64) -> Result<Option<u64>, Errno> {
    if set == 0 {
        return Ok(None);
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    Ok(Some(ctx.read_u64(set)?))
}

/// Runs `f` with `mask` as the blocked set (`ppoll`, `pselect6`), then
/// puts the old one back, unless a signal interrupted `f`: the old mask
/// then comes back after its handler (`signal::deliver`), as Linux does.
pub fn with_mask<T>(
    ctx: &mut Ctx<'_>,
    mask: Option<u64>,
    f: impl FnOnce(&mut Ctx<'_>) -> Result<T, Errno>,
) -> Result<T, Errno> {
    let Some(mask) = mask else {
        return f(ctx);
    };
    let old = ctx.st.blocked;
    ctx.st.blocked = mask & !crate::calls::UNBLOCKABLE;
    ctx.st.sig.saved_mask = Some(old);
    let r = f(ctx);
    if r.as_ref().err() != Some(&signal::ERESTARTNOHAND) {
        ctx.st.blocked = old;
        ctx.st.sig.saved_mask = None;
    }
    r
}

/// Writes `ns` as a `struct timespec` at `at`.
pub fn put_timespec(ctx: &mut Ctx<'_>, at: u64, ns: u64) -> Result<(), Errno> {
    ctx.write_u64(at, ns / 1_000_000_000)?;
    ctx.write_u64(at + 8, ns % 1_000_000_000)
}

/// `FIONREAD` of descriptor `fd`: the bytes a read would find, if it is a
/// pipe of the file server (`None` otherwise).
pub fn bytes_ready(ctx: &mut Ctx<'_>, fd: u64) -> Result<Option<u32>, Errno> {
    let Some(file) = ctx.st.fds.get(fd)?.obj.description() else {
        return Ok(None);
    };
    if fs::call(ctx, |s| s.fstat(file))?.kind != k42_interfaces::kind::FIFO {
        return Ok(None);
    }
    Ok(Some(server_poll(ctx, &[file])?[0].1))
}

/// `EIO`: a call the file server could not take.
pub const EIO: Errno = Errno(linux_raw_sys::errno::EIO);

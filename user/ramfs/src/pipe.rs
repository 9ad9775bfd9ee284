//! Pipes and FIFOs: a bounded byte queue between the descriptions that
//! read it and those that write it.
//!
//! A pipe is a node of the tree ([`crate::Body::Pipe`]): an anonymous one
//! (`pipe`) has no name and lives while its ends are open; a FIFO
//! (`mknod`) has a name and gets ends when it is opened. The server
//! never waits: an empty pipe reads `EAGAIN` (0 once no writer is left),
//! a full one writes `EAGAIN` (`EPIPE` once no reader is left). Waiting
//! is the client's business: every change rings the server's doorbell
//! ([`Bell`]), a page of shared memory whose word the client's library
//! `futex_wait`s on (K42's way: the object lives in the server, blocking
//! in the client, and a PPC handler never blocks).

use alloc::collections::VecDeque;

use k42_interfaces::flags::{O_ACCMODE, O_RDONLY, O_WRONLY};
use k42_interfaces::pipe::*;
use k42_rt::Errno;
use ppc_idl::ProcessId;

/// Where the server announces changes of its pipes: the doorbell page
/// (see [`FileSystem::doorbell`](k42_interfaces::FileSystem::doorbell)).
/// The program (`main.rs`) implements it with a page of shared memory,
/// `share` and `futex_wake`; a server without one has no doorbell
/// (`ENOSYS`), and its clients poll.
pub trait Bell: Sync + Send {
    /// Increments the doorbell word. (The client whose call changed a
    /// pipe `futex_wake`s the waiters when the call returns: a wake from
    /// inside the PPC handler would hand the processor to a waiter that
    /// then finds the server busy with the call.)
    fn ring(&self);
    /// Lets process `pid` map the doorbell page: the handle it passes to
    /// `map_handle`.
    fn share(&self, pid: ProcessId) -> Result<u64, Errno>;
}

/// A pipe's state.
#[derive(Default)]
pub(crate) struct Pipe {
    /// The bytes written and not read yet (at most [`CAPACITY`]).
    pub(crate) buf: VecDeque<u8>,
    /// Open descriptions that read it (`O_RDONLY`, `O_RDWR`).
    pub(crate) readers: u32,
    /// Open descriptions that write it (`O_WRONLY`, `O_RDWR`).
    pub(crate) writers: u32,
    /// Read ends ever opened (a FIFO's `open` waits for the count of the
    /// other side to move: see [`PEER`]).
    pub(crate) read_opens: u32,
    /// Write ends ever opened.
    pub(crate) write_opens: u32,
}

/// Whether a description with access mode `flags` reads and writes.
pub(crate) fn ends(flags: u32) -> (bool, bool) {
    let mode = flags & O_ACCMODE;
    (mode != O_WRONLY, mode != O_RDONLY)
}

impl Pipe {
    /// A new description with `flags` opens the pipe: the count of the
    /// other side's opens it starts from.
    pub(crate) fn open(&mut self, flags: u32) -> u32 {
        let (r, w) = ends(flags);
        let seen = match (r, w) {
            (true, false) => self.write_opens,
            (false, true) => self.read_opens,
            _ => 0,
        };
        if r {
            self.readers += 1;
            self.read_opens = self.read_opens.wrapping_add(1);
        }
        if w {
            self.writers += 1;
            self.write_opens = self.write_opens.wrapping_add(1);
        }
        seen
    }

    /// The last reference to a description with `flags` went.
    pub(crate) fn close(&mut self, flags: u32) {
        let (r, w) = ends(flags);
        if r {
            self.readers -= 1;
        }
        if w {
            self.writers -= 1;
        }
    }

    /// Takes up to `out.len()` bytes: how many; 0 at the end (no writer),
    /// `EAGAIN` while empty.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> Result<usize, Errno> {
        if self.buf.is_empty() {
            return if self.writers == 0 {
                Ok(0)
            } else {
                Err(Errno::EAGAIN)
            };
        }
        let n = out.len().min(self.buf.len());
        for (o, b) in out.iter_mut().zip(self.buf.drain(..n)) {
            *o = b;
        }
        Ok(n)
    }

    /// How many of `len` bytes a write may put now: `EPIPE` without a
    /// reader, `EAGAIN` if none fits (or, for at most [`PIPE_BUF`], not
    /// all of them).
    pub(crate) fn room(&self, len: usize) -> Result<usize, Errno> {
        if self.readers == 0 {
            return Err(Errno::EPIPE);
        }
        let free = CAPACITY - self.buf.len();
        if free == 0 || (len <= PIPE_BUF && free < len) {
            return Err(Errno::EAGAIN);
        }
        Ok(len.min(free))
    }

    /// The [`k42_interfaces::pipe`] bits for a description with `flags`
    /// that started from `seen` (see [`Pipe::open`]).
    pub(crate) fn poll(&self, flags: u32, seen: u32) -> u32 {
        let (r, w) = ends(flags);
        let mut bits = 0;
        if r {
            if !self.buf.is_empty() {
                bits |= POLLIN;
            }
            // As Linux: a reader sees the hang-up once a writer came and
            // went (a FIFO's reader that never had one does not).
            if self.writers == 0 && self.write_opens != seen {
                bits |= POLLHUP;
            }
        }
        if w {
            // As Linux: writable with room, an error once no reader is
            // left (both, then).
            if CAPACITY - self.buf.len() >= PIPE_BUF {
                bits |= POLLOUT;
            }
            if self.readers == 0 {
                bits |= POLLERR;
            }
        }
        let peer = match (r, w) {
            (true, false) => self.writers > 0 || self.write_opens != seen,
            (false, true) => self.readers > 0 || self.read_opens != seen,
            _ => true,
        };
        if peer {
            bits |= PEER;
        }
        bits
    }
}

//! The kernel's PPC path as a `ppc-idl` [`Transport`]: what every
//! generated client stub calls through.

use ppc_idl::{Message, MethodId, ObjectHandle, PpcError, Transport, PPC_PAGE_SIZE, PPC_REGS};

use crate::{nr, status, sys, Errno};

/// How often a call to a server that is not waiting for calls is retried
/// (yielding in between) before it fails.
pub const BUSY_TRIES: u32 = 1000;

fn regs() -> *mut [u64; PPC_REGS] {
    nr::PPC_VA as *mut [u64; PPC_REGS]
}

fn page() -> *mut [u8; PPC_PAGE_SIZE] {
    nr::PPC_PAGE_VA as *mut [u8; PPC_PAGE_SIZE]
}

/// Copies `msg` (its registers and the used part of its page) into this
/// processor's PPC region.
pub(crate) fn put(msg: &Message) {
    let len = msg.page_len.min(PPC_PAGE_SIZE);
    // SAFETY: the kernel maps the PPC region read-write in every process,
    // one copy per processor; a dispatcher is the only user of its
    // processor's copy between a call and its reply (the kernel copies it
    // out before anything else runs there).
    unsafe {
        *regs() = msg.regs;
        (&mut *page())[..len].copy_from_slice(&msg.page[..len]);
    }
}

/// Copies this processor's PPC region (`len` bytes of the page) into
/// `msg`.
pub(crate) fn get(msg: &mut Message, len: usize) {
    let len = len.min(PPC_PAGE_SIZE);
    // SAFETY: as in `put`: the kernel just copied a request or reply here.
    unsafe {
        msg.regs = *regs();
        msg.page[..len].copy_from_slice(&(&*page())[..len]);
    }
    msg.page_len = len;
}

/// PPCs through the kernel (`ipc_call`): same processor, handoff to a
/// fresh activation of the server, registers plus the PPC page.
///
/// A stub and its transport are used by one thread at a time per
/// processor (the PPC region is per processor, not per thread).
///
/// Async messages go to the server's dispatcher on one processor, chosen
/// when the transport is made (a handle does not say where its server
/// runs).
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelTransport {
    async_cpu: u64,
}

impl KernelTransport {
    /// A transport whose async messages go to processor 0.
    pub const fn new() -> Self {
        KernelTransport { async_cpu: 0 }
    }

    /// A transport whose async messages go to processor `cpu`.
    pub const fn on(cpu: u64) -> Self {
        KernelTransport { async_cpu: cpu }
    }
}

impl Transport for KernelTransport {
    fn call(
        &self,
        handle: ObjectHandle,
        method: MethodId,
        req: &Message,
        reply: &mut Message,
    ) -> Result<(), PpcError> {
        let h = crate::to_raw(handle).ok_or(PpcError::BadHandle)?;
        let mut tries = 0;
        let (s, len) = loop {
            // (Again after a yield: an incoming call may have used the
            // region meanwhile.)
            put(req);
            match sys::ipc_call(h, method, req.page_len) {
                // The server is not waiting for calls right now (still
                // starting, or runnable after a wake-up): let it run.
                (s, _) if s == -(Errno::EAGAIN.0 as i64) && tries < BUSY_TRIES => {
                    tries += 1;
                    let _ = sys::yield_now();
                }
                r => break r,
            }
        };
        status::decode(s)?;
        get(reply, len);
        Ok(())
    }

    /// Async messages carry four words (`method | object << 32`, then
    /// three registers); a message needing more is [`PpcError::Overflow`].
    fn send(&self, handle: ObjectHandle, method: MethodId, msg: &Message) -> Result<(), PpcError> {
        if msg.regs[3..].iter().any(|&r| r != 0) || msg.page_len != 0 {
            return Err(PpcError::Overflow);
        }
        let w0 = u64::from(method) | (u64::from(handle.index) << 32);
        let words = [w0, msg.regs[0], msg.regs[1], msg.regs[2]];
        let mut tries = 0;
        loop {
            match sys::async_send(handle, self.async_cpu, words) {
                Ok(()) => return Ok(()),
                // The ring is full: let the server drain it.
                Err(Errno::EAGAIN) if tries < BUSY_TRIES => {
                    tries += 1;
                    let _ = sys::yield_now();
                }
                Err(Errno::EBADF) => return Err(PpcError::BadHandle),
                Err(_) => return Err(PpcError::Transport),
            }
        }
    }
}

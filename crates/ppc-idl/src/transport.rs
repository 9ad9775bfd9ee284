//! The transport contract between generated stubs and the kernel PPC path,
//! and an in-process [`LoopbackTransport`] that models it.

use crate::{Message, MethodId, ObjectHandle, PpcError, ProcessId, Rights};

/// What the kernel (not the caller) tells the server about a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallInfo {
    /// The method number.
    pub method: MethodId,
    /// The calling process, as the kernel knows it.
    pub caller: ProcessId,
    /// The rights the object's export table grants that caller.
    pub rights: Rights,
}

/// The server side of an interface: implemented by the generated
/// `<Trait>Server<S>`.
pub trait Dispatch {
    /// Checks rights, unmarshals `req`, runs the method and marshals its
    /// results into `reply` (left untouched for async methods).
    fn dispatch(&self, call: &CallInfo, req: &Message, reply: &mut Message)
        -> Result<(), PpcError>;
}

/// The client side's view of the kernel PPC path.
///
/// A kernel implementation performs a same-processor handoff to a fresh
/// server thread (`call`), or queues an async message in the target
/// dispatcher and raises a soft interrupt (`send`). Caller id and rights are
/// filled in by the kernel from the handle's export record.
pub trait Transport {
    /// A synchronous PPC: `req` in, `reply` out.
    fn call(
        &self,
        handle: ObjectHandle,
        method: MethodId,
        req: &Message,
        reply: &mut Message,
    ) -> Result<(), PpcError>;

    /// An async message (registers only; no reply).
    fn send(&self, handle: ObjectHandle, method: MethodId, msg: &Message) -> Result<(), PpcError>;
}

/// An in-process transport: calls a server's [`Dispatch`] directly, playing
/// the kernel's part of looking up the caller's rights in a per-caller table.
///
/// One loopback serves one exported object (`handle`); a call through any
/// other handle is [`PpcError::BadHandle`]. A caller missing from `grants`
/// holds no rights at all (a handle alone grants nothing).
pub struct LoopbackTransport<'s> {
    server: &'s dyn Dispatch,
    handle: ObjectHandle,
    grants: &'s [(ProcessId, Rights)],
    caller: ProcessId,
}

impl<'s> LoopbackTransport<'s> {
    /// A loopback to `server`, exported as `handle`, with the per-caller
    /// rights table `grants`, used by process `caller`.
    pub fn new(
        server: &'s dyn Dispatch,
        handle: ObjectHandle,
        grants: &'s [(ProcessId, Rights)],
        caller: ProcessId,
    ) -> Self {
        LoopbackTransport {
            server,
            handle,
            grants,
            caller,
        }
    }

    /// The same object and table, called by another process.
    pub fn as_caller(&self, caller: ProcessId) -> Self {
        LoopbackTransport { caller, ..*self }
    }

    fn info(&self, handle: ObjectHandle, method: MethodId) -> Result<CallInfo, PpcError> {
        if handle != self.handle {
            return Err(PpcError::BadHandle);
        }
        let rights = self
            .grants
            .iter()
            .find(|(p, _)| *p == self.caller)
            .map_or(Rights::NONE, |(_, r)| *r);
        Ok(CallInfo {
            method,
            caller: self.caller,
            rights,
        })
    }
}

impl Transport for LoopbackTransport<'_> {
    fn call(
        &self,
        handle: ObjectHandle,
        method: MethodId,
        req: &Message,
        reply: &mut Message,
    ) -> Result<(), PpcError> {
        let info = self.info(handle, method)?;
        self.server.dispatch(&info, req, reply)
    }

    fn send(&self, handle: ObjectHandle, method: MethodId, msg: &Message) -> Result<(), PpcError> {
        let info = self.info(handle, method)?;
        // An async message carries registers only: the server never sees the
        // sender's page.
        let mut only_regs = Message::new();
        only_regs.regs = msg.regs;
        let mut no_reply = Message::new();
        self.server.dispatch(&info, &only_regs, &mut no_reply)
    }
}

//! # console-server: the console as a K42-rs server
//!
//! In K42 even the console was a server reached by PPC. This crate is the
//! [`Console`] implementation, [`ConsoleObject`]: it writes what callers
//! send to a sink (in the program, the kernel's console call, which only
//! this server should use once clients go through it), optionally behind
//! a prefix, and counts writes and bytes. One process exports two objects
//! (`console` and `log`, the second with a `[log] ` prefix), showing the
//! server framework's several objects per process, and registers both
//! with the name server.
//!
//! ```
//! use console_server::ConsoleObject;
//! use k42_interfaces::Console;
//! use ppc_idl::ProcessId;
//!
//! fn sink(_: &[u8]) {}
//! let c = ConsoleObject::new(sink, "");
//! assert_eq!(c.write(ProcessId(1), b"hi"), Ok(2));
//! assert_eq!(c.stats(), (1, 2));
//! ```
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

use core::sync::atomic::{AtomicU64, Ordering};

pub use k42_interfaces::rights;
use k42_interfaces::Console;
use k42_rt::Errno;
use ppc_idl::ProcessId;

/// One console object.
pub struct ConsoleObject {
    sink: fn(&[u8]),
    prefix: &'static str,
    writes: AtomicU64,
    bytes: AtomicU64,
    notes: AtomicU64,
    sum: AtomicU64,
}

impl ConsoleObject {
    /// A console writing to `sink`, each write behind `prefix`.
    pub const fn new(sink: fn(&[u8]), prefix: &'static str) -> Self {
        ConsoleObject {
            sink,
            prefix,
            writes: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            notes: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }
}

impl Console for ConsoleObject {
    fn write(&self, _caller: ProcessId, bytes: &[u8]) -> Result<u32, Errno> {
        if bytes.is_empty() {
            return Ok(0);
        }
        if !self.prefix.is_empty() {
            (self.sink)(self.prefix.as_bytes());
        }
        (self.sink)(bytes);
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(bytes.len() as u32)
    }

    fn read(&self, _buf: &mut [u8]) -> Result<u32, Errno> {
        Err(Errno::EAGAIN)
    }

    fn stats(&self) -> (u64, u64) {
        (
            self.writes.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }

    fn note(&self, _caller: ProcessId, value: u64) {
        self.notes.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    fn notes(&self) -> (u64, u64) {
        (
            self.notes.load(Ordering::Relaxed),
            self.sum.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use k42_interfaces::{ConsoleClient, ConsoleServer};
    use ppc_idl::{LoopbackTransport, ObjectHandle, PpcError, Rights};
    use std::sync::Mutex;
    use std::vec::Vec;

    static OUT: Mutex<Vec<u8>> = Mutex::new(Vec::new());
    fn sink(b: &[u8]) {
        OUT.lock().unwrap().extend_from_slice(b);
    }

    #[test]
    fn writes_reach_the_sink_with_the_prefix_and_are_counted() {
        let server = ConsoleServer(ConsoleObject::new(sink, "[log] "));
        let h = ObjectHandle::new(ProcessId(1), 1, 1);
        let grants = [(ProcessId(5), Rights(rights::WRITE))];
        let t = LoopbackTransport::new(&server, h, &grants, ProcessId(5));
        let c = ConsoleClient::new(&t, h);
        assert_eq!(c.write(b"hello\n"), Ok(Ok(6)));
        assert_eq!(c.write(b""), Ok(Ok(0)));
        assert_eq!(c.stats(), Ok((1, 6)));
        assert_eq!(c.read(&mut [0; 4]), Err(PpcError::NoRights));
        assert_eq!(OUT.lock().unwrap().as_slice(), b"[log] hello\n");
        assert_eq!(c.note(5), Ok(()), "async: no rights needed");
        assert_eq!(c.note(6), Ok(()));
        assert_eq!(c.notes(), Ok((2, 11)));
        let other = t.as_caller(ProcessId(6));
        assert_eq!(
            ConsoleClient::new(&other, h).write(b"x"),
            Err(PpcError::NoRights)
        );
    }
}

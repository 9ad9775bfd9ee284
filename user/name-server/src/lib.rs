//! # name-server: object handles by name
//!
//! K42's servers found each other through a name space of object handles
//! (notes §7: "clients hold an object handle"; how they got one is the name
//! server's job). This crate is the [`NameService`] implementation,
//! [`Names`]: a table of name → (handle, owner), where the owner is the
//! process that registered the name *as the kernel reports it* (the PPC
//! caller id, never a value the caller chose), so only it can rebind or
//! remove the name. The program (`main.rs`) exports one `Names` object with
//! `k42_rt::server`, grants [`rights::LOOKUP`] to everyone and
//! [`rights::REGISTER`] to the processes named on its command line.
//!
//! A handle registered here grants nothing by itself: the server it names
//! decides, with its own grants, what each process may call.
//!
//! ```
//! use k42_interfaces::NameService;
//! use k42_rt::Errno;
//! use name_server::Names;
//! use ppc_idl::{ObjectHandle, ProcessId};
//!
//! let names = Names::new();
//! let h = ObjectHandle::new(ProcessId(3), 0, 1);
//! names.register(ProcessId(3), "console", h).unwrap();
//! assert_eq!(names.lookup("console"), Ok(h));
//! assert_eq!(names.unregister(ProcessId(4), "console"), Err(Errno::EPERM));
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::string::String;

pub use k42_interfaces::rights;
use k42_interfaces::{NameService, NAME_MAX};
use k42_rt::Errno;
use ppc_idl::{ObjectHandle, ProcessId};

/// Most names kept.
pub const MAX_NAMES: usize = 256;

/// The name table.
pub struct Names {
    table: spin::Mutex<BTreeMap<String, (ObjectHandle, ProcessId)>>,
}

impl Default for Names {
    fn default() -> Self {
        Self::new()
    }
}

impl Names {
    /// An empty table.
    pub const fn new() -> Self {
        Names {
            table: spin::Mutex::new(BTreeMap::new()),
        }
    }
}

fn check(name: &str) -> Result<(), Errno> {
    if name.is_empty() || name.contains(['/', '\0', '\n']) {
        return Err(Errno::EINVAL);
    }
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

impl NameService for Names {
    fn register(&self, caller: ProcessId, name: &str, handle: ObjectHandle) -> Result<(), Errno> {
        check(name)?;
        let mut t = self.table.lock();
        let full = t.len() >= MAX_NAMES;
        match t.get_mut(name) {
            Some((_, owner)) if *owner != caller => Err(Errno::EEXIST),
            Some(entry) => {
                entry.0 = handle;
                Ok(())
            }
            None if full => Err(Errno::ENOSPC),
            None => {
                t.insert(String::from(name), (handle, caller));
                Ok(())
            }
        }
    }

    fn lookup(&self, name: &str) -> Result<ObjectHandle, Errno> {
        check(name)?;
        self.table
            .lock()
            .get(name)
            .map(|e| e.0)
            .ok_or(Errno::ENOENT)
    }

    fn unregister(&self, caller: ProcessId, name: &str) -> Result<(), Errno> {
        check(name)?;
        let mut t = self.table.lock();
        match t.get(name) {
            None => Err(Errno::ENOENT),
            Some((_, owner)) if *owner != caller => Err(Errno::EPERM),
            Some(_) => {
                t.remove(name);
                Ok(())
            }
        }
    }

    fn list(&self, start: u32, buf: &mut [u8]) -> Result<(u32, u32), Errno> {
        let t = self.table.lock();
        let (mut n, mut at) = (0u32, 0usize);
        for name in t.keys().skip(start as usize) {
            let end = at + name.len() + 1;
            let Some(dst) = buf.get_mut(at..end) else {
                break;
            };
            dst[..name.len()].copy_from_slice(name.as_bytes());
            dst[name.len()] = b'\n';
            at = end;
            n += 1;
        }
        Ok((n, at as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k42_interfaces::{NameServiceClient, NameServiceServer};
    use ppc_idl::{LoopbackTransport, PpcError, Rights};

    const A: ProcessId = ProcessId(10);
    const B: ProcessId = ProcessId(11);

    fn h(i: u32) -> ObjectHandle {
        ObjectHandle::new(ProcessId(99), i, 1)
    }

    #[test]
    fn owners_rebind_others_are_refused() {
        let n = Names::new();
        assert_eq!(n.register(A, "fs", h(1)), Ok(()));
        assert_eq!(n.register(B, "fs", h(2)), Err(Errno::EEXIST));
        assert_eq!(n.register(A, "fs", h(3)), Ok(()));
        assert_eq!(n.lookup("fs"), Ok(h(3)));
        assert_eq!(n.unregister(B, "fs"), Err(Errno::EPERM));
        assert_eq!(n.unregister(A, "fs"), Ok(()));
        assert_eq!(n.lookup("fs"), Err(Errno::ENOENT));
        assert_eq!(n.unregister(A, "fs"), Err(Errno::ENOENT));
    }

    #[test]
    fn bad_names_are_errors() {
        let n = Names::new();
        assert_eq!(n.register(A, "", h(1)), Err(Errno::EINVAL));
        assert_eq!(n.register(A, "a/b", h(1)), Err(Errno::EINVAL));
        assert_eq!(
            n.register(A, &"x".repeat(NAME_MAX + 1), h(1)),
            Err(Errno::ENAMETOOLONG)
        );
        assert_eq!(n.register(A, &"x".repeat(NAME_MAX), h(1)), Ok(()));
        assert_eq!(n.lookup("a\0"), Err(Errno::EINVAL));
    }

    #[test]
    fn the_table_is_bounded() {
        let n = Names::new();
        for i in 0..MAX_NAMES {
            n.register(A, &std::format!("n{i}"), h(i as u32)).unwrap();
        }
        assert_eq!(n.register(A, "one-more", h(0)), Err(Errno::ENOSPC));
    }

    #[test]
    fn list_pages_through_the_names() {
        let n = Names::new();
        for name in ["b", "a", "ccc"] {
            n.register(A, name, h(0)).unwrap();
        }
        let mut buf = [0u8; 5];
        assert_eq!(n.list(0, &mut buf), Ok((2, 4)));
        assert_eq!(&buf[..4], b"a\nb\n");
        assert_eq!(n.list(2, &mut buf), Ok((1, 4)));
        assert_eq!(&buf[..4], b"ccc\n");
        assert_eq!(n.list(3, &mut buf), Ok((0, 0)));
    }

    #[test]
    fn over_ppc_lookup_is_for_everyone_register_needs_the_right() {
        let server = NameServiceServer(Names::new());
        let me = ObjectHandle::new(ProcessId(1), 0, 1);
        let grants = [
            (A, Rights(rights::LOOKUP | rights::REGISTER)),
            (B, Rights(rights::LOOKUP)),
        ];
        let ta = LoopbackTransport::new(&server, me, &grants, A);
        let tb = ta.as_caller(B);
        let a = NameServiceClient::new(&ta, me);
        let b = NameServiceClient::new(&tb, me);
        assert_eq!(a.register("fs", h(5)), Ok(Ok(())));
        assert_eq!(b.lookup("fs"), Ok(Ok(h(5))));
        assert_eq!(b.register("fs2", h(5)), Err(PpcError::NoRights));
        // The owner is the kernel's caller id: B cannot forge A.
        assert_eq!(server.0.unregister(B, "fs"), Err(Errno::EPERM));
    }
}

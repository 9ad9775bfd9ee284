//! The process's file descriptors: what each number refers to.
//!
//! K42's Linux emulation kept the file-descriptor table in the process,
//! at user level (notes §10); only the objects behind it live in servers.
//! Here a descriptor is an [`Fd`]: an [`Object`] and the close-on-exec
//! flag. A file or directory is an *open file description* of the file
//! server (`k42_interfaces::FileSystem`): the server keeps its offset and
//! status flags and counts references, so every descriptor that refers to
//! it (after `dup`, or in a forked child) holds one reference, taken with
//! `hold` and dropped with `close`. The console and the `/dev` and `/proc`
//! files are the library's own.

use alloc::rc::Rc;
use alloc::vec::Vec;

use crate::Errno;

/// Most descriptors a process has (`RLIMIT_NOFILE`'s usual soft limit).
pub const MAX_FDS: usize = 1024;

/// A file the library itself provides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Special {
    /// `/dev/null`: reads end of file, writes vanish.
    Null,
    /// `/dev/zero`: reads zeros, writes vanish.
    Zero,
    /// `/dev/urandom` and `/dev/random`: reads random bytes.
    Random,
    /// A `/proc` file: its text, made when it was opened, and the offset.
    Proc {
        /// The file's contents.
        text: Rc<[u8]>,
        /// Where the next read starts (shared by `dup`s of it).
        offset: Rc<core::cell::Cell<u64>>,
    },
}

/// What a descriptor refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Object {
    /// The console, a terminal (`/dev/tty`, `/dev/console`, and 0-2 at
    /// start).
    Console,
    /// A file of the library's own.
    Special(Special),
    /// An open file description of the file server: a regular file or
    /// a symlink's target.
    File {
        /// The description (a capability of the server).
        file: u64,
    },
    /// An open directory of the file server, with its absolute path (for
    /// `openat` and the other calls relative to it, and `fchdir`).
    Dir {
        /// The description.
        file: u64,
        /// Its path when it was opened.
        path: Rc<str>,
    },
}

impl Object {
    /// The file server's description behind it, if any.
    pub fn description(&self) -> Option<u64> {
        match self {
            Object::File { file } | Object::Dir { file, .. } => Some(*file),
            _ => None,
        }
    }
}

/// One descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fd {
    /// What it refers to.
    pub obj: Object,
    /// `FD_CLOEXEC`: closed by a successful `execve`.
    pub cloexec: bool,
    /// For the library's own files: the access mode and status flags
    /// (`O_RDONLY` ...), as `fcntl(F_GETFL)` reports them. The file
    /// server keeps those of its descriptions.
    pub flags: u32,
}

impl Fd {
    /// A descriptor of `obj`, open with `flags`.
    pub fn new(obj: Object, flags: u32) -> Fd {
        Fd {
            obj,
            cloexec: false,
            flags,
        }
    }
}

/// The table: descriptor number → [`Fd`].
#[derive(Clone, Debug, Default)]
pub struct Table {
    slots: Vec<Option<Fd>>,
}

impl Table {
    /// A table with the console on 0, 1 and 2.
    pub fn with_console() -> Table {
        let rw = linux_raw_sys::general::O_RDWR;
        Table {
            slots: (0..3).map(|_| Some(Fd::new(Object::Console, rw))).collect(),
        }
    }

    /// The descriptor `fd`, or `EBADF`.
    pub fn get(&self, fd: u64) -> Result<&Fd, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i))
            .and_then(Option::as_ref)
            .ok_or(Errno::EBADF)
    }

    /// The descriptor `fd`, mutably.
    pub fn get_mut(&mut self, fd: u64) -> Result<&mut Fd, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)
    }

    /// The lowest free number from `from` on, or `EMFILE`.
    pub fn lowest_free(&self, from: usize) -> Result<usize, Errno> {
        (from..MAX_FDS)
            .find(|&i| self.slots.get(i).is_none_or(Option::is_none))
            .ok_or(Errno::EMFILE)
    }

    /// Puts `fd` at the lowest free number from `from` on.
    pub fn install(&mut self, fd: Fd, from: usize) -> Result<u64, Errno> {
        let n = self.lowest_free(from)?;
        self.put(n, fd);
        Ok(n as u64)
    }

    /// Puts `fd` at number `n` (below [`MAX_FDS`]); the descriptor that
    /// was there, which the caller must release.
    pub fn put(&mut self, n: usize, fd: Fd) -> Option<Fd> {
        assert!(n < MAX_FDS, "descriptor numbers stay below MAX_FDS");
        if self.slots.len() <= n {
            self.slots.resize(n + 1, None);
        }
        self.slots[n].replace(fd)
    }

    /// Takes descriptor `fd` out (the caller releases it), or `EBADF`.
    pub fn take(&mut self, fd: u64) -> Result<Fd, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::take)
            .ok_or(Errno::EBADF)
    }

    /// Every open descriptor: (number, descriptor).
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Fd)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|f| (i, f)))
    }

    /// How many are open.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_numbers_first_and_bounds() {
        let mut t = Table::with_console();
        assert_eq!(t.len(), 3);
        assert_eq!(t.install(Fd::new(Object::Console, 0), 0), Ok(3));
        assert_eq!(t.take(1).map(|f| f.obj), Ok(Object::Console));
        assert_eq!(t.install(Fd::new(Object::Console, 0), 0), Ok(1));
        assert_eq!(t.install(Fd::new(Object::Console, 0), 10), Ok(10));
        assert_eq!(t.get(9), Err(Errno::EBADF));
        assert_eq!(t.get(u64::MAX), Err(Errno::EBADF));
        assert_eq!(t.take(9), Err(Errno::EBADF));
        for _ in t.len()..MAX_FDS {
            t.install(Fd::new(Object::Console, 0), 0).unwrap();
        }
        assert_eq!(
            t.install(Fd::new(Object::Console, 0), 0),
            Err(Errno::EMFILE)
        );
        assert_eq!(
            t.put(5, Fd::new(Object::Special(Special::Null), 0))
                .map(|f| f.obj),
            Some(Object::Console)
        );
    }
}

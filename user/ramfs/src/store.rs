//! Mapped files: a regular file's bytes in memory its clients can map.
//!
//! K42 maps a file with a Region whose FCM caches the file's pages and
//! whose FR is the file server (paper §4, notes §4). Here the file server
//! *is* the page cache: once a file is mapped ([`FileSystem::map`]), the
//! server moves its bytes from its heap into a [`Store`] window, shared
//! memory of the server (`map_shared`) that the kernel maps into each
//! client as a Region over the same FCM (`share` / `map_handle`, a
//! copy-on-write view for `MAP_PRIVATE`). `read`, `write` and every
//! mapping then reach the same frames, so they agree without write-back
//! or invalidation. The server keeps the FCM's notion of the file's end
//! current ([`Store::set_size`]): pages past it leave every mapping, and
//! an access there faults, which the client's library turns into SIGBUS.
//!
//! `Data` is a file's body either way; [`MemStore`] is the store of the
//! hosted tests (and of the system library's mock kernel).
//!
//! [`FileSystem::map`]: k42_interfaces::FileSystem::map

use alloc::vec::Vec;
use k42_rt::Errno;
use ppc_idl::ProcessId;

use crate::MAX_FILE;

/// Page size of the windows.
pub const PAGE: u64 = 4096;

/// Shared memory for mapped files: windows of [`MAX_FILE`] bytes each.
pub trait Store: Sync {
    /// A new, zeroed window; its id (the program: its address), with no
    /// bytes in the file yet ([`set_size`](Store::set_size) 0).
    fn create(&self) -> Result<u64, Errno>;
    /// Frees window `w` (mappings made from it stay theirs).
    fn destroy(&self, w: u64);
    /// The file in `w` is `size` bytes now: the pages past the one
    /// holding its end leave every mapping; an access there faults. Called
    /// before the file grows and after it shrinks.
    fn set_size(&self, w: u64, size: u64) -> Result<(), Errno>;
    /// Reads `buf.len()` bytes at `offset` (within the size).
    fn read(&self, w: u64, offset: u64, buf: &mut [u8]);
    /// Writes `data` at `offset` (within the size).
    fn write(&self, w: u64, offset: u64, data: &[u8]);
    /// A handle for process `pid`'s `map_handle` of `[offset, offset +
    /// len)` of `w` (page aligned), for one mapping; `how` the
    /// [`k42_interfaces::map`] bits: the protection it maps with and the
    /// most it may ever have, and whether it is a private view.
    fn share(&self, w: u64, offset: u64, len: u64, pid: ProcessId, how: u32) -> Result<u64, Errno>;
}

/// A regular file's bytes.
pub(crate) enum Data {
    /// In the server's heap.
    Heap(Vec<u8>),
    /// In window `window` of the store (the file has been mapped).
    Shared {
        /// The window.
        window: u64,
        /// The file's length.
        len: u64,
    },
}

impl Data {
    pub(crate) fn len(&self) -> u64 {
        match self {
            Data::Heap(d) => d.len() as u64,
            Data::Shared { len, .. } => *len,
        }
    }

    /// Copies the bytes from `start` into `buf`: how many.
    pub(crate) fn read(&self, store: Option<&dyn Store>, start: u64, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.len().saturating_sub(start) as usize);
        if n == 0 {
            return 0;
        }
        match (self, store) {
            (Data::Heap(d), _) => buf[..n].copy_from_slice(&d[start as usize..start as usize + n]),
            (Data::Shared { window, .. }, Some(s)) => s.read(*window, start, &mut buf[..n]),
            (Data::Shared { .. }, None) => return 0,
        }
        n
    }

    /// Writes `data` at `start` (the file already reaches that far).
    pub(crate) fn write(&mut self, store: Option<&dyn Store>, start: u64, data: &[u8]) {
        match (self, store) {
            (Data::Heap(d), _) => {
                d[start as usize..start as usize + data.len()].copy_from_slice(data)
            }
            (Data::Shared { window, .. }, Some(s)) => s.write(*window, start, data),
            (Data::Shared { .. }, None) => {}
        }
    }

    /// Sets the length (the caller checked the budget): new bytes are
    /// zeros, and so is the rest of the page of a shared file's end.
    pub(crate) fn resize(&mut self, store: Option<&dyn Store>, new: u64) -> Result<(), Errno> {
        match self {
            Data::Heap(d) => {
                let (old, new) = (d.len(), new as usize);
                if new > old {
                    // Amortised growth (a file written piece by piece is
                    // not copied at every piece), exact if the heap is
                    // short.
                    (d.try_reserve(new - old))
                        .or_else(|_| d.try_reserve_exact(new - old))
                        .map_err(|_| Errno::ENOSPC)?;
                    d.resize(new, 0);
                } else {
                    d.truncate(new);
                    d.shrink_to_fit();
                }
            }
            Data::Shared { window, len } => {
                let s = store.ok_or(Errno::EIO)?;
                let old = *len;
                if new > old {
                    s.set_size(*window, new)?;
                    // Stores through a mapping past the old end, within
                    // its page, are not the file's: zeros.
                    let to = new.min(old.next_multiple_of(PAGE));
                    zero(s, *window, old, to);
                } else {
                    // The rest of the new end's page reads zero; the
                    // pages after it go.
                    zero(s, *window, new, old.min(new.next_multiple_of(PAGE)));
                    s.set_size(*window, new)?;
                }
                *len = new;
            }
        }
        Ok(())
    }

    /// Moves heap bytes into a new window of `store` (nothing if shared
    /// already).
    pub(crate) fn share(&mut self, store: &dyn Store) -> Result<u64, Errno> {
        let d = match self {
            Data::Shared { window, .. } => return Ok(*window),
            Data::Heap(d) => d,
        };
        let window = store.create()?;
        let len = d.len() as u64;
        if let Err(e) = store.set_size(window, len) {
            store.destroy(window);
            return Err(e);
        }
        store.write(window, 0, d);
        *self = Data::Shared { window, len };
        Ok(window)
    }

    /// Gives the window back (the file is gone).
    pub(crate) fn free(&self, store: Option<&dyn Store>) {
        if let (Data::Shared { window, .. }, Some(s)) = (self, store) {
            s.destroy(*window);
        }
    }
}

fn zero(s: &dyn Store, w: u64, from: u64, to: u64) {
    const ZEROS: [u8; 512] = [0; 512];
    let mut at = from;
    while at < to {
        let n = (to - at).min(ZEROS.len() as u64);
        s.write(w, at, &ZEROS[..n as usize]);
        at += n;
    }
}

/// A [`Store`] in the heap, for hosted tests: windows are byte vectors
/// (only the part below the size exists: what a mapping past it would
/// fault on), shares are recorded.
pub struct MemStore {
    inner: spin::Mutex<MemInner>,
}

#[derive(Default)]
struct MemInner {
    windows: alloc::collections::BTreeMap<u64, Vec<u8>>,
    next: u64,
    shares: Vec<Share>,
}

/// A share [`MemStore`] handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    /// The handle.
    pub handle: u64,
    /// The window.
    pub window: u64,
    /// Its range.
    pub offset: u64,
    /// See `offset`.
    pub len: u64,
    /// The grantee.
    pub pid: u32,
    /// The `map` bits.
    pub how: u32,
}

impl MemStore {
    /// No windows.
    pub const fn new() -> Self {
        MemStore {
            inner: spin::Mutex::new(MemInner {
                windows: alloc::collections::BTreeMap::new(),
                next: 1,
                shares: Vec::new(),
            }),
        }
    }

    /// Live windows.
    pub fn windows(&self) -> usize {
        self.inner.lock().windows.len()
    }

    /// The pages of window `w` a mapping may reach (its size, rounded up
    /// to a page): `None` if there is no such window.
    pub fn reach(&self, w: u64) -> Option<u64> {
        self.inner.lock().windows.get(&w).map(|d| d.len() as u64)
    }

    /// The share behind `handle`.
    pub fn share_of(&self, handle: u64) -> Option<Share> {
        self.inner
            .lock()
            .shares
            .iter()
            .find(|s| s.handle == handle)
            .copied()
    }

    /// Bytes of window `w` from `offset`, as a mapping would read them
    /// (`None` past the reach: the mapping would fault).
    pub fn peek(&self, w: u64, offset: u64, len: usize) -> Option<Vec<u8>> {
        let g = self.inner.lock();
        let d = g.windows.get(&w)?;
        let end = offset as usize + len;
        (end <= d.len()).then(|| d[offset as usize..end].to_vec())
    }
}

impl Default for MemStore {
    fn default() -> Self {
        Self::new()
    }
}

impl Store for MemStore {
    fn create(&self) -> Result<u64, Errno> {
        let mut g = self.inner.lock();
        let w = g.next;
        g.next += 1;
        g.windows.insert(w, Vec::new());
        Ok(w)
    }
    fn destroy(&self, w: u64) {
        self.inner.lock().windows.remove(&w);
    }
    fn set_size(&self, w: u64, size: u64) -> Result<(), Errno> {
        if size > MAX_FILE {
            return Err(Errno::EINVAL);
        }
        let mut g = self.inner.lock();
        let d = g.windows.get_mut(&w).ok_or(Errno::EINVAL)?;
        d.resize(size.next_multiple_of(PAGE) as usize, 0);
        Ok(())
    }
    fn read(&self, w: u64, offset: u64, buf: &mut [u8]) {
        let g = self.inner.lock();
        let d = &g.windows[&w];
        buf.copy_from_slice(&d[offset as usize..offset as usize + buf.len()]);
    }
    fn write(&self, w: u64, offset: u64, data: &[u8]) {
        let mut g = self.inner.lock();
        let d = g.windows.get_mut(&w).expect("a live window");
        d[offset as usize..offset as usize + data.len()].copy_from_slice(data);
    }
    fn share(&self, w: u64, offset: u64, len: u64, pid: ProcessId, how: u32) -> Result<u64, Errno> {
        let mut g = self.inner.lock();
        if !g.windows.contains_key(&w) {
            return Err(Errno::EINVAL);
        }
        let handle = 0x5000_0000 + g.shares.len() as u64;
        g.shares.push(Share {
            handle,
            window: w,
            offset,
            len,
            pid: pid.0,
            how,
        });
        Ok(handle)
    }
}

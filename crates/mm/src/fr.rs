//! File representatives: the kernel's face of a "file" (notes §4).
//!
//! An FCM reads and writes its pages through an FR. Computation
//! (anonymous) memory has an [`AnonFr`]: its "file" is swap space, here a
//! map of page-outs (the kernel's swap device would sit behind the same
//! interface). A mapped file has a [`FileFr`] over a [`FileServer`]: the
//! interface the file server implements. Reads may complete later
//! ([`ReadStart::Pending`]); the server then calls the [`IoDone`] it was
//! given, which finishes the page in its FCM and notifies the waiting
//! dispatchers. [`MemFile`] is the test double of a file server.

use crate::sync::Mutex;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;

use cobj::{Local, RepType};

use crate::frames::Frames;
use crate::types::{IoId, MmError, Pfn, PAGE_SIZE};

/// What a page-in did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageIn {
    /// The frames hold the data now.
    Done,
    /// The read is in flight; its [`IoDone`] will be called.
    Pending,
}

/// The completion of a read: called once by whoever finishes the I/O, on a
/// processor (a soft interrupt in the kernel), with the bytes or an error.
pub struct IoDone(Box<CompletionFn>);

type CompletionFn = dyn FnOnce(Result<&[u8], MmError>) + Send;

impl IoDone {
    /// Wraps a completion function.
    pub fn new(f: impl FnOnce(Result<&[u8], MmError>) + Send + 'static) -> Self {
        IoDone(Box::new(f))
    }
    /// Finishes the I/O.
    pub fn complete(self, data: Result<&[u8], MmError>) {
        (self.0)(data)
    }
}

/// The interface of an FR.
pub trait Fr: Send + Sync {
    /// Reads the `count` pages at byte `offset` into the frames at `pfn`,
    /// now ([`PageIn::Done`], `done` dropped) or later (`done` called).
    fn page_in(
        &self,
        offset: u64,
        pfn: Pfn,
        count: usize,
        frames: &dyn Frames,
        done: IoDone,
    ) -> Result<PageIn, MmError>;
    /// Writes the `count` pages at `pfn` to byte `offset`.
    fn page_out(
        &self,
        offset: u64,
        pfn: Pfn,
        count: usize,
        frames: &dyn Frames,
    ) -> Result<(), MmError>;
    /// Whether the backing store holds data for `offset` (for anonymous
    /// memory: whether the page was swapped out).
    fn has(&self, offset: u64) -> bool;
    /// Forgets stored data in `[offset, offset + len)`.
    fn discard(&self, offset: u64, len: u64);
    /// Offsets with stored data.
    fn stored(&self) -> Vec<u64>;
}

/// Swap space of one computation FCM.
pub struct AnonFr {
    swap: Mutex<BTreeMap<u64, Box<[u8]>>>,
}

impl RepType for AnonFr {
    type Interface = dyn Fr;
    type Shared = ();
    fn new(_: &(), _: usize) -> Self {
        AnonFr {
            swap: Mutex::new(BTreeMap::new()),
        }
    }
    fn interface(l: &Local<Self>) -> &Self::Interface {
        l
    }
}

impl Fr for Local<AnonFr> {
    fn page_in(
        &self,
        offset: u64,
        pfn: Pfn,
        count: usize,
        frames: &dyn Frames,
        _: IoDone,
    ) -> Result<PageIn, MmError> {
        let data = self.swap.lock().remove(&offset).ok_or(MmError::Io)?;
        for (k, chunk) in data.chunks(PAGE_SIZE).take(count).enumerate() {
            frames.write(Pfn(pfn.0 + k as u64), 0, chunk);
        }
        Ok(PageIn::Done)
    }
    fn page_out(
        &self,
        offset: u64,
        pfn: Pfn,
        count: usize,
        frames: &dyn Frames,
    ) -> Result<(), MmError> {
        let mut data = alloc::vec![0u8; count * PAGE_SIZE];
        for (k, chunk) in data.chunks_mut(PAGE_SIZE).enumerate() {
            frames.read(Pfn(pfn.0 + k as u64), 0, chunk);
        }
        self.swap.lock().insert(offset, data.into_boxed_slice());
        Ok(())
    }
    fn has(&self, offset: u64) -> bool {
        self.swap.lock().contains_key(&offset)
    }
    fn discard(&self, offset: u64, len: u64) {
        self.swap
            .lock()
            .retain(|o, _| *o < offset || *o >= offset + len);
    }
    fn stored(&self) -> Vec<u64> {
        self.swap.lock().keys().copied().collect()
    }
}

/// How a file server answers a read.
pub enum ReadStart {
    /// The bytes, now.
    Ready(Vec<u8>),
    /// Later, through the [`IoDone`].
    Pending,
}

/// What the file server implements for the kernel's FRs.
pub trait FileServer: Send + Sync {
    /// Reads `len` bytes at `offset` (zeros past the end of the file).
    fn read(&self, offset: u64, len: usize, done: IoDone) -> ReadStart;
    /// Writes back `data` at `offset`.
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), MmError>;
}

/// The FR of a mapped file.
pub struct FileFr {
    server: Arc<dyn FileServer>,
}

impl RepType for FileFr {
    type Interface = dyn Fr;
    type Shared = Arc<dyn FileServer>;
    fn new(s: &Self::Shared, _: usize) -> Self {
        FileFr { server: s.clone() }
    }
    fn interface(l: &Local<Self>) -> &Self::Interface {
        l
    }
}

impl Fr for Local<FileFr> {
    fn page_in(
        &self,
        offset: u64,
        pfn: Pfn,
        count: usize,
        frames: &dyn Frames,
        done: IoDone,
    ) -> Result<PageIn, MmError> {
        match self.server.read(offset, count * PAGE_SIZE, done) {
            ReadStart::Ready(data) => {
                fill(frames, pfn, count, &data);
                Ok(PageIn::Done)
            }
            ReadStart::Pending => Ok(PageIn::Pending),
        }
    }
    fn page_out(
        &self,
        offset: u64,
        pfn: Pfn,
        count: usize,
        frames: &dyn Frames,
    ) -> Result<(), MmError> {
        let mut data = alloc::vec![0u8; count * PAGE_SIZE];
        for (k, chunk) in data.chunks_mut(PAGE_SIZE).enumerate() {
            frames.read(Pfn(pfn.0 + k as u64), 0, chunk);
        }
        self.server.write(offset, &data)
    }
    fn has(&self, _: u64) -> bool {
        true
    }
    fn discard(&self, _: u64, _: u64) {}
    fn stored(&self) -> Vec<u64> {
        Vec::new()
    }
}

/// Copies `data` into a run of frames, zero-filling what it does not cover.
pub(crate) fn fill(frames: &dyn Frames, pfn: Pfn, count: usize, data: &[u8]) {
    for k in 0..count {
        let p = Pfn(pfn.0 + k as u64);
        frames.zero(p, 1);
        let lo = (k * PAGE_SIZE).min(data.len());
        let hi = ((k + 1) * PAGE_SIZE).min(data.len());
        frames.write(p, 0, &data[lo..hi]);
    }
}

/// A file server test double: a file in memory that answers reads at once
/// or, in asynchronous mode, queues them until
/// [`complete_all`](MemFile::complete_all).
pub struct MemFile {
    data: Mutex<Vec<u8>>,
    asynchronous: bool,
    queue: Mutex<VecDeque<(u64, usize, IoDone)>>,
    fail: core::sync::atomic::AtomicBool,
}

impl MemFile {
    /// A file with these contents.
    pub fn new(data: Vec<u8>, asynchronous: bool) -> Arc<Self> {
        Arc::new(MemFile {
            data: Mutex::new(data),
            asynchronous,
            queue: Mutex::new(VecDeque::new()),
            fail: core::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Makes the following completions fail with an I/O error.
    pub fn fail_reads(&self, fail: bool) {
        self.fail.store(fail, core::sync::atomic::Ordering::Relaxed);
    }

    /// Reads queued.
    pub fn pending(&self) -> usize {
        self.queue.lock().len()
    }

    /// Completes every queued read (call it on a processor: the completion
    /// calls the FCM). Returns how many.
    pub fn complete_all(&self) -> usize {
        let mut n = 0;
        loop {
            let Some((off, len, done)) = self.queue.lock().pop_front() else {
                return n;
            };
            if self.fail.load(core::sync::atomic::Ordering::Relaxed) {
                done.complete(Err(MmError::Io));
            } else {
                let bytes = self.slice(off, len);
                done.complete(Ok(&bytes));
            }
            n += 1;
        }
    }

    /// The file's current contents.
    pub fn contents(&self) -> Vec<u8> {
        self.data.lock().clone()
    }

    fn slice(&self, off: u64, len: usize) -> Vec<u8> {
        let d = self.data.lock();
        let mut out = alloc::vec![0u8; len];
        let lo = (off as usize).min(d.len());
        let hi = (off as usize + len).min(d.len());
        out[..hi - lo].copy_from_slice(&d[lo..hi]);
        out
    }
}

impl FileServer for MemFile {
    fn read(&self, offset: u64, len: usize, done: IoDone) -> ReadStart {
        if self.asynchronous {
            self.queue.lock().push_back((offset, len, done));
            ReadStart::Pending
        } else {
            ReadStart::Ready(self.slice(offset, len))
        }
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), MmError> {
        let mut d = self.data.lock();
        let end = offset as usize + data.len();
        if d.len() < end {
            d.resize(end, 0);
        }
        d[offset as usize..end].copy_from_slice(data);
        Ok(())
    }
}

/// Allocates I/O ids.
pub(crate) fn next_io() -> IoId {
    static NEXT: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);
    IoId(NEXT.fetch_add(1, core::sync::atomic::Ordering::Relaxed))
}

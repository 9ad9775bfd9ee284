//! Roots and Reps: the two halves of a clustered object.
//!
//! A clustered object is one [`Root`] (its shared part, one per instance)
//! and one or more Reps (its per-processor or per-cluster parts). The
//! runtime asks the Root for the Rep of a processor on the miss path
//! ([`Root::handle_miss`]) and caches the answer in that processor's local
//! translation table.
//!
//! [`StdRoot`] is the standard Root in its three shapes: one shared Rep, one
//! Rep per processor, one Rep per cluster of `n` processors. A Rep type
//! describes itself with [`RepType`]; a Rep reaches the Root's shared state
//! and its sibling Reps through the [`Local`] cell it lives in.

use alloc::boxed::Box;
use core::any::Any;
use core::fmt;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use crate::platform::{CpuId, MAX_CPUS};
use crate::sync::{AtomicPtr, Ordering};

/// A state-transfer format, named by a string ("counter-total-v1"). A hot
/// swap uses the first format in the new Root's import list that the old
/// Root also exports.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Format(pub &'static str);

/// State in transit between the old and the new Root of a hot swap, in the
/// negotiated [`Format`].
pub type Transfer = Box<dyn Any + Send>;

/// Why a state transfer failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferError {
    /// This side does not implement the format.
    Unsupported(Format),
    /// The payload was not of the type the format promises.
    BadPayload(Format),
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferError::Unsupported(x) => write!(f, "state format {:?} is not supported", x.0),
            TransferError::BadPayload(x) => {
                write!(f, "state payload does not match format {:?}", x.0)
            }
        }
    }
}

/// What a local translation-table entry points at: the interface view of
/// one Rep. A thin handle (one pointer wide), so that a table entry is one
/// word and is read with one load.
///
/// `Rep`s are made only by this crate's Roots, which own them.
pub struct Rep<I: ?Sized + 'static> {
    iface: NonNull<I>,
}

// SAFETY: a `Rep` is a shared reference to an `I` owned by its Root; sharing
// or sending it is sharing `&I`, which needs `I: Sync`.
unsafe impl<I: ?Sized + Sync + 'static> Send for Rep<I> {}
// SAFETY: as above.
unsafe impl<I: ?Sized + Sync + 'static> Sync for Rep<I> {}

impl<I: ?Sized + 'static> Rep<I> {
    /// The Rep, as the interface.
    #[inline(always)]
    pub fn get(&self) -> &I {
        // SAFETY: `iface` points into the `Cell` that holds this `Rep`
        // (set once, right after the cell was boxed, never moved), so it
        // lives exactly as long as `self`.
        unsafe { self.iface.as_ref() }
    }
}

/// The shared part of a clustered object: it maps processors to Reps and
/// owns them.
///
/// The runtime calls [`handle_miss`](Root::handle_miss) on the first call
/// on a processor (and after every flush of the local tables); the answer
/// must stay valid until the Root is dropped. The other methods serve hot
/// swapping: the transfer is negotiated through the export and import
/// format lists, then run in parallel, one worker per processor.
pub trait Root<I: ?Sized + 'static>: Send + Sync + 'static {
    /// The Rep serving processor `cpu`, created on first use.
    fn handle_miss(&self, cpu: CpuId) -> &Rep<I>;

    /// Calls `f` on every Rep created so far.
    fn visit(&self, f: &mut dyn FnMut(&I));

    /// Formats this Root can export its state in, best first.
    fn export_formats(&self) -> &'static [Format];

    /// Formats this Root can import state from, best first.
    fn import_formats(&self) -> &'static [Format];

    /// Exports the state this processor's worker is responsible for (run on
    /// processor `cpu` during a swap, after all calls have drained).
    fn export(&self, cpu: CpuId, format: Format) -> Option<Transfer>;

    /// Imports state exported by the old Root on processor `cpu`.
    fn import(&self, cpu: CpuId, format: Format, state: Transfer) -> Result<(), TransferError>;
}

/// A Rep type of a [`StdRoot`]: how to make one, how to view it as the
/// interface, and (optionally) how to export and import its state.
///
/// `Self` is the per-Rep data. It lives inside a [`Local`] cell, through
/// which a method reaches the Root's shared state ([`Local::shared`]) and
/// the other Reps ([`Local::reps`]); implement the interface on
/// `Local<Self>`.
pub trait RepType: Sized + Send + Sync + 'static {
    /// The clustered object's interface, e.g. `dyn Counter` (with `Sync`
    /// among the trait's supertraits: processors share a Rep).
    type Interface: ?Sized + Sync + 'static;
    /// The Root's shared state (use `()` for none).
    type Shared: Send + Sync + 'static;

    /// A new Rep for `slot` (a processor number for a per-processor Root,
    /// a cluster number for a clustered one, 0 for a shared one).
    ///
    /// The miss path takes no lock: processors that miss on the same slot
    /// at once each make a Rep, one is published and the others are
    /// dropped unused. So `new` may run more than once per slot, and must
    /// not take anything out of `shared` that the published Rep needs
    /// (state handed over to one Rep is taken at its first call instead,
    /// as `mm`'s FCMs do).
    fn new(shared: &Self::Shared, slot: usize) -> Self;

    /// Views a Rep as the interface; the body is just `local`.
    fn interface(local: &Local<Self>) -> &Self::Interface;

    /// Formats [`export`](RepType::export) implements, best first.
    const EXPORTS: &'static [Format] = &[];
    /// Formats [`import`](RepType::import) implements, best first.
    const IMPORTS: &'static [Format] = &[];

    /// This Rep's state, for a hot swap. Called once per Rep, on the first
    /// processor the Rep serves, while no call is running.
    fn export(local: &Local<Self>, format: Format) -> Option<Transfer> {
        let _ = (local, format);
        None
    }

    /// Merges state exported by one old Rep into this one. A Rep that
    /// serves several processors may receive several imports.
    fn import(local: &Local<Self>, format: Format, state: Transfer) -> Result<(), TransferError> {
        let _ = (local, state);
        Err(TransferError::Unsupported(format))
    }
}

/// How a [`StdRoot`] maps processors to Reps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One Rep shared by every processor.
    Shared,
    /// One Rep per processor.
    PerCpu,
    /// One Rep per cluster of this many consecutive processors.
    Clustered(usize),
}

impl Shape {
    #[inline]
    fn slot(self, cpu: CpuId) -> usize {
        match self {
            Shape::Shared => 0,
            Shape::PerCpu => cpu,
            Shape::Clustered(n) => cpu / n,
        }
    }

    /// The first processor a slot serves: the one that exports its state.
    fn home(self, slot: usize) -> CpuId {
        match self {
            Shape::Shared => 0,
            Shape::PerCpu => slot,
            Shape::Clustered(n) => slot * n,
        }
    }
}

/// Error for a cluster size of 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadClusterSize;

impl fmt::Display for BadClusterSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a cluster must hold at least one processor")
    }
}

/// The cell a Rep lives in: the Rep's own data (`Deref` to it), plus the
/// way to the Root's shared state and to the sibling Reps.
pub struct Local<R: RepType> {
    root: NonNull<Inner<R>>,
    slot: usize,
    value: R,
}

// SAFETY: `root` is a shared reference to the Root's `Inner` (which outlives
// every cell, see `Inner::drop`); `Inner<R>` is `Sync` when `R` and
// `R::Shared` are, and both are required to be `Send + Sync`.
unsafe impl<R: RepType> Send for Local<R> {}
// SAFETY: as above.
unsafe impl<R: RepType> Sync for Local<R> {}

impl<R: RepType> core::ops::Deref for Local<R> {
    type Target = R;
    #[inline(always)]
    fn deref(&self) -> &R {
        &self.value
    }
}

impl<R: RepType> Local<R> {
    fn inner(&self) -> &Inner<R> {
        // SAFETY: the `Inner` owns this cell and drops its cells before it
        // goes away, and it is boxed, so it does not move.
        unsafe { self.root.as_ref() }
    }

    /// The Root's shared state.
    pub fn shared(&self) -> &R::Shared {
        &self.inner().shared
    }

    /// Which slot this Rep serves (processor or cluster number).
    pub fn slot(&self) -> usize {
        self.slot
    }

    /// The Root's shape.
    pub fn shape(&self) -> Shape {
        self.inner().shape
    }

    /// All Reps of this Root created so far, this one included: what a
    /// distributed counter's `value()` sums.
    pub fn reps(&self) -> impl Iterator<Item = &Local<R>> + '_ {
        self.inner().cells().map(|c| &c.local)
    }
}

struct Cell<R: RepType> {
    /// Written once, right after the cell is boxed and before it is
    /// published (it points into the same box).
    rep: MaybeUninit<Rep<R::Interface>>,
    local: Local<R>,
}

impl<R: RepType> Cell<R> {
    fn rep(&self) -> &Rep<R::Interface> {
        // SAFETY: initialised in `get_or_create` before publication; only
        // published cells are ever referenced.
        unsafe { self.rep.assume_init_ref() }
    }
}

struct Inner<R: RepType> {
    shape: Shape,
    shared: R::Shared,
    slots: [AtomicPtr<Cell<R>>; MAX_CPUS],
}

impl<R: RepType> Inner<R> {
    fn cell(&self, slot: usize) -> Option<&Cell<R>> {
        let p = self.slots.get(slot)?.load(Ordering::Acquire);
        // SAFETY: non-null slot pointers come from `Box::into_raw` in
        // `get_or_create` and are freed only in `drop`, which has `&mut self`.
        NonNull::new(p).map(|p| unsafe { &*p.as_ptr() })
    }

    fn cells(&self) -> impl Iterator<Item = &Cell<R>> + '_ {
        (0..MAX_CPUS).filter_map(move |s| self.cell(s))
    }

    fn get_or_create(&self, slot: usize) -> &Cell<R> {
        if let Some(c) = self.cell(slot) {
            return c;
        }
        let value = R::new(&self.shared, slot);
        let cell = Box::new(Cell {
            rep: MaybeUninit::uninit(),
            local: Local {
                root: NonNull::from(self),
                slot,
                value,
            },
        });
        let raw = Box::into_raw(cell);
        // SAFETY: `raw` is the unique pointer to a live, boxed cell; the
        // interface pointer refers into the same box, which never moves.
        unsafe {
            let iface = NonNull::from(R::interface(&(*raw).local));
            (*raw).rep.write(Rep { iface });
        }
        match self.slots[slot].compare_exchange(
            core::ptr::null_mut(),
            raw,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: just published; freed only in `drop`.
            Ok(_) => unsafe { &*raw },
            Err(winner) => {
                // SAFETY: `raw` was never published; we still own it.
                drop(unsafe { Box::from_raw(raw) });
                // SAFETY: as in `cell`.
                unsafe { &*winner }
            }
        }
    }
}

impl<R: RepType> Drop for Inner<R> {
    fn drop(&mut self) {
        for slot in self.slots.iter() {
            let p = slot.load(Ordering::Acquire);
            if !p.is_null() {
                // SAFETY: published by `get_or_create`, owned by us, and no
                // reference can outlive `&mut self`.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

/// The standard Root, in one of three [`Shape`]s. Reps are created lazily,
/// on the first call from a processor they serve.
///
/// ```
/// use cobj::{Local, RepType, StdRoot};
/// use core::sync::atomic::{AtomicU64, Ordering};
///
/// pub trait Counter: Send + Sync {
///     fn inc(&self);
///     fn value(&self) -> u64;
/// }
///
/// /// One count per processor: `inc` touches only the local Rep.
/// pub struct PerCpuCount(AtomicU64);
///
/// impl RepType for PerCpuCount {
///     type Interface = dyn Counter;
///     type Shared = ();
///     fn new(_: &(), _slot: usize) -> Self {
///         PerCpuCount(AtomicU64::new(0))
///     }
///     fn interface(local: &Local<Self>) -> &Self::Interface {
///         local
///     }
/// }
///
/// impl Counter for Local<PerCpuCount> {
///     fn inc(&self) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
///     fn value(&self) -> u64 {
///         self.reps().map(|r| r.0.load(Ordering::Relaxed)).sum()
///     }
/// }
///
/// let root = StdRoot::<PerCpuCount>::per_cpu(());
/// # let _ = root;
/// ```
pub struct StdRoot<R: RepType> {
    inner: Box<Inner<R>>,
}

impl<R: RepType> StdRoot<R> {
    /// A Root of the given shape. A cluster size of 0 is an error.
    pub fn new(shape: Shape, shared: R::Shared) -> Result<Self, BadClusterSize> {
        if shape == Shape::Clustered(0) {
            return Err(BadClusterSize);
        }
        Ok(StdRoot {
            inner: Box::new(Inner {
                shape,
                shared,
                slots: core::array::from_fn(|_| AtomicPtr::new(core::ptr::null_mut())),
            }),
        })
    }

    /// One Rep shared by all processors.
    pub fn shared(shared: R::Shared) -> Self {
        Self::from_valid(Shape::Shared, shared)
    }

    /// One Rep per processor.
    pub fn per_cpu(shared: R::Shared) -> Self {
        Self::from_valid(Shape::PerCpu, shared)
    }

    /// One Rep per cluster of `size` processors; `size` 0 is an error.
    pub fn clustered(shared: R::Shared, size: usize) -> Result<Self, BadClusterSize> {
        Self::new(Shape::Clustered(size), shared)
    }

    fn from_valid(shape: Shape, shared: R::Shared) -> Self {
        StdRoot {
            inner: Box::new(Inner {
                shape,
                shared,
                slots: core::array::from_fn(|_| AtomicPtr::new(core::ptr::null_mut())),
            }),
        }
    }

    /// The Root's shape.
    pub fn shape(&self) -> Shape {
        self.inner.shape
    }

    /// The Root's shared state.
    pub fn shared_state(&self) -> &R::Shared {
        &self.inner.shared
    }

    /// The Reps created so far.
    pub fn reps(&self) -> impl Iterator<Item = &Local<R>> + '_ {
        self.inner.cells().map(|c| &c.local)
    }
}

impl<R: RepType> Root<R::Interface> for StdRoot<R> {
    fn handle_miss(&self, cpu: CpuId) -> &Rep<R::Interface> {
        self.inner.get_or_create(self.inner.shape.slot(cpu)).rep()
    }

    fn visit(&self, f: &mut dyn FnMut(&R::Interface)) {
        for c in self.inner.cells() {
            f(R::interface(&c.local));
        }
    }

    fn export_formats(&self) -> &'static [Format] {
        R::EXPORTS
    }

    fn import_formats(&self) -> &'static [Format] {
        R::IMPORTS
    }

    fn export(&self, cpu: CpuId, format: Format) -> Option<Transfer> {
        let slot = self.inner.shape.slot(cpu);
        if self.inner.shape.home(slot) != cpu {
            return None;
        }
        R::export(&self.inner.cell(slot)?.local, format)
    }

    fn import(&self, cpu: CpuId, format: Format, state: Transfer) -> Result<(), TransferError> {
        let cell = self.inner.get_or_create(self.inner.shape.slot(cpu));
        R::import(&cell.local, format, state)
    }
}

impl<I: ?Sized + 'static> fmt::Debug for dyn Root<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Root")
            .field("exports", &self.export_formats())
            .field("imports", &self.import_formats())
            .finish_non_exhaustive()
    }
}

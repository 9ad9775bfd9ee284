//! Clustered-object references: the client's handle.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::marker::PhantomData;

use crate::error::Error;
use crate::platform::Platform;
use crate::root::{Rep, Root};
use crate::runtime::{Active, Runtime};
use crate::swap::{MonitorStats, SwitchError};
use crate::sync::Ordering;

/// A reference to a clustered object with interface `I` (an object-safe
/// trait, e.g. `dyn Counter`).
///
/// [`call`](CoRef::call) runs a closure on the Rep of the calling
/// processor. The fast path is: read the processor id (one thread-local or
/// per-CPU load), count the call in the processor's current generation (a
/// load and a plain store to a line only this processor writes), load the
/// processor's local table entry, load the Rep's interface pointer, make
/// the indirect call, and on return store the generation count back. No
/// lock, no shared write, no atomic read-modify-write. K42's
/// `(*coid)->method()` is two loads and the call; the generation count is
/// what lets the quiescent hook run anywhere (even from a timer tick in the
/// middle of a call). Measured hosted: about 1 ns more than a plain `&dyn`
/// call (`docs/perf/cobj.md`).
///
/// Handles are counted: cloning one is a shared write on the object's
/// global entry, calling is not. When the last handle is dropped the object
/// is destroyed. An id is reused only after the object is destroyed,
/// quiescence has elapsed *and* the last handle is gone, so a stale handle
/// never reaches another object.
pub struct CoRef<'rt, I: ?Sized + 'static, P: Platform> {
    rt: &'rt Runtime<P>,
    id: usize,
    _iface: PhantomData<fn(&I)>,
}

impl<'rt, I: ?Sized + 'static, P: Platform> CoRef<'rt, I, P> {
    pub(crate) fn from_id(rt: &'rt Runtime<P>, id: usize) -> Self {
        CoRef {
            rt,
            id,
            _iface: PhantomData,
        }
    }

    /// The object id (its index in the translation tables).
    pub fn id(&self) -> usize {
        self.id
    }

    /// The runtime the object lives in.
    pub fn runtime(&self) -> &'rt Runtime<P> {
        self.rt
    }

    /// Calls `f` on the calling processor's Rep.
    ///
    /// Errors: [`Error::NotOnProcessor`] if the caller runs on no processor
    /// of this runtime, [`Error::Destroyed`] after `destroy`.
    #[inline]
    pub fn call<R>(&self, f: impl FnOnce(&I) -> R) -> Result<R, Error> {
        let rt = self.rt;
        let Some(cpu) = rt.platform.current_cpu() else {
            return Err(Error::NotOnProcessor);
        };
        // SAFETY: `Platform` is an unsafe trait whose contract includes
        // `current_cpu() < cpu_count()`, and `cpus` has `cpu_count()`
        // entries.
        let pc = unsafe { rt.cpus.get_unchecked(cpu) };
        let active = Active::enter(&pc.gen);
        // SAFETY: `id` came from `alloc_id`, so it is below the capacity,
        // which is the length of every local table.
        let entry = unsafe { pc.table.get_unchecked(self.id) }.load(Ordering::Acquire);
        if !entry.is_null() {
            // SAFETY: a non-null local entry of object `id` points at a
            // `Rep<I>` owned by the object's Root (entries are typed by the
            // object, and ids are reused only once no handle is left). The
            // Root is freed only after the entry is cleared and a marker
            // taken afterwards has elapsed, which the call count held in
            // `active` prevents until `f` has returned.
            let rep = unsafe { &*(entry as *const Rep<I>) };
            return Ok(f(rep.get()));
        }
        rt.miss(self.id, cpu, active, f)
    }

    /// Runs `f` on every Rep created so far (from any thread, processor or
    /// not). Fails with [`Error::Busy`] during a swap.
    pub fn visit_reps(&self, mut f: impl FnMut(&I)) -> Result<(), Error> {
        self.rt.visit(self.id, &mut f)
    }

    /// Destroys the object. Calls in progress finish; later calls fail with
    /// [`Error::Destroyed`]; the Root and Reps are dropped after quiescence.
    pub fn destroy(&self) -> Result<(), Error> {
        self.rt.destroy_id(self.id)
    }

    /// Hot-swaps the object to `new_root` (see [`crate::swap`]) and returns
    /// the old Root. Blocks until the swap is done; it must not be called
    /// from inside a clustered-object call.
    pub fn switch(&self, new_root: impl Root<I>) -> Result<Box<dyn Root<I>>, SwitchError<I>> {
        self.rt.switch(self.id, Box::new(new_root))
    }

    /// [`switch`](CoRef::switch) with a boxed Root.
    pub fn switch_boxed(
        &self,
        new_root: Box<dyn Root<I>>,
    ) -> Result<Box<dyn Root<I>>, SwitchError<I>> {
        self.rt.switch(self.id, new_root)
    }

    /// Interposes a monitor that counts and times every call, until
    /// [`unmonitor`](CoRef::unmonitor).
    pub fn monitor(&self) -> Result<Arc<MonitorStats>, Error> {
        self.rt.monitor(self.id)
    }

    /// Removes the monitor; calls return to the fast path.
    pub fn unmonitor(&self) -> Result<(), Error> {
        self.rt.unmonitor(self.id)
    }

    /// A weak reference: does not keep the object alive or its id taken.
    pub fn downgrade(&self) -> WeakRef<I> {
        WeakRef {
            runtime: self.rt.instance,
            id: self.id,
            seq: self.rt.seq(self.id),
            _iface: PhantomData,
        }
    }
}

impl<I: ?Sized + 'static, P: Platform> Clone for CoRef<'_, I, P> {
    fn clone(&self) -> Self {
        self.rt.retain(self.id);
        CoRef {
            rt: self.rt,
            id: self.id,
            _iface: PhantomData,
        }
    }
}

impl<I: ?Sized + 'static, P: Platform> Drop for CoRef<'_, I, P> {
    fn drop(&mut self) {
        self.rt.release(self.id);
    }
}

impl<I: ?Sized + 'static, P: Platform> core::fmt::Debug for CoRef<'_, I, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CoRef").field("id", &self.id).finish()
    }
}

/// A weak reference to a clustered object: plain data, no lifetime. A
/// factory keeps these for its instances.
pub struct WeakRef<I: ?Sized + 'static> {
    runtime: usize,
    id: usize,
    seq: u64,
    _iface: PhantomData<fn(&I)>,
}

impl<I: ?Sized + 'static> WeakRef<I> {
    /// A strong reference, if the object is still alive.
    pub fn upgrade<'rt, P: Platform>(
        &self,
        rt: &'rt Runtime<P>,
    ) -> Result<CoRef<'rt, I, P>, Error> {
        if self.runtime != rt.instance {
            return Err(Error::WrongRuntime);
        }
        if rt.upgrade(self.id, self.seq) {
            Ok(CoRef::from_id(rt, self.id))
        } else {
            Err(Error::Destroyed)
        }
    }

    /// The object id.
    pub fn id(&self) -> usize {
        self.id
    }
}

impl<I: ?Sized + 'static> Clone for WeakRef<I> {
    fn clone(&self) -> Self {
        WeakRef {
            runtime: self.runtime,
            id: self.id,
            seq: self.seq,
            _iface: PhantomData,
        }
    }
}

impl<I: ?Sized + 'static> core::fmt::Debug for WeakRef<I> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WeakRef")
            .field("id", &self.id)
            .field("seq", &self.seq)
            .finish()
    }
}

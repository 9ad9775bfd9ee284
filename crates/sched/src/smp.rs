//! All processors' schedulers, and load balancing between them.
//!
//! Each processor has its own [`Scheduler`] behind its own lock; nothing is
//! shared on the hot path except that lock (taken by other processors only
//! to wake one of its dispatchers or to steal from it). A directory maps
//! each [`DispatcherId`] to its processor and slot there; it changes only
//! under the lock of the processor a dispatcher leaves or joins, so a
//! reader that holds processor `p`'s lock and sees "on `p`" in the
//! directory knows it stays true while it holds the lock.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::native::SchedOp;
use crate::sched::{Config, Dispatch, HandoffMode, Info, Scheduler, Slot, Tick, Wake};
use crate::sync::{AtomicU32, AtomicU64, Mutex, MutexGuard, Ordering};
use crate::types::{CpuId, DispatcherId, Error, Params, Time};

/// Directory word: nowhere (the name is free).
const NOWHERE: u64 = 0;
const PRESENT: u64 = 1 << 63;

fn encode(cpu: CpuId, slot: Slot) -> u64 {
    PRESENT | ((cpu as u64) << 32) | u64::from(slot.index())
}

fn decode(word: u64) -> Option<(CpuId, u32)> {
    (word & PRESENT != 0).then_some((((word >> 32) & 0x7fff_ffff) as CpuId, word as u32))
}

/// One processor: its scheduler and a lock-free copy of its load for the
/// balancer. Aligned so two processors never share a cache line.
#[repr(align(128))]
struct Cpu {
    sched: Mutex<Scheduler>,
    load: AtomicU32,
}

struct Names {
    free: Vec<u32>,
    generation: Vec<u32>,
}

/// The schedulers of all processors, with a directory of dispatchers and
/// load balancing. Hosted, each processor is a thread; in the kernel the
/// caller must have interrupts disabled (the locks are spin locks also
/// taken from the timer interrupt).
///
/// Allocation: only [`new`](Self::new) allocates (every table is reserved
/// for `max_dispatchers` up front) and [`audit`](Self::audit), a debugging
/// aid; every other method is allocation-free.
pub struct Smp {
    cpus: Box<[Cpu]>,
    directory: Box<[AtomicU64]>,
    names: Mutex<Names>,
}

/// Where a woken dispatcher is, and whether that processor must reschedule
/// (an IPI when it is not the caller's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WakeOn {
    /// The dispatcher's processor.
    pub cpu: CpuId,
    /// What the wake-up did there.
    pub wake: Wake,
}

/// The result of [`Smp::perform`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing changed on this processor: return to the caller.
    Continue,
    /// Switch to this dispatcher (`None`: idle).
    Switch(Option<Dispatch>),
    /// A dispatcher was woken (maybe on another processor: IPI it if
    /// `wake.preempt`).
    Woke(WakeOn),
    /// A dispatcher was created (blocked until woken).
    Created(DispatcherId),
    /// Parameters changed on `cpu`; reschedule there if `needed`.
    Resched {
        /// Where the dispatcher is.
        cpu: CpuId,
        /// Whether that processor should reschedule.
        needed: bool,
    },
}

impl Smp {
    /// `cpus` processors, room for `max_dispatchers` dispatchers (at most
    /// 2^31 each), each processor's scheduler configured with `config`.
    pub fn new(cpus: usize, max_dispatchers: usize, config: Config) -> Result<Smp, Error> {
        if cpus == 0 || cpus > 1 << 15 || max_dispatchers > (u32::MAX >> 1) as usize {
            return Err(Error::BadConfig);
        }
        let cpus = (0..cpus)
            .map(|_| {
                Ok(Cpu {
                    sched: Mutex::new(Scheduler::with_capacity(config, max_dispatchers)?),
                    load: AtomicU32::new(0),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?
            .into_boxed_slice();
        let directory = (0..max_dispatchers)
            .map(|_| AtomicU64::new(NOWHERE))
            .collect::<Vec<_>>()
            .into_boxed_slice();
        let names = Names {
            free: (0..max_dispatchers as u32).rev().collect(),
            generation: alloc::vec![0; max_dispatchers],
        };
        Ok(Smp {
            cpus,
            directory,
            names: Mutex::new(names),
        })
    }

    /// Number of processors.
    pub fn cpu_count(&self) -> usize {
        self.cpus.len()
    }

    fn cpu(&self, cpu: CpuId) -> Result<&Cpu, Error> {
        self.cpus.get(cpu).ok_or(Error::NoSuchCpu(cpu))
    }

    fn publish(&self, cpu: CpuId, s: &Scheduler) {
        self.cpus[cpu].load.store(s.load(), Ordering::Relaxed);
    }

    /// Runs `f` on processor `cpu`'s scheduler under its lock.
    fn on_cpu<R>(&self, cpu: CpuId, f: impl FnOnce(&mut Scheduler) -> R) -> Result<R, Error> {
        let mut s = self.cpu(cpu)?.sched.lock();
        let r = f(&mut s);
        self.publish(cpu, &s);
        Ok(r)
    }

    /// Finds `id`, locks its processor, and runs `f` there. Retries if the
    /// dispatcher moved between the directory read and the lock.
    fn with<R>(
        &self,
        id: DispatcherId,
        f: impl FnOnce(&mut Scheduler, Slot, CpuId) -> R,
    ) -> Result<R, Error> {
        let cell = self
            .directory
            .get(id.index as usize)
            .ok_or(Error::NoSuchDispatcher)?;
        loop {
            let word = cell.load(Ordering::Acquire);
            let (cpu, index) = decode(word).ok_or(Error::NoSuchDispatcher)?;
            let mut s = self.cpus[cpu].sched.lock();
            if cell.load(Ordering::Acquire) != word {
                drop(s);
                crate::sync::spin_loop();
                continue;
            }
            let slot = s.find(index, id).ok_or(Error::NoSuchDispatcher)?;
            let r = f(&mut s, slot, cpu);
            self.publish(cpu, &s);
            return Ok(r);
        }
    }

    /// Creates a dispatcher on `cpu`, blocked until its first
    /// [`wake`](Self::wake).
    pub fn create(&self, cpu: CpuId, params: Params) -> Result<DispatcherId, Error> {
        let mut s = self.cpu(cpu)?.sched.lock();
        // Lock order: processor, then names (as in `exit` and `audit`).
        let id = {
            let mut n = self.names.lock();
            let index = n.free.pop().ok_or(Error::TooManyDispatchers)?;
            DispatcherId::new(index, n.generation[index as usize])
        };
        let slot = s.create(id, params);
        self.directory[id.index as usize].store(encode(cpu, slot), Ordering::Release);
        self.publish(cpu, &s);
        Ok(id)
    }

    /// Removes a dispatcher. Returns where it was and its accounting; if it
    /// was running there, that processor must [`schedule`](Self::schedule).
    pub fn exit(&self, id: DispatcherId, now: Time) -> Result<(CpuId, Info), Error> {
        self.with(id, |s, slot, cpu| {
            let info = s.exit(slot, now)?;
            self.directory[id.index as usize].store(NOWHERE, Ordering::Release);
            // Freed under the processor's lock (lock order: processor, then
            // names), so an audit never sees the name in neither place.
            let mut n = self.names.lock();
            let g = &mut n.generation[id.index as usize];
            *g = g.wrapping_add(1);
            n.free.push(id.index);
            Ok((cpu, info))
        })?
    }

    /// Wakes a dispatcher wherever it is (an async message, a soft
    /// interrupt, a timer). Idempotent.
    pub fn wake(&self, id: DispatcherId) -> Result<WakeOn, Error> {
        self.with(id, |s, slot, cpu| {
            s.wake(slot).map(|wake| WakeOn { cpu, wake })
        })?
    }

    /// Blocks a dispatcher. Returns its processor; if it was running there,
    /// that processor must [`schedule`](Self::schedule).
    pub fn block(&self, id: DispatcherId, now: Time) -> Result<CpuId, Error> {
        self.with(id, |s, slot, cpu| s.block(slot, now).map(|()| cpu))?
    }

    /// Changes a dispatcher's class, weight or pinning. Returns its
    /// processor and whether that processor should reschedule.
    pub fn set_params(
        &self,
        id: DispatcherId,
        params: Params,
        now: Time,
    ) -> Result<(CpuId, bool), Error> {
        self.with(id, |s, slot, cpu| {
            s.set_params(slot, params, now).map(|r| (cpu, r))
        })?
    }

    /// A dispatcher's processor and accounting.
    pub fn info(&self, id: DispatcherId) -> Result<(CpuId, Info), Error> {
        self.with(id, |s, slot, cpu| s.info(slot).map(|i| (cpu, i)))?
    }

    /// A dispatcher's processor (it may move as soon as this returns).
    pub fn location(&self, id: DispatcherId) -> Option<CpuId> {
        self.with(id, |_, _, cpu| cpu).ok()
    }

    /// The running dispatcher on `cpu`.
    pub fn current(&self, cpu: CpuId) -> Result<Option<DispatcherId>, Error> {
        self.on_cpu(cpu, |s| s.current().map(|(_, id)| id))
    }

    /// Runnable plus running dispatchers on `cpu` (a racy snapshot, 0 for a
    /// processor that does not exist).
    pub fn load(&self, cpu: CpuId) -> u32 {
        self.cpus
            .get(cpu)
            .map_or(0, |c| c.load.load(Ordering::Relaxed))
    }

    /// [`Scheduler::tick`] on `cpu` (its timer interrupt).
    pub fn tick(&self, cpu: CpuId, now: Time) -> Result<Tick, Error> {
        self.on_cpu(cpu, |s| s.tick(now))
    }

    /// [`Scheduler::schedule`] on `cpu`.
    pub fn schedule(&self, cpu: CpuId, now: Time) -> Result<Option<Dispatch>, Error> {
        self.on_cpu(cpu, |s| s.schedule(now))
    }

    /// [`Scheduler::yield_now`] on `cpu`.
    pub fn yield_now(&self, cpu: CpuId, now: Time) -> Result<Option<Dispatch>, Error> {
        self.on_cpu(cpu, |s| s.yield_now(now))
    }

    /// [`Scheduler::handoff`] on `cpu` to `target`, which must live on
    /// `cpu` ([`Error::WrongCpu`] otherwise: PPC is same-processor).
    pub fn handoff(
        &self,
        cpu: CpuId,
        target: DispatcherId,
        mode: HandoffMode,
        now: Time,
    ) -> Result<Dispatch, Error> {
        self.cpu(cpu)?;
        self.with(target, |s, slot, on| {
            if on != cpu {
                Err(Error::WrongCpu { on })
            } else {
                s.handoff(slot, mode, now)
            }
        })?
    }

    /// Performs a native call's scheduler operation for the dispatcher
    /// running on `cpu` (see [`NativeCall::sched_op`](crate::NativeCall::sched_op)).
    pub fn perform(&self, cpu: CpuId, op: SchedOp, now: Time) -> Result<Outcome, Error> {
        Ok(match op {
            SchedOp::Nothing => Outcome::Continue,
            SchedOp::Yield => Outcome::Switch(self.yield_now(cpu, now)?),
            SchedOp::Block => Outcome::Switch(self.on_cpu(cpu, |s| {
                let (slot, _) = s.current().ok_or(Error::NothingRunning)?;
                s.block(slot, now)?;
                Ok(s.schedule(now))
            })??),
            SchedOp::Handoff { target, mode } => {
                Outcome::Switch(Some(self.handoff(cpu, target, mode, now)?))
            }
            SchedOp::Wake { target } => Outcome::Woke(self.wake(target)?),
            SchedOp::Create { cpu, params } => Outcome::Created(self.create(cpu, params)?),
            SchedOp::Exit => {
                let me = self.current(cpu)?.ok_or(Error::NothingRunning)?;
                self.exit(me, now)?;
                Outcome::Switch(self.schedule(cpu, now)?)
            }
            SchedOp::SetParams { target, params } => {
                let (cpu, needed) = self.set_params(target, params, now)?;
                Outcome::Resched { cpu, needed }
            }
        })
    }

    /// Locks two distinct processors in index order (the only place two
    /// locks are held; this order keeps it deadlock-free).
    fn lock_pair(
        &self,
        a: CpuId,
        b: CpuId,
    ) -> (MutexGuard<'_, Scheduler>, MutexGuard<'_, Scheduler>) {
        if a < b {
            let ga = self.cpus[a].sched.lock();
            let gb = self.cpus[b].sched.lock();
            (ga, gb)
        } else {
            let gb = self.cpus[b].sched.lock();
            let ga = self.cpus[a].sched.lock();
            (ga, gb)
        }
    }

    /// Moves up to `max` runnable, unpinned dispatchers from `victim` to
    /// `thief` (highest class first); returns how many moved.
    pub fn steal(&self, thief: CpuId, victim: CpuId, max: usize) -> Result<usize, Error> {
        self.steal_while(thief, victim, max, |_, _| true)
    }

    fn steal_while(
        &self,
        thief: CpuId,
        victim: CpuId,
        max: usize,
        more: impl Fn(&Scheduler, &Scheduler) -> bool,
    ) -> Result<usize, Error> {
        self.cpu(thief)?;
        self.cpu(victim)?;
        if thief == victim {
            return Ok(0);
        }
        let (mut t, mut v) = self.lock_pair(thief, victim);
        let mut moved = 0;
        while moved < max && more(&t, &v) {
            let Some(slot) = v.steal_candidate() else {
                break;
            };
            let Ok(m) = v.take(slot) else { break };
            let new = t.adopt(m);
            self.directory[m.id.index as usize].store(encode(thief, new), Ordering::Release);
            moved += 1;
        }
        self.publish(thief, &t);
        self.publish(victim, &v);
        Ok(moved)
    }

    /// Load balancing, called by `thief` (from its idle loop, or
    /// periodically): finds the busiest processor and, if it has at least
    /// two more runnable dispatchers than `thief`, takes half the
    /// difference. Pinned and running dispatchers never move. Returns how
    /// many moved.
    pub fn balance(&self, thief: CpuId) -> Result<usize, Error> {
        self.cpu(thief)?;
        let mine = self.load(thief);
        let Some((victim, theirs)) = (0..self.cpus.len())
            .filter(|&c| c != thief)
            .map(|c| (c, self.load(c)))
            .max_by_key(|&(_, l)| l)
        else {
            return Ok(0);
        };
        if theirs < mine + 2 {
            return Ok(0);
        }
        let want = ((theirs - mine) / 2) as usize;
        // Re-checked under the locks: the snapshot may be stale.
        self.steal_while(thief, victim, want, |t, v| v.load() >= t.load() + 2)
    }

    /// Locks every processor (in order) and checks the whole structure: each
    /// scheduler's invariants, and that every dispatcher is in exactly the
    /// place the directory says. Returns the number of dispatchers. For
    /// tests and debugging.
    pub fn audit(&self) -> Result<usize, &'static str> {
        let guards: Vec<_> = self.cpus.iter().map(|c| c.sched.lock()).collect();
        let mut seen = alloc::vec![false; self.directory.len()];
        let mut count = 0;
        for (cpu, s) in guards.iter().enumerate() {
            s.audit()?;
            for (slot, id) in s.iter() {
                let i = id.index as usize;
                if i >= seen.len() || seen[i] {
                    return Err("a dispatcher is on two processors, or twice on one");
                }
                seen[i] = true;
                if decode(self.directory[i].load(Ordering::Acquire)) != Some((cpu, slot.index())) {
                    return Err("the directory disagrees with a processor's table");
                }
                count += 1;
            }
        }
        for (i, cell) in self.directory.iter().enumerate() {
            if !seen[i] && cell.load(Ordering::Acquire) != NOWHERE {
                return Err("the directory names a dispatcher no processor has");
            }
        }
        let free = self.names.lock().free.len();
        if free + count != self.directory.len() {
            return Err("a name is both free and in use, or lost");
        }
        Ok(count)
    }
}

impl core::fmt::Debug for Smp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Smp")
            .field("cpus", &self.cpus.len())
            .field("max_dispatchers", &self.directory.len())
            .finish_non_exhaustive()
    }
}

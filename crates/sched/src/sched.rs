//! One processor's scheduler of dispatchers.
//!
//! The state is a table of dispatcher records (a slab addressed by
//! [`Slot`]), one run queue per priority class (an indexed binary min-heap
//! keyed by virtual time), and the record of the dispatcher now running.
//! Nothing here locks or allocates on the hot path: the table and the heaps
//! grow only in [`Scheduler::create`] and [`Scheduler::adopt`], and not at
//! all while their reserved capacity
//! ([`Scheduler::with_capacity`]) suffices.

use alloc::vec::Vec;

use crate::types::{Class, DispatcherId, Error, Params, Time, MICROSECOND, MILLISECOND};

/// Tunables of one processor's scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The scheduling period of a class: the runnable dispatchers of a class
    /// share it in proportion to their weights, so a lone dispatcher's slice
    /// is the whole period. Also the longest slice.
    pub period: Time,
    /// The shortest slice: a dispatcher whose share of the period is smaller
    /// runs this long, and correspondingly less often (its virtual time
    /// advances further). Bounds the context-switch rate.
    pub min_slice: Time,
    /// K42's preemption warning: when nonzero, a dispatcher due for
    /// preemption first gets [`Tick::Warn`] and this long to give up the
    /// processor itself. Zero (the default): preempt at once.
    pub warning: Time,
}

impl Config {
    /// Checks the configuration: `0 < min_slice <= period <= 2^40` ns and
    /// `warning <= period`.
    pub fn validate(&self) -> Result<(), Error> {
        if self.min_slice == 0
            || self.min_slice > self.period
            || self.period > 1 << 40
            || self.warning > self.period
        {
            Err(Error::BadConfig)
        } else {
            Ok(())
        }
    }
}

impl Default for Config {
    /// A 10 ms period, a 10 µs minimum slice, no preemption warning.
    fn default() -> Self {
        Config {
            period: 10 * MILLISECOND,
            min_slice: 10 * MICROSECOND,
            warning: 0,
        }
    }
}

/// A dispatcher's handle on one processor's [`Scheduler`]: an index into
/// its table and that entry's generation (so a stale handle is refused).
/// It changes when the dispatcher migrates; [`Smp`](crate::Smp) maps the
/// stable [`DispatcherId`] to the current slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slot {
    index: u32,
    generation: u32,
}

impl Slot {
    /// The table index.
    pub fn index(self) -> u32 {
        self.index
    }
}

/// Where a dispatcher is, as far as this processor's scheduler knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for an event (a message, a soft interrupt, an IPC, its first
    /// start): not in any run queue.
    Blocked,
    /// In its class's run queue.
    Runnable,
    /// On the processor.
    Running,
}

/// What the kernel runs next: returned by [`Scheduler::schedule`],
/// [`Scheduler::yield_now`] and [`Scheduler::handoff`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dispatch {
    /// The dispatcher's handle here.
    pub slot: Slot,
    /// The dispatcher's name.
    pub id: DispatcherId,
    /// Its class (for a handoff, the class of the dispatcher whose time it
    /// runs on).
    pub class: Class,
    /// When its slice ends: the kernel arms its one-shot timer for this
    /// time and calls [`Scheduler::tick`] when it fires.
    pub slice_end: Time,
}

/// The verdict of [`Scheduler::tick`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tick {
    /// Keep running the current dispatcher.
    Continue,
    /// Preempt it: call [`Scheduler::schedule`] and switch.
    Preempt,
    /// K42's soft preemption (only with a [`Config::warning`]): raise the
    /// *preempt* soft interrupt in the running dispatcher and arm the timer
    /// for `deadline`. A dispatcher that yields, blocks or hands off before
    /// then leaves at a clean point of its own choosing; otherwise the tick
    /// at `deadline` says [`Preempt`](Tick::Preempt). The time it keeps
    /// running is charged to it as usual.
    Warn {
        /// When the warning expires.
        deadline: Time,
    },
    /// Nothing is running and nothing is runnable: stay idle.
    Idle,
}

/// The result of waking a dispatcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wake {
    /// The dispatcher was blocked and is now runnable (false: it already
    /// was runnable or running, and nothing changed).
    pub woke: bool,
    /// The processor should reschedule now: it was idle, or the woken
    /// dispatcher's class is higher than the running one's. On another
    /// processor that means an IPI.
    pub preempt: bool,
}

/// What the caller of [`Scheduler::handoff`] does meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandoffMode {
    /// The caller stays runnable (a PPC call: the calling thread waits, but
    /// the dispatcher's other threads may run when it is next picked).
    Stay,
    /// The caller blocks (a PPC return: the server has nothing more to do).
    Block,
}

/// A dispatcher on its way to another processor ([`Scheduler::take`] →
/// [`Scheduler::adopt`]). Its virtual time travels as *lag*, relative to
/// the class clock, so it is neither advantaged nor penalised by the
/// destination's different clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migrant {
    /// Its name.
    pub id: DispatcherId,
    /// Its parameters.
    pub params: Params,
    /// Whether it was runnable (else blocked).
    pub runnable: bool,
    /// CPU time charged to it so far.
    pub runtime: Time,
    lag: u64,
}

/// A dispatcher's accounting, from [`Scheduler::info`] or at exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info {
    /// Its name.
    pub id: DispatcherId,
    /// Its parameters.
    pub params: Params,
    /// Where it is.
    pub state: State,
    /// CPU time charged to it: its own running time plus the time of
    /// dispatchers it handed the processor to.
    pub runtime: Time,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Free,
    Blocked,
    Queued,
    Running,
    /// A borrower preempted mid-loan, parked under its (queued) lender: it
    /// runs again, on the lender's time, when the lender is next picked.
    Lent,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    id: DispatcherId,
    generation: u32,
    status: Status,
    params: Params,
    /// `Weight::drag` of `params.weight`, cached.
    drag: u64,
    /// While runnable or running: virtual time, compared with wrapping
    /// arithmetic (see `vt_before`). While blocked: *lag*, how far ahead
    /// of its class clock it was when it blocked (never negative: sleeping
    /// earns no credit). Keeping lag, not a stale virtual time, makes a
    /// sleep of any length safe against wrap-around.
    vtime: u64,
    /// Enqueue order, to break virtual-time ties first-come first-served.
    seq: u64,
    /// Position in its class's heap while `Queued`; next free slot while
    /// `Free`.
    pos: u32,
    /// While `Queued`: the borrower parked under it, or `NONE`. While
    /// `Lent`: its lender.
    link: u32,
    runtime: Time,
}

/// `a` is earlier than `b` in virtual time. Virtual times wrap (a weight-1
/// dispatcher advances 4096 units per nanosecond); within a class they stay
/// within 2^63 of each other, so the sign of the difference orders them.
#[inline]
fn vt_before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

#[inline]
fn vt_max(a: u64, b: u64) -> u64 {
    if vt_before(a, b) {
        b
    } else {
        a
    }
}

/// One class's run queue: a binary min-heap of slot indices ordered by
/// (virtual time, enqueue order), each entry knowing its position so any
/// entry can be removed or re-keyed in O(log n).
#[derive(Default)]
struct RunQueue {
    heap: Vec<u32>,
    /// The class's virtual clock: never decreases, never passes the
    /// smallest virtual time among its runnable and running dispatchers.
    /// Newcomers start here, so sleeping earns no credit.
    clock: u64,
    /// Sum of the weights of the class's runnable and running dispatchers.
    weight_sum: u64,
}

fn before(e: &[Entry], a: u32, b: u32) -> bool {
    let (x, y) = (&e[a as usize], &e[b as usize]);
    vt_before(x.vtime, y.vtime) || (x.vtime == y.vtime && x.seq < y.seq)
}

impl RunQueue {
    fn push(&mut self, e: &mut [Entry], s: u32) {
        let i = self.heap.len();
        self.heap.push(s);
        e[s as usize].pos = i as u32;
        self.up(e, i);
    }

    fn peek(&self) -> Option<u32> {
        self.heap.first().copied()
    }

    fn remove(&mut self, e: &mut [Entry], s: u32) {
        let i = e[s as usize].pos as usize;
        let Some(last) = self.heap.pop() else { return };
        if i < self.heap.len() {
            self.heap[i] = last;
            e[last as usize].pos = i as u32;
            self.down(e, i);
            self.up(e, i);
        }
    }

    /// Restores the order after `s`'s key changed.
    fn rekey(&mut self, e: &mut [Entry], s: u32) {
        let i = e[s as usize].pos as usize;
        self.down(e, i);
        self.up(e, i);
    }

    fn up(&mut self, e: &mut [Entry], mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if !before(e, self.heap[i], self.heap[parent]) {
                break;
            }
            self.swap(e, i, parent);
            i = parent;
        }
    }

    fn down(&mut self, e: &mut [Entry], mut i: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut m = i;
            if l < n && before(e, self.heap[l], self.heap[m]) {
                m = l;
            }
            if r < n && before(e, self.heap[r], self.heap[m]) {
                m = r;
            }
            if m == i {
                break;
            }
            self.swap(e, i, m);
            i = m;
        }
    }

    fn swap(&mut self, e: &mut [Entry], i: usize, j: usize) {
        self.heap.swap(i, j);
        e[self.heap[i] as usize].pos = i as u32;
        e[self.heap[j] as usize].pos = j as u32;
    }
}

#[derive(Clone, Copy, Debug)]
struct Current {
    slot: u32,
    /// The dispatcher whose time this is: itself, or after a handoff the
    /// dispatcher that handed the processor over (K42's "CDA borrowing":
    /// a server runs a PPC on its client's time and class).
    lender: u32,
    /// Time accounted up to.
    since: Time,
    slice_end: Time,
    /// When a preemption warning was given: its deadline.
    warned: Option<Time>,
}

/// One processor's scheduler of dispatchers. All methods take `&mut self`:
/// the kernel calls them on its own processor with interrupts disabled (or
/// through [`Smp`](crate::Smp)'s per-processor lock).
///
/// Allocation: [`create`](Self::create) and [`adopt`](Self::adopt) may grow
/// the table and the run queues; nothing else allocates, and they do not
/// either while the count stays within
/// [`with_capacity`](Self::with_capacity)'s reservation.
pub struct Scheduler {
    config: Config,
    entries: Vec<Entry>,
    free: u32,
    queues: [RunQueue; Class::COUNT],
    current: Option<Current>,
    seq: u64,
    /// Runnable plus running dispatchers.
    load: u32,
    live: u32,
}

const NONE: u32 = u32::MAX;

impl Scheduler {
    /// An empty scheduler.
    pub fn new(config: Config) -> Result<Scheduler, Error> {
        Scheduler::with_capacity(config, 0)
    }

    /// An empty scheduler with room for `capacity` dispatchers reserved,
    /// so that nothing allocates until there are more.
    pub fn with_capacity(config: Config, capacity: usize) -> Result<Scheduler, Error> {
        config.validate()?;
        let mut s = Scheduler {
            config,
            entries: Vec::new(),
            free: NONE,
            queues: Default::default(),
            current: None,
            seq: 0,
            load: 0,
            live: 0,
        };
        s.reserve(capacity);
        Ok(s)
    }

    fn reserve(&mut self, capacity: usize) {
        let extra = capacity.saturating_sub(self.entries.len());
        self.entries.reserve(extra);
        for q in &mut self.queues {
            q.heap.reserve(capacity.saturating_sub(q.heap.len()));
        }
    }

    /// The configuration.
    pub fn config(&self) -> Config {
        self.config
    }

    /// Runnable plus running dispatchers: the load balancer's measure.
    pub fn load(&self) -> u32 {
        self.load
    }

    /// Dispatchers on this processor, whatever their state.
    pub fn len(&self) -> usize {
        self.live as usize
    }

    /// No dispatchers at all.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The running dispatcher, if any.
    pub fn current(&self) -> Option<(Slot, DispatcherId)> {
        self.current
            .map(|c| (self.slot_of(c.slot), self.entries[c.slot as usize].id))
    }

    /// When the running dispatcher's slice ends.
    pub fn slice_end(&self) -> Option<Time> {
        self.current.map(|c| c.slice_end)
    }

    fn slot_of(&self, i: u32) -> Slot {
        Slot {
            index: i,
            generation: self.entries[i as usize].generation,
        }
    }

    fn check(&self, slot: Slot) -> Result<u32, Error> {
        match self.entries.get(slot.index as usize) {
            Some(e) if e.generation == slot.generation && e.status != Status::Free => {
                Ok(slot.index)
            }
            _ => Err(Error::NoSuchDispatcher),
        }
    }

    /// The handle of the dispatcher at table index `index` if it is `id`.
    pub(crate) fn find(&self, index: u32, id: DispatcherId) -> Option<Slot> {
        let e = self.entries.get(index as usize)?;
        (e.status != Status::Free && e.id == id).then(|| self.slot_of(index))
    }

    /// A dispatcher's name, parameters, state and charged time.
    pub fn info(&self, slot: Slot) -> Result<Info, Error> {
        let e = &self.entries[self.check(slot)? as usize];
        Ok(Info {
            id: e.id,
            params: e.params,
            state: match e.status {
                Status::Queued | Status::Lent => State::Runnable,
                Status::Running => State::Running,
                _ => State::Blocked,
            },
            runtime: e.runtime,
        })
    }

    /// Every dispatcher here, with its handle (for audits and tools).
    pub fn iter(&self) -> impl Iterator<Item = (Slot, DispatcherId)> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.status != Status::Free)
            .map(|(i, e)| (self.slot_of(i as u32), e.id))
    }

    // ---- creation, exit, migration -------------------------------------

    fn alloc(&mut self, entry: Entry) -> u32 {
        let i = if self.free != NONE {
            let i = self.free;
            self.free = self.entries[i as usize].pos;
            let generation = self.entries[i as usize].generation;
            self.entries[i as usize] = Entry {
                generation,
                ..entry
            };
            i
        } else {
            self.entries.push(entry);
            let n = self.entries.len();
            self.reserve(n);
            (n - 1) as u32
        };
        self.live += 1;
        i
    }

    /// Adds dispatcher `id` with `params`, **blocked**: it runs after its
    /// first [`wake`](Self::wake) (in K42, once its entry points are set).
    /// May allocate (see the type's docs).
    pub fn create(&mut self, id: DispatcherId, params: Params) -> Slot {
        let i = self.alloc(Entry {
            id,
            generation: 0,
            status: Status::Blocked,
            params,
            drag: params.weight.drag(),
            vtime: 0,
            seq: 0,
            pos: 0,
            link: NONE,
            runtime: 0,
        });
        self.slot_of(i)
    }

    /// Removes a dispatcher (exit or destruction), whatever its state. If it
    /// was running the processor is left idle: call
    /// [`schedule`](Self::schedule). Returns its final accounting.
    pub fn exit(&mut self, slot: Slot, now: Time) -> Result<Info, Error> {
        let i = self.check(slot)?;
        let info = self.info(slot)?;
        self.make_blocked(i, now);
        if let Some(c) = &mut self.current {
            if c.lender == i {
                c.lender = c.slot;
            }
        }
        let e = &mut self.entries[i as usize];
        e.status = Status::Free;
        e.generation = e.generation.wrapping_add(1);
        e.pos = self.free;
        self.free = i;
        self.live -= 1;
        Ok(Info {
            runtime: self.entries[i as usize].runtime,
            ..info
        })
    }

    /// Takes a runnable or blocked, unpinned dispatcher off this processor
    /// for [`adopt`](Self::adopt) on another. Running or pinned dispatchers
    /// stay ([`Error::Running`], [`Error::Pinned`]).
    pub fn take(&mut self, slot: Slot) -> Result<Migrant, Error> {
        let i = self.check(slot)?;
        let e = self.entries[i as usize];
        if matches!(e.status, Status::Running | Status::Lent) {
            return Err(Error::Running);
        }
        if e.params.pinned {
            return Err(Error::Pinned);
        }
        let runnable = e.status == Status::Queued;
        let lag = if runnable { self.lag(i) } else { e.vtime };
        // Leaves through the exit path, which cannot touch `current` here.
        let info = self.exit(slot, 0)?;
        Ok(Migrant {
            id: e.id,
            params: e.params,
            runnable,
            runtime: info.runtime,
            lag,
        })
    }

    /// Receives a dispatcher from another processor. May allocate.
    pub fn adopt(&mut self, m: Migrant) -> Slot {
        let i = self.alloc(Entry {
            id: m.id,
            generation: 0,
            status: Status::Blocked,
            params: m.params,
            drag: m.params.weight.drag(),
            vtime: m.lag,
            seq: 0,
            pos: 0,
            link: NONE,
            runtime: m.runtime,
        });
        if m.runnable {
            self.enqueue(i);
        }
        self.slot_of(i)
    }

    /// A dispatcher that [`take`](Self::take) would accept, for the load
    /// balancer: runnable (not running), unpinned, of the highest class that
    /// has one, and among those one near the back of its queue (a large
    /// virtual time: it would wait longest here). O(queue length) in the
    /// worst case, when most runnable dispatchers are pinned.
    pub fn steal_candidate(&self) -> Option<Slot> {
        self.queues.iter().find_map(|q| {
            q.heap
                .iter()
                .rev()
                .find(|&&s| !self.entries[s as usize].params.pinned)
                .map(|&s| self.slot_of(s))
        })
    }

    // ---- state changes ------------------------------------------------

    /// Puts a blocked dispatcher in its run queue, at no earlier virtual
    /// time than its class clock.
    fn enqueue(&mut self, i: u32) {
        let q = self.entries[i as usize].params.class.index();
        let clock = self.queues[q].clock;
        let seq = self.next_seq();
        let e = &mut self.entries[i as usize];
        e.vtime = clock.wrapping_add(e.vtime);
        e.seq = seq;
        e.status = Status::Queued;
        let w = u64::from(e.params.weight.get());
        self.queues[q].weight_sum += w;
        self.queues[q].push(&mut self.entries, i);
        self.load += 1;
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A queued lender is leaving its queue other than by being picked: its
    /// parked borrower (if any) goes to its own class's queue; the loan
    /// ends. Keeps the rule that a lender with a borrower is queued.
    fn release_borrower(&mut self, lender: u32) {
        let b = self.entries[lender as usize].link;
        if b == NONE {
            return;
        }
        self.entries[lender as usize].link = NONE;
        let q = self.entries[b as usize].params.class.index();
        let clock = self.queues[q].clock;
        let seq = self.next_seq();
        let e = &mut self.entries[b as usize];
        e.link = NONE;
        e.vtime = vt_max(e.vtime, clock);
        e.seq = seq;
        e.status = Status::Queued;
        self.queues[q].push(&mut self.entries, b);
    }

    /// How far runnable or running entry `i` is ahead of its class clock
    /// (0 if behind).
    fn lag(&self, i: u32) -> u64 {
        let e = &self.entries[i as usize];
        let lag = e
            .vtime
            .wrapping_sub(self.queues[e.params.class.index()].clock);
        if (lag as i64) < 0 {
            0
        } else {
            lag
        }
    }

    /// Queued, lent or running → blocked (no-op if blocked).
    fn make_blocked(&mut self, i: u32, now: Time) {
        let e = self.entries[i as usize];
        let q = e.params.class.index();
        match e.status {
            Status::Queued => {
                self.release_borrower(i);
                self.queues[q].remove(&mut self.entries, i);
            }
            Status::Running => {
                self.account(now);
                self.current = None;
            }
            Status::Lent => {
                self.entries[e.link as usize].link = NONE;
            }
            Status::Blocked | Status::Free => return,
        }
        self.queues[q].weight_sum -= u64::from(e.params.weight.get());
        let lag = self.lag(i);
        let e = &mut self.entries[i as usize];
        e.status = Status::Blocked;
        e.link = NONE;
        e.vtime = lag;
        self.load -= 1;
        self.advance_clock(q);
    }

    /// Makes a blocked dispatcher runnable. Idempotent: waking a runnable or
    /// running dispatcher changes nothing (an async message or soft
    /// interrupt may race with the dispatcher's own wake-up).
    pub fn wake(&mut self, slot: Slot) -> Result<Wake, Error> {
        let i = self.check(slot)?;
        if self.entries[i as usize].status != Status::Blocked {
            return Ok(Wake {
                woke: false,
                preempt: false,
            });
        }
        self.enqueue(i);
        let class = self.entries[i as usize].params.class;
        let preempt = match self.running_class() {
            None => true,
            Some(c) => class < c,
        };
        Ok(Wake {
            woke: true,
            preempt,
        })
    }

    /// Blocks a dispatcher (normally the running one, which then leaves the
    /// processor idle: call [`schedule`](Self::schedule)). Idempotent.
    pub fn block(&mut self, slot: Slot, now: Time) -> Result<(), Error> {
        let i = self.check(slot)?;
        self.make_blocked(i, now);
        Ok(())
    }

    /// Changes a dispatcher's class, weight or pinning at run time. Time
    /// already run is charged at the old weight; the dispatcher keeps its
    /// lag relative to the class clock when it changes class. Returns
    /// whether the processor should reschedule (e.g. the running dispatcher
    /// dropped below a runnable one).
    pub fn set_params(&mut self, slot: Slot, params: Params, now: Time) -> Result<bool, Error> {
        let i = self.check(slot)?;
        let old = self.entries[i as usize];
        let status = old.status;
        if status == Status::Running {
            self.account(now);
        }
        let (oq, nq) = (old.params.class.index(), params.class.index());
        if status == Status::Queued {
            self.queues[oq].remove(&mut self.entries, i);
        }
        let (ow, nw) = (
            u64::from(old.params.weight.get()),
            u64::from(params.weight.get()),
        );
        if oq != nq && status != Status::Blocked {
            let lag = self.lag(i);
            self.entries[i as usize].vtime = self.queues[nq].clock.wrapping_add(lag);
        }
        let e = &mut self.entries[i as usize];
        e.params = params;
        e.drag = params.weight.drag();
        if status != Status::Blocked {
            self.queues[oq].weight_sum -= ow;
            self.queues[nq].weight_sum += nw;
        }
        if status == Status::Queued {
            self.queues[nq].push(&mut self.entries, i);
        }
        self.advance_clock(oq);
        Ok(self.needs_resched())
    }

    // ---- accounting ---------------------------------------------------

    /// Charges the time since the last accounting to the running
    /// dispatcher's lender.
    fn account(&mut self, now: Time) {
        let Some(c) = &mut self.current else { return };
        let delta = now.saturating_sub(c.since);
        c.since = c.since.max(now);
        let l = c.lender;
        let e = &mut self.entries[l as usize];
        e.runtime += delta;
        e.vtime = e
            .vtime
            .wrapping_add(((u128::from(delta) * u128::from(e.drag)) >> 16) as u64);
        let q = e.params.class.index();
        if e.status == Status::Queued {
            self.queues[q].rekey(&mut self.entries, l);
        }
        self.advance_clock(q);
    }

    /// Moves class `q`'s clock up to the smallest virtual time among its
    /// runnable and running dispatchers (never back).
    fn advance_clock(&mut self, q: usize) {
        let mut min = self.queues[q]
            .peek()
            .map(|s| self.entries[s as usize].vtime);
        if let Some(c) = self.current {
            // The dispatcher being charged, if it is not queued (a queued
            // lender is in the heap already).
            let e = &self.entries[c.lender as usize];
            if e.status == Status::Running && e.params.class.index() == q {
                min = Some(match min {
                    Some(m) if vt_before(m, e.vtime) => m,
                    _ => e.vtime,
                });
            }
        }
        if let Some(m) = min {
            self.queues[q].clock = vt_max(self.queues[q].clock, m);
        }
    }

    /// The class the running dispatcher competes in: its lender's.
    fn running_class(&self) -> Option<Class> {
        self.current
            .map(|c| self.entries[c.lender as usize].params.class)
    }

    fn best_queued_class(&self) -> Option<Class> {
        Class::ALL
            .iter()
            .copied()
            .find(|c| !self.queues[c.index()].heap.is_empty())
    }

    /// A runnable dispatcher of a higher class than the running one's is
    /// waiting, or the processor is idle with work queued.
    pub fn needs_resched(&self) -> bool {
        match (self.best_queued_class(), self.running_class()) {
            (Some(q), Some(r)) => q < r,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The timer interrupt: charges the running dispatcher and says whether
    /// to preempt it (its slice is over, or a higher class is runnable).
    /// With a [`Config::warning`], the first such tick only warns
    /// ([`Tick::Warn`]) and preemption follows at the warning's deadline
    /// unless the dispatcher yields, blocks or hands off first.
    pub fn tick(&mut self, now: Time) -> Tick {
        match self.current {
            None if self.best_queued_class().is_some() => Tick::Preempt,
            None => Tick::Idle,
            Some(c) => {
                self.account(now);
                if now < c.slice_end && !self.needs_resched() {
                    return Tick::Continue;
                }
                if self.config.warning == 0 {
                    return Tick::Preempt;
                }
                match c.warned {
                    None => {
                        let deadline = now.saturating_add(self.config.warning);
                        if let Some(c) = &mut self.current {
                            c.warned = Some(deadline);
                        }
                        Tick::Warn { deadline }
                    }
                    Some(deadline) if now >= deadline => Tick::Preempt,
                    Some(_) => Tick::Continue,
                }
            }
        }
    }

    // ---- picking ------------------------------------------------------

    /// Puts the running dispatcher (if any) back in its queue and picks the
    /// next: the smallest virtual time in the highest non-empty class.
    /// `None`: nothing is runnable, the processor idles.
    pub fn schedule(&mut self, now: Time) -> Option<Dispatch> {
        self.park_current(now);
        let class = self.best_queued_class()?;
        let i = self.queues[class.index()].peek()?;
        Some(self.run(i, now))
    }

    /// Preemption: like `requeue_current`, but a borrower mid-loan is
    /// parked under its lender, so the call it serves continues on the
    /// lender's time when the lender is next picked.
    fn park_current(&mut self, now: Time) {
        self.account(now);
        if let Some(c) = self.current {
            let l = c.lender;
            if l != c.slot
                && self.entries[l as usize].status == Status::Queued
                && self.entries[l as usize].link == NONE
            {
                self.current = None;
                self.entries[l as usize].link = c.slot;
                let e = &mut self.entries[c.slot as usize];
                e.status = Status::Lent;
                e.link = l;
                return;
            }
        }
        self.requeue_current(now);
    }

    /// The running dispatcher goes back to its own class's queue.
    fn requeue_current(&mut self, now: Time) {
        self.account(now);
        if let Some(c) = self.current.take() {
            let q = self.entries[c.slot as usize].params.class.index();
            let seq = self.next_seq();
            let e = &mut self.entries[c.slot as usize];
            e.status = Status::Queued;
            e.seq = seq;
            self.queues[q].push(&mut self.entries, c.slot);
        }
    }

    /// Gives queued entry `i` a fresh slice: it runs, or if a borrower is
    /// parked under it, the borrower runs on its time (and `i` stays
    /// queued, as it was during the loan).
    fn run(&mut self, i: u32, now: Time) -> Dispatch {
        let q = self.entries[i as usize].params.class.index();
        let b = self.entries[i as usize].link;
        let runner = if b == NONE {
            self.queues[q].remove(&mut self.entries, i);
            self.entries[i as usize].status = Status::Running;
            i
        } else {
            self.entries[i as usize].link = NONE;
            let e = &mut self.entries[b as usize];
            e.link = NONE;
            e.status = Status::Running;
            b
        };
        let e = &self.entries[i as usize];
        let w = u64::from(e.params.weight.get());
        let total = self.queues[q].weight_sum.max(w);
        let slice =
            (self.config.period * w / total).clamp(self.config.min_slice, self.config.period);
        let slice_end = now.saturating_add(slice);
        self.current = Some(Current {
            slot: runner,
            lender: i,
            since: now,
            slice_end,
            warned: None,
        });
        self.advance_clock(q);
        Dispatch {
            slot: self.slot_of(runner),
            id: self.entries[runner as usize].id,
            class: self.entries[i as usize].params.class,
            slice_end,
        }
    }

    /// The running dispatcher gives up the rest of its slice: it is charged
    /// for the time it ran, requeued, and another dispatcher of its class
    /// runs if there is one (even one with a larger virtual time; once).
    /// A higher class would have run anyway; a lower class does not get the
    /// processor from a yield. A dispatcher running on lent time (after a
    /// handoff) that yields ends the loan and requeues in its own class.
    pub fn yield_now(&mut self, now: Time) -> Option<Dispatch> {
        let Some(c) = self.current else {
            return self.schedule(now);
        };
        self.requeue_current(now);
        let class = self.best_queued_class()?;
        let q = &mut self.queues[class.index()];
        let mut next = q.peek()?;
        if next == c.slot && q.heap.len() > 1 {
            // Skip the yielder once: the better of the root's children.
            let h = &q.heap;
            next = match (h.get(1), h.get(2)) {
                (Some(&a), Some(&b)) if before(&self.entries, b, a) => b,
                (Some(&a), _) => a,
                _ => next,
            };
        }
        Some(self.run(next, now))
    }

    /// Hands the processor straight to `target` on this processor (K42's
    /// handoff scheduling for PPC): no run-queue search, and `target` runs
    /// on the remainder of the current slice, charged to the current
    /// dispatcher's lender (the client of a call chain) and competing in the
    /// lender's class. Handing back to the lender (a PPC return) ends the
    /// loan. `target` may be blocked (a server waiting for calls) or
    /// runnable.
    pub fn handoff(
        &mut self,
        target: Slot,
        mode: HandoffMode,
        now: Time,
    ) -> Result<Dispatch, Error> {
        let t = self.check(target)?;
        let c = self.current.ok_or(Error::NothingRunning)?;
        if t == c.slot {
            return Err(Error::SelfHandoff);
        }
        self.account(now);
        // The caller leaves the processor.
        match mode {
            HandoffMode::Stay => self.requeue_current(now),
            HandoffMode::Block => self.make_blocked(c.slot, now),
        }
        // The target arrives: off its queue (or out of blocked).
        let te = self.entries[t as usize];
        let tq = te.params.class.index();
        match te.status {
            Status::Queued => {
                self.release_borrower(t);
                self.queues[tq].remove(&mut self.entries, t);
            }
            Status::Lent => {
                self.entries[te.link as usize].link = NONE;
                self.entries[t as usize].link = NONE;
            }
            _ => {
                let clock = self.queues[tq].clock;
                self.queues[tq].weight_sum += u64::from(te.params.weight.get());
                self.load += 1;
                let e = &mut self.entries[t as usize];
                e.vtime = clock.wrapping_add(e.vtime);
            }
        }
        self.entries[t as usize].status = Status::Running;
        // The lender survives unless it is the target or has exited.
        let lender = if c.lender == t || self.entries[c.lender as usize].status == Status::Free {
            t
        } else {
            c.lender
        };
        self.current = Some(Current {
            slot: t,
            lender,
            since: now,
            slice_end: c.slice_end,
            // A handoff does not shed a pending warning.
            warned: c.warned,
        });
        Ok(Dispatch {
            slot: self.slot_of(t),
            id: self.entries[t as usize].id,
            class: self.entries[lender as usize].params.class,
            slice_end: c.slice_end,
        })
    }

    /// Checks the internal invariants (heap order and positions, counts,
    /// weight sums). For tests and debugging; O(n).
    pub fn audit(&self) -> Result<(), &'static str> {
        for (qi, q) in self.queues.iter().enumerate() {
            for (p, &s) in q.heap.iter().enumerate() {
                let e = &self.entries[s as usize];
                if e.status != Status::Queued || e.params.class.index() != qi {
                    return Err("queued entry in the wrong state or class");
                }
                if e.pos as usize != p {
                    return Err("heap position out of date");
                }
                if p > 0 && before(&self.entries, s, q.heap[(p - 1) / 2]) {
                    return Err("heap out of order");
                }
            }
        }
        let mut wsum = [0u64; Class::COUNT];
        let (mut load, mut live, mut running, mut queued) = (0u32, 0u32, 0usize, 0usize);
        for (i, e) in self.entries.iter().enumerate() {
            match e.status {
                Status::Free => continue,
                Status::Blocked => {}
                Status::Queued | Status::Running | Status::Lent => {
                    wsum[e.params.class.index()] += u64::from(e.params.weight.get());
                    load += 1;
                }
            }
            live += 1;
            match e.status {
                Status::Running => running += 1,
                Status::Queued => {
                    queued += 1;
                    if e.link != NONE {
                        let b = &self.entries[e.link as usize];
                        if b.status != Status::Lent || b.link != i as u32 {
                            return Err("a lender's borrower is not lent to it");
                        }
                    }
                }
                Status::Lent => {
                    let l = &self.entries[e.link as usize];
                    if l.status != Status::Queued || l.link != i as u32 {
                        return Err("a lent dispatcher's lender is not queued with it");
                    }
                }
                _ => {}
            }
        }
        if queued != self.queues.iter().map(|q| q.heap.len()).sum::<usize>() {
            return Err("a queued entry is missing from its heap");
        }
        for (q, w) in self.queues.iter().zip(wsum) {
            if q.weight_sum != w {
                return Err("class weight sum out of date");
            }
        }
        if let Some(c) = self.current {
            if self.entries[c.slot as usize].status != Status::Running {
                return Err("current entry not running");
            }
            if self.entries[c.lender as usize].status == Status::Free {
                return Err("lender exited");
            }
        }
        if running != usize::from(self.current.is_some()) {
            return Err("running entries disagree with current");
        }
        if load != self.load || live != self.live {
            return Err("load or live count out of date");
        }
        Ok(())
    }
}

impl core::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Scheduler")
            .field("live", &self.live)
            .field("load", &self.load)
            .field("current", &self.current())
            .finish_non_exhaustive()
    }
}

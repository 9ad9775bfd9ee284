//! # Threads: Linux threads as user-level threads of the library
//!
//! K42 schedules *dispatchers* in the kernel and *threads* at user level
//! (paper §7.1, notes §6): a process has one dispatcher per processor,
//! and the thread library inside it picks which thread runs. A Linux
//! thread (`clone` with `CLONE_VM | CLONE_THREAD`, what `pthread_create`
//! makes) is therefore a thread of the system library here, not a kernel
//! object: the kernel sees one dispatcher, the library switches between
//! the program's threads whenever the running one waits.
//!
//! **What a thread is.** Its program frame (the registers of its last
//! reflected call), the per-thread parts of the Linux state (signal mask,
//! alternate stack, `set_tid_address`'s and `set_robust_list`'s
//! pointers, FS and GS bases: [`Own`]) and a *library context*: its own
//! library stack, on which it is suspended while it waits in the middle
//! of a call. The running thread's [`Own`] is in [`State`](crate::State)
//! itself, where every call finds it; a switch puts it aside and loads
//! the next thread's. The mechanism (stacks, the register switch, the
//! program's FPU registers) is the executable's, behind
//! [`Native::thread_create`](crate::Native::thread_create),
//! [`thread_switch`](crate::Native::thread_switch) and
//! [`thread_free`](crate::Native::thread_free); this module is the
//! policy and needs no `unsafe`.
//!
//! **When threads switch.** Only where a call would wait: the library's
//! waits go through [`futex_wait`], [`sleep`], [`block`] and
//! [`yield_now`] instead of the kernel's. With one thread they *are* the
//! kernel's calls (nothing changes for a single-threaded program). With
//! several, the waiting thread records why ([`Wait`]) and the next ready
//! thread runs (first come, first served). `FUTEX_WAKE` wakes this
//! process's own waiters in the library ([`futex_wake`]), then the
//! kernel's (other processes, on shared memory). When no thread is ready
//! the dispatcher sleeps in the kernel until the nearest deadline of any
//! waiter, a soft interrupt, or a kernel wake-up of one waited-for word
//! (with several words, a wait of at most [`POLL_NS`] then a look at
//! every word); then every wait is looked at again.
//!
//! **Semantics kept.** A futex wait returns 0 when woken or when its word
//! has changed (a spurious wake-up, which callers take), `ETIMEDOUT` at
//! its deadline, `EINTR` on a soft interrupt; sleeps and
//! interrupt waits as the kernel's. `exit` ends one thread (clearing and
//! waking its `clear_child_tid` word, as `pthread_join` expects), the last
//! one ends the process; `exit_group`, a fatal signal and `execve` end
//! them all. After `fork` only the calling thread lives in the child.
//!
//! **Time slices.** Once the program has a second thread the library
//! registers the kernel's *run* entry point: when the dispatcher gets the
//! processor back after a preemption, the running thread goes to the end
//! of the ready queue ([`yield_now`]), so a thread that spins without a
//! system call does not keep the others waiting.
//!
//! **Not yet.** More than one dispatcher per process (parallel threads); signals directed at one thread (`tkill`
//! of any thread of the process is a signal to the process, delivered
//! by whichever thread runs next).

use crate::abi::frame::WORDS;
use crate::signal::AltStack;
use crate::{Ctx, Errno};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

/// `ETIMEDOUT`.
pub const ETIMEDOUT: Errno = Errno(linux_raw_sys::errno::ETIMEDOUT);
/// `EINTR`.
pub const EINTR: Errno = Errno(linux_raw_sys::errno::EINTR);

/// With waiters on several futex words, the dispatcher sleeps on one at
/// most this long before it looks at the others (a wake-up of another
/// word by another process reaches no kernel sleeper).
pub const POLL_NS: u64 = 5_000_000;

/// Thread ids start here (above Linux's largest process id, so they
/// never name a process); then the process id and a counter.
pub const TID_BASE: u32 = 1 << 22;

/// What a thread keeps of its own while another runs (for the running
/// thread these are the fields of `State`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Own {
    /// The program frame of its current (or first) reflected call.
    pub frame: [u64; WORDS],
    /// Its signal mask.
    pub blocked: u64,
    /// `rt_sigsuspend`'s mask to restore.
    pub saved_mask: Option<u64>,
    /// Its alternate signal stack.
    pub altstack: AltStack,
    /// `set_tid_address` / `CLONE_CHILD_CLEARTID`.
    pub clear_child_tid: u64,
    /// `set_robust_list`.
    pub robust_list: u64,
    /// Its FS base (its thread-local storage).
    pub fs_base: u64,
    /// Its GS base.
    pub gs_base: u64,
}

/// Why a thread waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// `FUTEX_WAIT`: until a wake-up on `addr`, the word no longer
    /// `val`, `deadline` (kernel clock; 0: none) or a soft interrupt.
    Futex {
        /// The word.
        addr: u64,
        /// What it held.
        val: u32,
        /// When to give up (`ETIMEDOUT`).
        deadline: u64,
    },
    /// Until `deadline` (then `Ok`) or a soft interrupt (`EINTR`).
    Sleep {
        /// When.
        deadline: u64,
    },
    /// Until a soft interrupt (a signal, a child's end, the timer).
    Interrupt,
}

impl Wait {
    fn deadline(&self) -> u64 {
        match *self {
            Wait::Futex { deadline, .. } | Wait::Sleep { deadline } => deadline,
            Wait::Interrupt => 0,
        }
    }
}

/// How the dispatcher's sleep in the kernel ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Woke {
    /// A wake-up of this futex word (or the word had already changed).
    Word(u64),
    /// A soft interrupt.
    Interrupted,
    /// The deadline (or nothing in particular).
    Timeout,
}

/// Whether `w` is over after the dispatcher's sleep ended with `woke` at
/// time `now` (`word`: the futex word's value now, if it can be read),
/// and with what.
pub fn resolve(w: &Wait, woke: Woke, now: u64, word: Option<u32>) -> Option<Result<(), Errno>> {
    if woke == Woke::Interrupted {
        return Some(match w {
            Wait::Interrupt => Ok(()),
            _ => Err(EINTR),
        });
    }
    match *w {
        Wait::Interrupt => None,
        Wait::Sleep { deadline } => (now >= deadline).then_some(Ok(())),
        Wait::Futex {
            addr,
            val,
            deadline,
        } => {
            if woke == Woke::Word(addr) || word != Some(val) {
                Some(Ok(()))
            } else if deadline != 0 && now >= deadline {
                Some(Err(ETIMEDOUT))
            } else {
                None
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Run {
    /// Never ran: starts at its frame.
    New,
    /// Ready to go on, its wait ending with this.
    Ready(Result<(), Errno>),
    /// Waiting.
    Waiting(Wait),
}

#[derive(Clone, Debug)]
struct Thread {
    own: Own,
    run: Run,
}

/// The threads of the process (see the module docs).
#[derive(Clone, Debug)]
pub struct Threads {
    /// The running thread's id (the first thread's is the process id).
    pub current: u32,
    others: BTreeMap<u32, Thread>,
    ready: VecDeque<u32>,
    /// Ended threads whose library stacks are still to be freed (not by
    /// themselves: they ran on them).
    dead: Vec<u32>,
    /// Threads made so far (for ids).
    made: u32,
    /// What the running thread's wait ended with (set by whoever switched
    /// to it).
    resumed: Result<(), Errno>,
}

impl Threads {
    /// One thread, `pid`'s.
    pub fn new(pid: u32) -> Self {
        Threads {
            current: pid,
            others: BTreeMap::new(),
            ready: VecDeque::new(),
            dead: Vec::new(),
            made: 0,
            resumed: Ok(()),
        }
    }

    /// Whether the process has only its running thread.
    pub fn single(&self) -> bool {
        self.others.is_empty()
    }

    /// How many threads the process has.
    pub fn count(&self) -> usize {
        1 + self.others.len()
    }

    /// Whether `tid` is one of the process's threads.
    pub fn has(&self, tid: u32) -> bool {
        tid == self.current || self.others.contains_key(&tid)
    }

    /// A new thread id for process `pid`.
    fn next_id(&mut self, pid: u32) -> u32 {
        loop {
            self.made = self.made.wrapping_add(1);
            let tid = TID_BASE + ((pid & 0x1fff) << 10) + (self.made & 0x3ff);
            if !self.has(tid) {
                return tid;
            }
        }
    }

    /// After `fork`, in the child: only the calling thread lives; the
    /// ids whose library stacks the child should free.
    pub fn forked(&mut self, pid: u32) -> Vec<u32> {
        let mut gone: Vec<u32> = self.others.keys().copied().collect();
        gone.append(&mut self.dead);
        self.others.clear();
        self.ready.clear();
        // The calling thread is the child's first: its id is the pid.
        self.current = pid;
        gone
    }

    /// The ids of the waiting threads and their waits.
    fn waits(&self) -> impl Iterator<Item = (u32, Wait)> + '_ {
        self.others.iter().filter_map(|(id, t)| match t.run {
            Run::Waiting(w) => Some((*id, w)),
            _ => None,
        })
    }

    /// `id` is ready, its wait over with `r`.
    fn make_ready(&mut self, id: u32, r: Result<(), Errno>) {
        if let Some(t) = self.others.get_mut(&id) {
            t.run = Run::Ready(r);
            self.ready.push_back(id);
        }
    }
}

/// The running thread's [`Own`], taken from the state.
fn own_of(st: &crate::State) -> Own {
    Own {
        frame: st.sig.frame,
        blocked: st.blocked,
        saved_mask: st.sig.saved_mask,
        altstack: st.sig.altstack,
        clear_child_tid: st.clear_child_tid,
        robust_list: st.robust_list,
        fs_base: st.fs_base,
        gs_base: st.gs_base,
    }
}

/// Makes `own` the running thread's.
fn load(ctx: &mut Ctx<'_>, own: Own) {
    let st = &mut *ctx.st;
    st.sig.frame = own.frame;
    st.blocked = own.blocked;
    st.sig.saved_mask = own.saved_mask;
    st.sig.altstack = own.altstack;
    st.clear_child_tid = own.clear_child_tid;
    st.robust_list = own.robust_list;
    st.fs_base = own.fs_base;
    st.gs_base = own.gs_base;
    let _ = ctx.native.set_fs_base(own.fs_base);
    let _ = ctx.native.set_gs_base(own.gs_base);
}

/// `clone` of a thread: a new thread whose program frame is the caller's
/// (`ctx.st.sig.frame`, the reflected call's) returning 0 on `stack`,
/// with `tls` as its FS base (if `Some`) and `clear_child_tid`; it starts
/// when the caller next waits. Its id.
pub fn spawn(
    ctx: &mut Ctx<'_>,
    stack: u64,
    tls: Option<u64>,
    clear_child_tid: u64,
) -> Result<u32, Errno> {
    let mut own = own_of(ctx.st);
    own.frame[crate::abi::frame::RAX] = 0;
    own.frame[crate::signal::RSP] = stack;
    own.saved_mask = None;
    own.altstack = crate::signal::Signals::default().altstack;
    own.clear_child_tid = clear_child_tid;
    own.robust_list = 0;
    if let Some(t) = tls {
        own.fs_base = t;
    }
    let pid = ctx.st.pid;
    let tid = ctx.st.threads.next_id(pid);
    ctx.native.thread_create(tid)?;
    let th = &mut ctx.st.threads;
    th.others.insert(tid, Thread { own, run: Run::New });
    th.ready.push_back(tid);
    Ok(tid)
}

/// Frees the library stacks of threads that ended (never the running
/// one's).
fn reap(ctx: &mut Ctx<'_>) {
    while let Some(id) = ctx.st.threads.dead.pop() {
        ctx.native.thread_free(id);
    }
}

/// Switches to ready thread `next`; the running thread becomes `me_run`
/// (`None`: it ended). Returns (only if it did not end) with what its
/// wait ended with, when some thread switches back to it.
fn switch(ctx: &mut Ctx<'_>, next: u32, me_run: Option<Run>) -> Result<(), Errno> {
    let me = ctx.st.threads.current;
    let own = own_of(ctx.st);
    let th = &mut ctx.st.threads;
    match me_run {
        Some(run) => {
            if matches!(run, Run::Ready(_)) {
                th.ready.push_back(me);
            }
            th.others.insert(me, Thread { own, run });
        }
        None => th.dead.push(me),
    }
    let t = th.others.remove(&next).expect("a ready thread is a thread");
    th.resumed = match t.run {
        Run::Ready(r) => r,
        Run::New | Run::Waiting(_) => Ok(()),
    };
    th.current = next;
    load(ctx, t.own);
    // Suspends this thread's library context; it continues here once a
    // thread switches back to it (which has loaded its `Own` and set
    // `resumed`).
    ctx.native.thread_switch(me, next);
    reap(ctx);
    ctx.st.threads.resumed
}

/// The running thread waits for `w` (several threads: see the module
/// docs).
fn wait(ctx: &mut Ctx<'_>, w: Wait) -> Result<(), Errno> {
    loop {
        if let Some(next) = ctx.st.threads.ready.pop_front() {
            return switch(ctx, next, Some(Run::Waiting(w)));
        }
        if let Some(r) = idle(ctx, Some(w)) {
            return r;
        }
    }
}

/// Reads a futex word, if the program still has it (or it is the file
/// server's doorbell, which the library mapped for itself).
fn word(ctx: &mut Ctx<'_>, addr: u64) -> Option<u32> {
    let mut b = [0u8; 4];
    if ctx.st.doorbell == crate::pipe::Doorbell::Mapped(addr) {
        ctx.native.read(addr, &mut b);
    } else {
        ctx.read_user(addr, &mut b).ok()?;
    }
    Some(u32::from_le_bytes(b))
}

/// No thread is ready: the dispatcher sleeps in the kernel for the
/// waits of the others and `mine` (the running thread's), then every
/// wait is looked at; those over become ready. What `mine` ended with,
/// if it did.
fn idle(ctx: &mut Ctx<'_>, mine: Option<Wait>) -> Option<Result<(), Errno>> {
    let waits: Vec<(u32, Wait)> = ctx.st.threads.waits().collect();
    let all = || mine.iter().chain(waits.iter().map(|(_, w)| w));
    let deadline = all().map(Wait::deadline).filter(|d| *d != 0).min();
    let words: Vec<(u64, u32)> = all()
        .filter_map(|w| match *w {
            Wait::Futex { addr, val, .. } => Some((addr, val)),
            _ => None,
        })
        .collect();
    let now = crate::signal::now(ctx);
    let left = deadline.map(|d| d.saturating_sub(now));
    let woke = match (left, words.first()) {
        (Some(0), _) => Woke::Timeout,
        (left, Some(&(addr, val))) => {
            let many = words.iter().any(|w| w.0 != addr);
            let mut t = left.unwrap_or(0);
            if many {
                t = if t == 0 { POLL_NS } else { t.min(POLL_NS) };
            }
            match ctx.native.futex_wait(addr, val, t) {
                Ok(()) | Err(Errno::EAGAIN) => Woke::Word(addr),
                Err(EINTR) => Woke::Interrupted,
                Err(_) => Woke::Timeout,
            }
        }
        (Some(ns), None) => match ctx.native.sleep_ns(ns) {
            Err(EINTR) => Woke::Interrupted,
            _ => Woke::Timeout,
        },
        (None, None) => {
            ctx.native.block();
            Woke::Interrupted
        }
    };
    let now = crate::signal::now(ctx);
    for (id, w) in waits {
        let value = match w {
            Wait::Futex { addr, .. } => word(ctx, addr),
            _ => None,
        };
        if let Some(r) = resolve(&w, woke, now, value) {
            ctx.st.threads.make_ready(id, r);
        }
    }
    let w = mine?;
    let value = match w {
        Wait::Futex { addr, .. } => word(ctx, addr),
        _ => None,
    };
    resolve(&w, woke, now, value)
}

/// `FUTEX_WAIT` of `addr` (validated) holding `val`, `timeout_ns` (0:
/// none): `EAGAIN` if it does not, else as the kernel's `futex_wait`.
pub fn futex_wait(ctx: &mut Ctx<'_>, addr: u64, val: u32, timeout_ns: u64) -> Result<(), Errno> {
    if ctx.st.threads.single() {
        return ctx.native.futex_wait(addr, val, timeout_ns);
    }
    if word(ctx, addr) != Some(val) {
        return Err(Errno::EAGAIN);
    }
    let deadline = match timeout_ns {
        0 => 0,
        t => crate::signal::now(ctx).saturating_add(t),
    };
    wait(
        ctx,
        Wait::Futex {
            addr,
            val,
            deadline,
        },
    )
}

/// `FUTEX_WAKE`: up to `n` waiters on `addr`, this process's threads
/// first (in the order they began to wait), then the kernel's; how many.
pub fn futex_wake(ctx: &mut Ctx<'_>, addr: u64, n: u32) -> Result<u32, Errno> {
    let th = &mut ctx.st.threads;
    let mine: Vec<u32> = th
        .waits()
        .filter(|(_, w)| matches!(w, Wait::Futex { addr: a, .. } if *a == addr))
        .map(|(id, _)| id)
        .take(n as usize)
        .collect();
    let woken = mine.len() as u32;
    for id in mine {
        th.make_ready(id, Ok(()));
    }
    if woken == n {
        return Ok(woken);
    }
    match ctx.native.futex_wake(addr, n - woken) {
        Ok(k) => Ok(woken + k),
        Err(_) if woken > 0 => Ok(woken),
        Err(e) => Err(e),
    }
}

/// Sleeps `ns` (more than 0): `EINTR` if a soft interrupt came first, as
/// the kernel's `sleep_ns`.
pub fn sleep(ctx: &mut Ctx<'_>, ns: u64) -> Result<(), Errno> {
    if ctx.st.threads.single() {
        return ctx.native.sleep_ns(ns);
    }
    let deadline = crate::signal::now(ctx).saturating_add(ns.max(1));
    wait(ctx, Wait::Sleep { deadline })
}

/// Waits for a soft interrupt, as the kernel's `block`.
pub fn block(ctx: &mut Ctx<'_>) {
    if ctx.st.threads.single() {
        return ctx.native.block();
    }
    let _ = wait(ctx, Wait::Interrupt);
}

/// `sched_yield`: the next ready thread runs, this one after it.
pub fn yield_now(ctx: &mut Ctx<'_>) {
    if let Some(next) = ctx.st.threads.ready.pop_front() {
        let _ = switch(ctx, next, Some(Run::Ready(Ok(()))));
    }
}

/// `exit` of the running thread: its `clear_child_tid` word is cleared
/// and woken; another thread runs and this one never returns, unless it
/// was the last: then `false`, and the process ends.
pub fn exit(ctx: &mut Ctx<'_>) -> bool {
    if ctx.st.threads.single() {
        return false;
    }
    let tid_word = ctx.st.clear_child_tid;
    if tid_word != 0 && ctx.write_user(tid_word, &0u32.to_le_bytes()).is_ok() {
        let _ = futex_wake(ctx, tid_word, 1);
    }
    loop {
        if let Some(next) = ctx.st.threads.ready.pop_front() {
            let _ = switch(ctx, next, None);
            unreachable!("an ended thread was resumed");
        }
        idle(ctx, None);
    }
}

/// What a new thread does first, on its own library stack (the
/// executable's thread start): frees ended threads' stacks and returns
/// its program frame, to be resumed.
pub fn started(ctx: &mut Ctx<'_>) -> [u64; WORDS] {
    reap(ctx);
    ctx.st.sig.frame
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Wait = Wait::Futex {
        addr: 0x1000,
        val: 7,
        deadline: 50,
    };

    #[test]
    fn a_futex_wait_ends_on_its_word_a_change_or_its_deadline() {
        assert_eq!(resolve(&F, Woke::Word(0x1000), 10, Some(7)), Some(Ok(())));
        assert_eq!(resolve(&F, Woke::Word(0x2000), 10, Some(7)), None);
        assert_eq!(resolve(&F, Woke::Timeout, 10, Some(8)), Some(Ok(())));
        assert_eq!(resolve(&F, Woke::Timeout, 10, None), Some(Ok(())));
        assert_eq!(
            resolve(&F, Woke::Timeout, 50, Some(7)),
            Some(Err(ETIMEDOUT))
        );
        assert_eq!(
            resolve(&F, Woke::Interrupted, 10, Some(7)),
            Some(Err(EINTR))
        );
        let forever = Wait::Futex {
            addr: 0x1000,
            val: 7,
            deadline: 0,
        };
        assert_eq!(resolve(&forever, Woke::Timeout, u64::MAX, Some(7)), None);
    }

    #[test]
    fn sleeps_end_at_their_deadline_interrupt_waits_on_a_soft_interrupt() {
        let s = Wait::Sleep { deadline: 100 };
        assert_eq!(resolve(&s, Woke::Timeout, 99, None), None);
        assert_eq!(resolve(&s, Woke::Timeout, 100, None), Some(Ok(())));
        assert_eq!(resolve(&s, Woke::Interrupted, 1, None), Some(Err(EINTR)));
        assert_eq!(resolve(&Wait::Interrupt, Woke::Timeout, 1, None), None);
        assert_eq!(resolve(&Wait::Interrupt, Woke::Word(0x1000), 1, None), None);
        assert_eq!(
            resolve(&Wait::Interrupt, Woke::Interrupted, 1, None),
            Some(Ok(()))
        );
    }

    #[test]
    fn ids_name_no_process_and_no_live_thread() {
        let mut t = Threads::new(5);
        let a = t.next_id(5);
        let b = t.next_id(5);
        assert!(a >= TID_BASE && b >= TID_BASE && a != b);
        assert!(a <= i32::MAX as u32);
        assert!(t.has(5) && !t.has(a));
        t.others.insert(
            a,
            Thread {
                own: own_of(&crate::mock::t::lib().state),
                run: Run::New,
            },
        );
        t.made = 0;
        assert_ne!(t.next_id(5), a, "a live id is skipped");
        assert_eq!(t.count(), 2);
        assert_eq!(t.forked(9), [a]);
        assert!(t.single() && t.current == 9);
    }
}

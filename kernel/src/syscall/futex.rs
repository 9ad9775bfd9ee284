//! `futex_wait(addr, expected, timeout_ns)` and `futex_wake(addr, n)`:
//! a dispatcher sleeps on a 32-bit word of user memory until another
//! wakes it (the Linux personality's `futex()` and pipes build on them).
//!
//! - `futex_wait` blocks the calling dispatcher while the word at `addr`
//!   (4-byte aligned, else `-EINVAL`; readable, else `-EFAULT`) holds
//!   `expected`: `-EAGAIN` at once if it does not.
//!   It returns 0 when a `futex_wake` woke it, `-ETIMEDOUT` after
//!   `timeout_ns` nanoseconds (0: no timeout; met to within a timer tick),
//!   and `-EINTR` when a soft interrupt (a message, the dispatcher's
//!   timer, a child's end, another dispatcher's `soft_interrupt`) arrives
//!   first: the dispatcher has to see to it (K42's dispatcher owns its
//!   processor; its user-level scheduler decides what waits again).
//! - `futex_wake` wakes up to `n` dispatchers waiting on the word, oldest
//!   first, and returns how many.
//!
//! **Keys.** A word of shared memory (`map_shared`, `map_handle`) is
//! named by its physical address, so waiters and wakers in different
//! processes meet; a word of private memory by (process, address), which
//! copy-on-write cannot change. (Shared pages are not evicted while
//! mapped unless memory runs short; a waiter on an evicted page would
//! only wake by its timeout.)
//!
//! **Blocking.** The check of the word and the enqueueing happen under
//! one lock, which `futex_wake` takes too, so no wake-up is lost between
//! them. The dispatcher then blocks through `dispatch`'s wake-up token: a
//! waker marks the wait woken and signals [`SOFT_FUTEX`], a bit of the
//! kernel's own that never reaches the dispatcher page. The call's result
//! is decided when the dispatcher runs again ([`resumed`], called by the
//! run loop before it enters user mode): woken, timed out, or
//! interrupted. A dispatcher that ends while waiting leaves nothing
//! behind ([`forget`]).

use super::{Context, Errno, SyscallResult};
use crate::arch::trap::TrapFrame;
use crate::arch::uaccess::copy_from_user;
use crate::dispatch::{self, Blocked};
use crate::sync::IrqMutex;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// The soft-interrupt bit a futex wake-up uses: the kernel's own (the
/// dispatcher page never shows it; `soft_interrupt` refuses it).
pub const SOFT_FUTEX: u64 = 1 << 63;

/// What a waiter waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    /// A word of shared memory: its physical address.
    Shared(u64),
    /// A word of private memory: (process, address).
    Private(u32, u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Waiting,
    Woken,
    TimedOut,
}

struct Wait {
    key: Key,
    deadline: u64,
    state: State,
}

struct Futexes {
    /// Dispatcher (raw id) → its wait.
    waits: BTreeMap<u64, Wait>,
    /// Key → the dispatchers waiting on it, oldest first.
    queues: BTreeMap<Key, VecDeque<u64>>,
    /// (deadline, dispatcher) of the waits with a timeout.
    deadlines: BTreeSet<(u64, u64)>,
}

static FUTEXES: IrqMutex<Futexes> = IrqMutex::new(Futexes {
    waits: BTreeMap::new(),
    queues: BTreeMap::new(),
    deadlines: BTreeSet::new(),
});

/// Waits recorded (so the run loop's check costs one load when none).
static WAITS: AtomicUsize = AtomicUsize::new(0);

impl Futexes {
    /// Takes `id` off its key's queue (if it is still there).
    fn dequeue(&mut self, key: Key, id: u64) {
        if let Some(q) = self.queues.get_mut(&key) {
            q.retain(|w| *w != id);
            if q.is_empty() {
                self.queues.remove(&key);
            }
        }
    }

    /// Forgets `id`'s wait entirely; its state.
    fn remove(&mut self, id: u64) -> Option<State> {
        let w = self.waits.remove(&id)?;
        WAITS.fetch_sub(1, Ordering::Relaxed);
        self.dequeue(w.key, id);
        self.deadlines.remove(&(w.deadline, id));
        Some(w.state)
    }
}

/// The key of the word at `addr` for dispatcher `d`, and its physical
/// address (the word is faulted in: `-EFAULT` if it cannot be read).
fn key(d: &dispatch::Dispatcher, addr: u64) -> Result<(Key, u64), Errno> {
    if !addr.is_multiple_of(4) {
        return Err(Errno::Einval);
    }
    if addr >= ::mm::USER_END {
        return Err(Errno::Efault);
    }
    let space = d.process.space().ok_or(Errno::Esrch)?;
    // The translation may go between the read and the query (another
    // dispatcher unmapping, a copy-on-write break): read again.
    for _ in 0..4 {
        let mut word = [0u8; 4];
        copy_from_user(&mut word, addr)?;
        let info = space.region_at(addr).map_err(|_| Errno::Efault)?;
        if info.kind == ::mm::RegionKind::PerCpu {
            return Err(Errno::Einval);
        }
        let page = addr & !0xfff;
        if let Some(pte) = ::mm::Hat::query(&**space.hat(), page, ::mm::Scope::All) {
            let within = if pte.large {
                addr & 0x1f_ffff
            } else {
                addr & 0xfff
            };
            let phys = (pte.pfn.0 << 12) + within;
            let key = if info.shared {
                Key::Shared(phys)
            } else {
                Key::Private(d.process.pid, addr)
            };
            return Ok((key, phys));
        }
    }
    Err(Errno::Efault)
}

/// The word at `phys`, read through the direct map (no fault possible,
/// so it can be read under the lock).
fn read_phys(phys: u64) -> u32 {
    // SAFETY: `phys` is 4-byte aligned inside a frame the caller's page
    // tables mapped a moment ago; the direct map covers all of RAM, so
    // the read stays in bounds even if an unmap freed the frame since
    // (the value is then stale, as after any race with an unmap).
    let word = unsafe { &*(crate::mm::phys_to_virt(phys) as *const AtomicU32) };
    word.load(Ordering::SeqCst)
}

/// `futex_wait(addr, expected, timeout_ns)`.
pub fn sys_futex_wait(cx: &mut Context<'_>) -> SyscallResult {
    let [addr, expected, timeout, ..] = cx.args;
    let expected = u32::try_from(expected).map_err(|_| Errno::Einval)?;
    let d = dispatch::current().ok_or(Errno::Einval)?;
    let id = d.id.to_raw();
    let (key, phys) = key(&d, addr)?;
    {
        let mut f = FUTEXES.lock();
        if read_phys(phys) != expected {
            return Err(Errno::Eagain);
        }
        f.remove(id);
        let deadline = match timeout {
            0 => u64::MAX,
            t => crate::time::now_ns().saturating_add(t),
        };
        f.waits.insert(
            id,
            Wait {
                key,
                deadline,
                state: State::Waiting,
            },
        );
        WAITS.fetch_add(1, Ordering::Relaxed);
        f.queues.entry(key).or_default().push_back(id);
        if deadline != u64::MAX {
            f.deadlines.insert((deadline, id));
        }
    }
    // Killed meanwhile on another processor: its end (`forget`, after it
    // left the dispatcher table) may have come before the wait was
    // recorded.
    if dispatch::get(d.id).is_none() {
        FUTEXES.lock().remove(id);
        return Err(Errno::Esrch);
    }
    loop {
        match dispatch::user_block_or_take() {
            // The result is set when it runs again (`resumed`).
            Blocked::Blocks => return Err(Errno::Eintr),
            Blocked::NotDispatcher => {
                FUTEXES.lock().remove(id);
                return Err(Errno::Einval);
            }
            // Something came before it could block.
            Blocked::Interrupted(bits) => {
                let mut f = FUTEXES.lock();
                let state = f.waits.get(&id).map(|w| w.state);
                match state {
                    // A stale token of an earlier wait: block after all.
                    Some(State::Waiting) if bits & !SOFT_FUTEX == 0 => continue,
                    _ => {
                        f.remove(id);
                        return outcome(state);
                    }
                }
            }
        }
    }
}

fn outcome(state: Option<State>) -> SyscallResult {
    match state {
        Some(State::Woken) => Ok(0),
        Some(State::TimedOut) => Err(Errno::Etimedout),
        _ => Err(Errno::Eintr),
    }
}

/// `futex_wake(addr, n)`.
pub fn sys_futex_wake(cx: &mut Context<'_>) -> SyscallResult {
    let [addr, n, ..] = cx.args;
    let d = dispatch::current().ok_or(Errno::Einval)?;
    let (key, _) = key(&d, addr)?;
    let mut woken = Vec::new();
    {
        let mut f = FUTEXES.lock();
        let Futexes {
            waits,
            queues,
            deadlines,
        } = &mut *f;
        if let Some(q) = queues.get_mut(&key) {
            while (woken.len() as u64) < n {
                let Some(id) = q.pop_front() else { break };
                if let Some(w) = waits.get_mut(&id) {
                    w.state = State::Woken;
                    deadlines.remove(&(w.deadline, id));
                    woken.push(id);
                }
            }
            if q.is_empty() {
                queues.remove(&key);
            }
        }
    }
    signal(&woken);
    Ok(woken.len() as u64)
}

/// Wakes the dispatchers `ids` (outside the lock: waking may interrupt
/// another processor and wait for it).
fn signal(ids: &[u64]) {
    for id in ids {
        if let Some(w) = dispatch::get(sched::DispatcherId::from_raw(*id)) {
            dispatch::signal(&w, SOFT_FUTEX);
        }
    }
}

/// The run loop is about to enter dispatcher `id` with `frame`: if it
/// blocked in `futex_wait`, the call returns now, with its outcome.
pub fn resumed(id: u64, frame: &mut TrapFrame) {
    if WAITS.load(Ordering::Relaxed) == 0 {
        return;
    }
    let state = FUTEXES.lock().remove(id);
    if state.is_some() {
        frame.rax = match outcome(state) {
            Ok(v) => v,
            Err(e) => (-(e as i64)) as u64,
        };
    }
}

/// Dispatcher `id` ended: its wait, if any, goes.
pub fn forget(id: u64) {
    if WAITS.load(Ordering::Relaxed) != 0 {
        FUTEXES.lock().remove(id);
    }
}

/// Times out the waits whose deadline passed (from the run loops, once
/// a tick, with the dispatcher timers).
pub fn expire() {
    if WAITS.load(Ordering::Relaxed) == 0 {
        return;
    }
    let now = crate::time::now_ns();
    let mut due = Vec::new();
    {
        let Some(mut f) = FUTEXES.try_lock() else {
            return;
        };
        while let Some(&(t, id)) = f.deadlines.first() {
            if t > now {
                break;
            }
            f.deadlines.pop_first();
            let Some(w) = f.waits.get_mut(&id) else {
                continue;
            };
            if w.state == State::Waiting {
                w.state = State::TimedOut;
                let key = w.key;
                f.dequeue(key, id);
                due.push(id);
            }
        }
    }
    signal(&due);
}

/// Waits recorded, all processes (tests).
pub fn waiting() -> usize {
    WAITS.load(Ordering::Relaxed)
}

ktest::ktest! {
    /// A parent and its forked child pass a turn 1000 times through a
    /// word of shared memory, each sleeping in `futex_wait` until the
    /// other's `futex_wake` (on every processor: wake-ups cross them);
    /// nothing is left behind.
    fn futex_ping_pong_between_two_processes() {
        let base = crate::mm::user::usage();
        let waits = waiting();
        crate::process::capture();
        let d = crate::ppc::start(dispatch::alloc_pid(), crate::arch::percpu::current_id(), "futex-pingpong", "1000");
        dispatch::run_loop_everywhere(&|| d.status().is_some());
        let out = crate::process::take_captured();
        assert_eq!(d.status(), Some(0), "{out}");
        assert!(out.contains("rounds=1000 end=2000"), "{out}");
        drop(d);
        assert_eq!(waiting(), waits);
        assert_eq!(crate::mm::user::usage_back_to(base), base);
    }

    /// Shared words are keyed by their frame: the child reaches the page
    /// at another address (mapped from a handle the parent shared with
    /// it) and the ping-pong still meets.
    fn futex_ping_pong_through_another_mapping() {
        let base = crate::mm::user::usage();
        crate::process::capture();
        let d = crate::ppc::start(dispatch::alloc_pid(), crate::arch::percpu::current_id(), "futex-alias", "200");
        dispatch::run_loop_everywhere(&|| d.status().is_some());
        let out = crate::process::take_captured();
        assert_eq!(d.status(), Some(0), "{out}");
        assert!(out.contains("rounds=200 end=400 parent_sleeps=") && out.contains("child_status=0"), "{out}");
        drop(d);
        assert_eq!(crate::mm::user::usage_back_to(base), base);
    }

    /// A wrong expected value is EAGAIN at once; a timeout expires; the
    /// dispatcher's timer (a soft interrupt) ends a wait with EINTR; bad
    /// addresses are refused.
    fn futex_errors_timeouts_and_interrupts() {
        crate::process::capture();
        let d = crate::ppc::start(dispatch::alloc_pid(), crate::arch::percpu::current_id(), "futex-errors", "");
        dispatch::run_loop(&|| d.status().is_some());
        let out = crate::process::take_captured();
        assert_eq!(d.status(), Some(0), "{out}");
    }

    /// The Linux side (`tests/linux-hello/futex.c` with the system
    /// library's `futex` and `mmap(MAP_SHARED)`): EAGAIN, a timeout, and
    /// 1000 ping-pongs between a parent and its forked child; a private
    /// page stays private. Skipped without `musl-gcc`.
    fn futex_linux_program() {
        let path = "/bin/linux-futex";
        let archive = crate::process::initramfs().expect("an initramfs");
        if cpio::find(archive, path).ok().flatten().is_none() {
            crate::println!("    ({path} is not in the initramfs: built without musl-gcc; skipped)");
            return;
        }
        let base = crate::mm::user::usage();
        crate::process::capture();
        let status = crate::process::spawn_linux_and_wait(path, &[b"linux-futex"]);
        let out = crate::process::take_captured();
        let status = status.unwrap_or_else(|e| panic!("{path}: {e}\n{out}"));
        assert_eq!(status, 0, "{out}");
        assert_eq!(
            out,
            "futex: eagain=1 timedout=1 waited_20ms=1\nfutex: ping-pong ok=1 end=2000 child=0 private=0\n"
        );
        assert_eq!(crate::mm::user::usage_back_to(base), base);
    }

    /// Killing a dispatcher that waits in `futex_wait` leaves no wait,
    /// frame or page table behind.
    fn futex_killed_waiter_leaves_nothing() {
        let base = crate::mm::user::usage();
        let waits = waiting();
        let d = crate::ppc::start(dispatch::alloc_pid(), crate::arch::percpu::current_id(), "futex-block", "");
        crate::ppc::run_until_blocked(&d);
        assert_eq!(d.status(), None);
        assert_eq!(waiting(), waits + 1, "it waits");
        dispatch::kill_process(&d.process, 0);
        assert_eq!(waiting(), waits, "its wait went with it");
        drop(d);
        assert_eq!(crate::mm::user::usage_back_to(base), base);
    }
}

ktest::kbench! {
    /// A futex ping-pong round trip between two processes over a shared
    /// page, in cycles (the K42 side of the issue's "pipe and futex round
    /// trips" comparison; the program prints the `kbench:` line).
    fn futex_ping_pong_round_trip() {
        let d = crate::ppc::start(dispatch::alloc_pid(), crate::arch::percpu::current_id(), "futex-bench", "2000");
        dispatch::run_loop(&|| d.status().is_some());
        assert_eq!(d.status(), Some(0));
    }
}

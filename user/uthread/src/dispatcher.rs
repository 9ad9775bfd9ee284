//! The dispatcher: one per (process, processor); the run queue, the thread
//! table, blocking tokens and the timer heap.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BinaryHeap, VecDeque};
use alloc::rc::Rc;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::cmp::Reverse;

use crate::context::{Context, Entry};
use crate::remote::{Remote, SoftInterrupts, SOFT_FAULT, SOFT_TIMER, SOFT_WAKEUP};
use crate::{Error, Platform, Stack, ThreadId, Token, DEFAULT_STACK_BYTES};

/// Why a thread is not runnable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockReason {
    /// Waiting for the reply of a protected procedure call.
    Ppc,
    /// Waiting for the kernel to resolve a page fault.
    PageFault,
    /// Waiting for a [`Mutex`](crate::Mutex).
    Mutex,
    /// Waiting on a [`Condvar`](crate::Condvar).
    Condvar,
    /// Sleeping until a deadline.
    Timer,
    /// Waiting for another thread to exit.
    Join,
}

/// A thread's scheduling state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    /// On the run queue.
    Ready,
    /// The current thread.
    Running,
    /// Parked.
    Blocked(BlockReason),
    /// Finished; about to be reaped.
    Exited,
}

type StartFn<P> = Box<dyn FnOnce(&Dispatcher<P>)>;

struct Thread<P: Platform> {
    ctx: Rc<Context<Dispatcher<P>>>,
    start: Option<StartFn<P>>,
    state: ThreadState,
    joiners: Vec<ThreadId>,
}

enum TokenState {
    Issued,
    Waiting(ThreadId),
    Completed,
}

/// A kernel I/O a faulting thread waits for.
enum IoState {
    Waiting(ThreadId),
    /// Completed with this result; the thread has not looked yet.
    Done(i64),
}

/// Counters, for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Threads created.
    pub spawned: u64,
    /// Switches from the scheduler into a thread.
    pub dispatches: u64,
    /// Timer soft interrupts handled.
    pub timer_interrupts: u64,
    /// Tokens taken from the remote queue.
    pub remote_wakeups: u64,
    /// Page-fault completions that readied a thread.
    pub fault_completions: u64,
}

struct State<P: Platform> {
    next_thread: u64,
    threads: BTreeMap<ThreadId, Thread<P>>,
    ready: VecDeque<ThreadId>,
    current: Option<ThreadId>,
    next_token: u64,
    tokens: BTreeMap<Token, TokenState>,
    /// Kernel I/O ids (page faults) threads wait for.
    ios: BTreeMap<u64, IoState>,
    /// (deadline, sequence, thread): a min-heap; the sequence keeps equal
    /// deadlines in arrival order.
    timers: BinaryHeap<Reverse<(u64, u64, ThreadId)>>,
    timer_seq: u64,
    /// The deadline now registered with the kernel (at most one).
    registered: Option<u64>,
    stats: Stats,
}

/// A K42 dispatcher's user-level half: it schedules its own threads.
///
/// Created with [`Dispatcher::new`], which returns an `Rc` so the dispatcher
/// never moves while threads hold references to it. All methods that block
/// must be called from one of its threads; they return
/// [`Error::NotInThread`] otherwise.
pub struct Dispatcher<P: Platform> {
    platform: P,
    soft: Arc<SoftInterrupts>,
    stack_bytes: usize,
    sched: Context<Dispatcher<P>>,
    state: RefCell<State<P>>,
    /// Stacks of exited threads, reused before asking the platform (K42
    /// kept a per-dispatcher free list of thread objects and stacks too).
    stack_cache: RefCell<Vec<Stack>>,
}

/// Exited threads' stacks kept for reuse, at most.
const STACK_CACHE: usize = 64;

impl<P: Platform> Entry for Dispatcher<P> {
    fn thread_main(&self) -> ! {
        let start = {
            let mut s = self.state.borrow_mut();
            let id = s.current;
            id.and_then(|id| s.threads.get_mut(&id))
                .and_then(|t| t.start.take())
        };
        if let Some(f) = start {
            f(self);
        }
        self.exit_current()
    }
}

impl<P: Platform> Dispatcher<P> {
    /// A dispatcher with no threads, using [`DEFAULT_STACK_BYTES`] stacks.
    pub fn new(platform: P) -> Rc<Self> {
        Self::with_stack_size(platform, DEFAULT_STACK_BYTES)
    }

    /// A dispatcher whose threads get `stack_bytes` of stack each.
    pub fn with_stack_size(platform: P, stack_bytes: usize) -> Rc<Self> {
        Rc::new(Self {
            platform,
            soft: Arc::new(SoftInterrupts::new()),
            stack_bytes,
            sched: Context::current(),
            stack_cache: RefCell::new(Vec::new()),
            state: RefCell::new(State {
                next_thread: 1,
                threads: BTreeMap::new(),
                ready: VecDeque::new(),
                current: None,
                next_token: 1,
                tokens: BTreeMap::new(),
                ios: BTreeMap::new(),
                timers: BinaryHeap::new(),
                timer_seq: 0,
                registered: None,
                stats: Stats::default(),
            }),
        })
    }

    /// The platform this dispatcher runs on.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// The soft-interrupt bits and remote queue (the platform raises
    /// [`SOFT_TIMER`](crate::SOFT_TIMER) here).
    pub fn soft_interrupts(&self) -> &SoftInterrupts {
        &self.soft
    }

    /// A handle for waking this dispatcher's threads from other dispatchers.
    pub fn remote(&self) -> Remote {
        Remote {
            soft: self.soft.clone(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.state.borrow().stats
    }

    /// Gives the cached stacks of exited threads back to
    /// [`Platform::free_stack`]; returns how many.
    pub fn trim_stack_cache(&self) -> usize {
        let stacks = core::mem::take(&mut *self.stack_cache.borrow_mut());
        let n = stacks.len();
        for stack in stacks {
            self.platform.free_stack(stack);
        }
        n
    }

    /// Threads that have not exited.
    pub fn live_threads(&self) -> usize {
        self.state.borrow().threads.len()
    }

    /// The state of thread `id`, or `None` once it has exited.
    pub fn thread_state(&self, id: ThreadId) -> Option<ThreadState> {
        self.state.borrow().threads.get(&id).map(|t| t.state)
    }

    /// The running thread: `Err(NotInThread)` outside this dispatcher's
    /// threads, including from a thread of another dispatcher nested inside
    /// one of ours (its stack is checked).
    pub fn current(&self) -> Result<ThreadId, Error> {
        self.current_context().map(|(id, _)| id)
    }

    /// The running thread and its context, after checking that the caller
    /// really runs on that thread's stack.
    fn current_context(&self) -> Result<(ThreadId, Rc<Context<Self>>), Error> {
        let s = self.state.borrow();
        let id = s.current.ok_or(Error::NotInThread)?;
        let ctx = s.threads.get(&id).ok_or(Error::Corrupt)?.ctx.clone();
        drop(s);
        if ctx.is_running_here() {
            Ok((id, ctx))
        } else {
            Err(Error::NotInThread)
        }
    }

    /// Creates a thread that runs `f` and puts it at the end of the run queue.
    pub fn spawn(&self, f: impl FnOnce(&Dispatcher<P>) + 'static) -> Result<ThreadId, Error> {
        let cached = self.stack_cache.borrow_mut().pop();
        let stack = match cached {
            Some(stack) => stack,
            None => self
                .platform
                .alloc_stack(self.stack_bytes)
                .ok_or(Error::OutOfStacks)?,
        };
        let ctx = Rc::new(Context::new_thread(stack));
        let mut s = self.state.borrow_mut();
        let id = ThreadId(s.next_thread);
        s.next_thread += 1;
        s.threads.insert(
            id,
            Thread {
                ctx,
                start: Some(Box::new(f)),
                state: ThreadState::Ready,
                joiners: Vec::new(),
            },
        );
        s.ready.push_back(id);
        s.stats.spawned += 1;
        Ok(id)
    }

    /// Runs threads until none is left. Soft interrupts are handled between
    /// threads; with nothing runnable the dispatcher calls
    /// [`Platform::idle`] (K42: yields the processor back to the kernel).
    pub fn run(&self) -> Result<(), Error> {
        if self.state.borrow().current.is_some() {
            return Err(Error::Reentrant);
        }
        loop {
            self.handle_soft_interrupts();
            let next = {
                let mut s = self.state.borrow_mut();
                match s.ready.pop_front() {
                    Some(id) => {
                        s.current = Some(id);
                        s.stats.dispatches += 1;
                        let t = s.threads.get_mut(&id).ok_or(Error::Corrupt)?;
                        t.state = ThreadState::Running;
                        Some((id, t.ctx.clone()))
                    }
                    None if s.threads.is_empty() => return Ok(()),
                    None => None,
                }
            };
            match next {
                Some((id, ctx)) => {
                    Context::switch(&self.sched, &ctx, self);
                    drop(ctx);
                    self.reap(id);
                }
                None => {
                    if !self.soft.is_pending() {
                        self.platform.idle(&self.soft);
                    }
                }
            }
        }
    }

    /// Back in the scheduler after running `id`: frees it if it exited.
    fn reap(&self, id: ThreadId) {
        let dead = {
            let mut s = self.state.borrow_mut();
            s.current = None;
            match s.threads.get(&id) {
                Some(t) if t.state == ThreadState::Exited => s.threads.remove(&id),
                _ => None,
            }
        };
        if let Some(t) = dead {
            if let Ok(ctx) = Rc::try_unwrap(t.ctx) {
                if let Some(stack) = ctx.into_stack() {
                    let mut cache = self.stack_cache.borrow_mut();
                    if cache.len() < STACK_CACHE {
                        cache.push(stack);
                    } else {
                        drop(cache);
                        self.platform.free_stack(stack);
                    }
                }
            }
        }
    }

    fn handle_soft_interrupts(&self) {
        let bits = self.soft.take();
        if bits & SOFT_WAKEUP != 0 {
            self.soft.drain(|token| {
                self.state.borrow_mut().stats.remote_wakeups += 1;
                // A bad token from another dispatcher is dropped: there is
                // no one here to report it to.
                let _ = self.complete(token);
            });
        }
        if bits & SOFT_FAULT != 0 {
            self.platform.fault_completions(&mut |io, result| {
                // An id no thread here waits for (a fault the kernel
                // recorded for a system call of ours) is dropped.
                let _ = self.complete_io(io, result);
            });
        }
        if bits & SOFT_TIMER != 0 {
            let now = self.platform.now();
            let mut s = self.state.borrow_mut();
            s.stats.timer_interrupts += 1;
            // The kernel timer is one-shot: it is gone once delivered.
            s.registered = None;
            while let Some(Reverse((deadline, _, id))) = s.timers.peek().copied() {
                if deadline > now {
                    break;
                }
                s.timers.pop();
                Self::make_ready_locked(&mut s, id);
            }
            drop(s);
            self.reprogram_timer();
        }
    }

    /// Registers the nearest deadline with the kernel if it changed.
    fn reprogram_timer(&self) {
        let call = {
            let mut s = self.state.borrow_mut();
            let nearest = s.timers.peek().map(|Reverse((d, _, _))| *d);
            if nearest == s.registered || nearest.is_none() {
                None
            } else {
                s.registered = nearest;
                Some(nearest)
            }
        };
        if let Some(deadline) = call {
            self.platform.set_timer(deadline);
        }
    }

    fn make_ready_locked(s: &mut State<P>, id: ThreadId) {
        if let Some(t) = s.threads.get_mut(&id) {
            if matches!(t.state, ThreadState::Blocked(_)) {
                t.state = ThreadState::Ready;
                s.ready.push_back(id);
            }
        }
    }

    /// Makes a blocked thread runnable (end of the run queue).
    pub(crate) fn make_ready(&self, id: ThreadId) {
        Self::make_ready_locked(&mut self.state.borrow_mut(), id);
    }

    /// Parks the current thread (the caller has recorded who will wake it)
    /// and runs others until it is made ready again.
    pub(crate) fn park(&self, reason: BlockReason) -> Result<(), Error> {
        let (id, ctx) = self.current_context()?;
        {
            let mut s = self.state.borrow_mut();
            let t = s.threads.get_mut(&id).ok_or(Error::Corrupt)?;
            t.state = ThreadState::Blocked(reason);
        }
        Context::switch(&ctx, &self.sched, self);
        Ok(())
    }

    /// Lets the other ready threads run, then continues.
    pub fn yield_now(&self) -> Result<(), Error> {
        let (id, ctx) = self.current_context()?;
        {
            let mut s = self.state.borrow_mut();
            let t = s.threads.get_mut(&id).ok_or(Error::Corrupt)?;
            t.state = ThreadState::Ready;
            s.ready.push_back(id);
        }
        Context::switch(&ctx, &self.sched, self);
        Ok(())
    }

    /// Ends the current thread (returning from its function does the same).
    /// Outside a thread this returns [`Error::NotInThread`].
    pub fn exit(&self) -> Result<core::convert::Infallible, Error> {
        self.current()?;
        self.exit_current()
    }

    fn exit_current(&self) -> ! {
        let ctx = {
            let mut s = self.state.borrow_mut();
            let id = s.current.expect("exit_current runs on a thread");
            let t = s
                .threads
                .get_mut(&id)
                .expect("current thread is in the table");
            t.state = ThreadState::Exited;
            let joiners = core::mem::take(&mut t.joiners);
            let ctx = t.ctx.clone();
            for j in joiners {
                Self::make_ready_locked(&mut s, j);
            }
            ctx
        };
        // The scheduler reaps this thread (and frees its stack) after the
        // switch; the table keeps the context alive until then.
        Context::exit_to(ctx, &self.sched, self)
    }

    /// Waits until thread `id` has exited.
    pub fn join(&self, id: ThreadId) -> Result<(), Error> {
        let me = self.current()?;
        if me == id {
            return Err(Error::JoinSelf);
        }
        {
            let mut s = self.state.borrow_mut();
            if id.0 >= s.next_thread || id.0 == 0 {
                return Err(Error::UnknownThread);
            }
            match s.threads.get_mut(&id) {
                Some(t) if t.state != ThreadState::Exited => t.joiners.push(me),
                _ => return Ok(()),
            }
        }
        self.park(BlockReason::Join)
    }

    /// A fresh token for a later [`block_on_ppc`](Self::block_on_ppc) or
    /// [`block_on_fault`](Self::block_on_fault).
    pub fn new_token(&self) -> Token {
        let mut s = self.state.borrow_mut();
        let t = Token(s.next_token);
        s.next_token += 1;
        s.tokens.insert(t, TokenState::Issued);
        t
    }

    /// Parks the current thread until `token` is completed (the reply of a
    /// PPC arrives). The dispatcher's other threads keep running.
    pub fn block_on_ppc(&self, token: Token) -> Result<(), Error> {
        self.block_on(token, BlockReason::Ppc)
    }

    /// A PPC whose reply may come later (a *released* call, the kernel's
    /// IPC-return entry, `kernel::ppc`): `call(token)` makes the call,
    /// naming it with `token`, and returns `Some(result)` when the reply
    /// came at once, or `None` when the call was released. The thread then
    /// parks until the IPC-return upcall completes the token
    /// ([`complete`](Self::complete), or [`Remote::complete`] from the
    /// upcall handler), and the result is `take(token)` (the kernel's
    /// `ipc_take`). The dispatcher's other threads run meanwhile.
    pub fn ppc_call<R>(
        &self,
        call: impl FnOnce(Token) -> Option<R>,
        take: impl FnOnce(Token) -> R,
    ) -> Result<R, Error> {
        self.current()?;
        let token = self.new_token();
        match call(token) {
            Some(result) => {
                self.state.borrow_mut().tokens.remove(&token);
                Ok(result)
            }
            None => {
                self.block_on_ppc(token)?;
                Ok(take(token))
            }
        }
    }

    /// Parks the current thread until `token` is completed (the kernel's
    /// page-fault completion upcall). Other threads keep running.
    pub fn block_on_fault(&self, token: Token) -> Result<(), Error> {
        self.block_on(token, BlockReason::PageFault)
    }

    fn block_on(&self, token: Token, reason: BlockReason) -> Result<(), Error> {
        let me = self.current()?;
        {
            let mut s = self.state.borrow_mut();
            match s.tokens.get(&token) {
                None => return Err(Error::UnknownToken),
                Some(TokenState::Waiting(_)) => return Err(Error::TokenInUse),
                Some(TokenState::Completed) => {
                    s.tokens.remove(&token);
                    return Ok(());
                }
                Some(TokenState::Issued) => {
                    s.tokens.insert(token, TokenState::Waiting(me));
                }
            }
        }
        self.park(reason)
    }

    /// The upcall: completes `token`, waking the thread blocked on it (or
    /// letting its later `block_on_*` return at once).
    pub fn complete(&self, token: Token) -> Result<(), Error> {
        let mut s = self.state.borrow_mut();
        match s.tokens.remove(&token) {
            None => Err(Error::UnknownToken),
            Some(TokenState::Completed) => {
                s.tokens.insert(token, TokenState::Completed);
                Err(Error::AlreadyCompleted)
            }
            Some(TokenState::Issued) => {
                s.tokens.insert(token, TokenState::Completed);
                Ok(())
            }
            Some(TokenState::Waiting(id)) => {
                Self::make_ready_locked(&mut s, id);
                Ok(())
            }
        }
    }

    /// The page-fault upcall: parks the current thread until the kernel's
    /// I/O `io` completes ([`complete_io`](Self::complete_io), called by
    /// the scheduler for each completion the platform reports after
    /// [`SOFT_FAULT`]); returns the I/O's result (0: the page is in, retry
    /// the access). Other threads keep running.
    pub fn block_on_io(&self, io: u64) -> Result<i64, Error> {
        let me = self.current()?;
        {
            let mut s = self.state.borrow_mut();
            match s.ios.get(&io) {
                Some(IoState::Waiting(_)) => return Err(Error::TokenInUse),
                Some(IoState::Done(r)) => {
                    let r = *r;
                    s.ios.remove(&io);
                    return Ok(r);
                }
                None => {
                    s.ios.insert(io, IoState::Waiting(me));
                }
            }
        }
        self.park(BlockReason::PageFault)?;
        match self.state.borrow_mut().ios.remove(&io) {
            Some(IoState::Done(r)) => Ok(r),
            _ => Err(Error::Corrupt),
        }
    }

    /// Kernel I/O `io` completed with `result`: the thread parked on it
    /// runs again. [`Error::UnknownToken`] if no thread waits for it.
    pub fn complete_io(&self, io: u64, result: i64) -> Result<(), Error> {
        let mut s = self.state.borrow_mut();
        match s.ios.get(&io) {
            Some(IoState::Waiting(id)) => {
                let id = *id;
                s.ios.insert(io, IoState::Done(result));
                s.stats.fault_completions += 1;
                Self::make_ready_locked(&mut s, id);
                Ok(())
            }
            Some(IoState::Done(_)) => Err(Error::AlreadyCompleted),
            None => Err(Error::UnknownToken),
        }
    }

    /// Parks the current thread until the platform clock reaches `deadline`.
    /// Only the nearest deadline of all sleepers is registered with the
    /// kernel ([`Platform::set_timer`]).
    pub fn sleep_until(&self, deadline: u64) -> Result<(), Error> {
        let me = self.current()?;
        if deadline <= self.platform.now() {
            return self.yield_now();
        }
        {
            let mut s = self.state.borrow_mut();
            let seq = s.timer_seq;
            s.timer_seq += 1;
            s.timers.push(Reverse((deadline, seq, me)));
        }
        self.reprogram_timer();
        self.park(BlockReason::Timer)
    }

    /// Sleeps for `ticks` of the platform clock.
    pub fn sleep(&self, ticks: u64) -> Result<(), Error> {
        let deadline = self.platform.now().saturating_add(ticks);
        self.sleep_until(deadline)
    }
}

impl<P: Platform> Drop for Dispatcher<P> {
    /// Cached stacks go back to the platform. Threads still parked are
    /// never resumed: their stacks go back too, without unwinding them.
    fn drop(&mut self) {
        self.trim_stack_cache();
        let threads = core::mem::take(&mut self.state.get_mut().threads);
        for (_, t) in threads {
            if let Ok(ctx) = Rc::try_unwrap(t.ctx) {
                if let Some(stack) = ctx.into_stack() {
                    self.platform.free_stack(stack);
                }
            }
        }
    }
}

//! Hosted tests of the thread library.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use uthread::{
    hosted::StdPlatform, BlockReason, Condvar, Dispatcher, Error, Mutex, Platform, SoftInterrupts,
    Stack, ThreadState, SOFT_TIMER,
};

/// A fake kernel: a manual clock, a log of timer registrations, and an idle
/// that jumps the clock to the registered deadline and delivers the timer.
#[derive(Default)]
struct FakeKernel {
    now: Cell<u64>,
    timer: Cell<Option<u64>>,
    set_calls: RefCell<Vec<Option<u64>>>,
    idles: Cell<u32>,
    stacks_out: Cell<i64>,
    stack_limit: Cell<Option<i64>>,
}

impl Platform for FakeKernel {
    fn now(&self) -> u64 {
        self.now.get()
    }
    fn set_timer(&self, deadline: Option<u64>) {
        self.set_calls.borrow_mut().push(deadline);
        self.timer.set(deadline);
    }
    fn idle(&self, soft: &SoftInterrupts) {
        self.idles.set(self.idles.get() + 1);
        let deadline = self.timer.take().expect("idle with no timer: deadlock");
        self.now.set(self.now.get().max(deadline));
        soft.raise(SOFT_TIMER);
    }
    fn alloc_stack(&self, bytes: usize) -> Option<Stack> {
        if let Some(limit) = self.stack_limit.get() {
            if self.stacks_out.get() >= limit {
                return None;
            }
        }
        self.stacks_out.set(self.stacks_out.get() + 1);
        Some(Stack::with_size(bytes))
    }
    fn free_stack(&self, _stack: Stack) {
        self.stacks_out.set(self.stacks_out.get() - 1);
    }
}

fn fake() -> (Rc<FakeKernel>, Rc<Dispatcher<Rc<FakeKernel>>>) {
    let k = Rc::new(FakeKernel::default());
    let d = Dispatcher::with_stack_size(k.clone(), 32 * 1024);
    (k, d)
}

#[test]
fn threads_run_in_fifo_order_and_yield_round_robin() {
    let (k, d) = fake();
    let log = Rc::new(RefCell::new(Vec::new()));
    for i in 0..3 {
        let log = log.clone();
        d.spawn(move |d| {
            for round in 0..3 {
                log.borrow_mut().push((i, round));
                d.yield_now().unwrap();
            }
        })
        .unwrap();
    }
    d.run().unwrap();
    let expect: Vec<_> = (0..3).flat_map(|r| (0..3).map(move |i| (i, r))).collect();
    assert_eq!(*log.borrow(), expect);
    assert_eq!(d.live_threads(), 0);
    assert_eq!(k.stacks_out.get(), 3, "exited threads' stacks are cached");
    // Reused, not allocated again.
    d.spawn(|_| {}).unwrap();
    d.run().unwrap();
    assert_eq!(k.stacks_out.get(), 3);
    assert_eq!(d.trim_stack_cache(), 3);
    assert_eq!(
        k.stacks_out.get(),
        0,
        "every stack went back to the allocator"
    );
}

#[test]
fn mutex_condvar_ping_pong_exact_counts() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 500;
    let (_k, d) = fake();
    // (turn counter, per-thread hits)
    let shared = Rc::new((Mutex::new((0usize, [0usize; THREADS])), Condvar::new()));
    for me in 0..THREADS {
        let s = shared.clone();
        d.spawn(move |d| {
            let (m, cv) = &*s;
            for _ in 0..ROUNDS {
                let g = m.lock(d).unwrap();
                let mut g = cv.wait_while(g, |(turn, _)| *turn % THREADS != me).unwrap();
                g.0 += 1;
                g.1[me] += 1;
                drop(g);
                cv.notify_all(d);
            }
        })
        .unwrap();
    }
    d.run().unwrap();
    let g = shared.0.try_lock(&*d).expect("unlocked at the end");
    assert_eq!(g.0, THREADS * ROUNDS);
    assert_eq!(g.1, [ROUNDS; THREADS]);
}

#[test]
fn mutex_hands_off_in_fifo_order_across_yields() {
    let (_k, d) = fake();
    let m = Rc::new(Mutex::new(Vec::new()));
    for i in 0..5 {
        let m = m.clone();
        d.spawn(move |d| {
            let mut g = m.lock(d).unwrap();
            // Hold the lock across a yield: the others must queue.
            d.yield_now().unwrap();
            g.push(i);
            assert!(m.is_locked());
        })
        .unwrap();
    }
    d.run().unwrap();
    assert!(!m.is_locked());
    assert_eq!(*m.try_lock(&*d).unwrap(), vec![0, 1, 2, 3, 4]);
}

#[test]
fn thread_blocked_on_ppc_leaves_others_running() {
    let (_k, d) = fake();
    let token = d.new_token();
    let replied = Rc::new(Cell::new(false));
    let others_done = Rc::new(Cell::new(0u32));
    let caller = {
        let (replied, others_done) = (replied.clone(), others_done.clone());
        d.spawn(move |d| {
            d.block_on_ppc(token).unwrap();
            // Both workers finished their loops while we were blocked.
            assert_eq!(others_done.get(), 2);
            replied.set(true);
        })
        .unwrap()
    };
    for _ in 0..2 {
        let od = others_done.clone();
        d.spawn(move |d| {
            for _ in 0..100 {
                d.yield_now().unwrap();
            }
            od.set(od.get() + 1);
        })
        .unwrap();
    }
    // The "server" / kernel upcall: completes the PPC once the workers end.
    let od = others_done.clone();
    d.spawn(move |d| {
        assert_eq!(
            d.thread_state(caller),
            Some(ThreadState::Blocked(BlockReason::Ppc))
        );
        while od.get() < 2 {
            d.yield_now().unwrap();
        }
        d.complete(token).unwrap();
    })
    .unwrap();
    d.run().unwrap();
    assert!(replied.get());
}

#[test]
fn page_fault_completion_before_block_returns_at_once() {
    let (_k, d) = fake();
    let ok = Rc::new(Cell::new(false));
    let o = ok.clone();
    d.spawn(move |d| {
        let t = d.new_token();
        d.complete(t).unwrap();
        assert_eq!(d.complete(t), Err(Error::AlreadyCompleted));
        d.block_on_fault(t).unwrap();
        // Used up now.
        assert_eq!(d.block_on_fault(t), Err(Error::UnknownToken));
        o.set(true);
    })
    .unwrap();
    d.run().unwrap();
    assert!(ok.get());
}

#[test]
fn timers_fire_in_order_and_only_the_nearest_is_registered() {
    let (k, d) = fake();
    let fired = Rc::new(RefCell::new(Vec::new()));
    for deadline in [50u64, 30, 40, 10, 30] {
        let fired = fired.clone();
        d.spawn(move |d| {
            d.sleep_until(deadline).unwrap();
            fired.borrow_mut().push((deadline, d.platform().now()));
        })
        .unwrap();
    }
    d.run().unwrap();
    assert_eq!(
        *fired.borrow(),
        vec![(10, 10), (30, 30), (30, 30), (40, 40), (50, 50)]
    );
    // 50 first; 30 is nearer; 40 and the second 30 are not; 10 is. Then
    // after each delivery the next nearest: 30, 40, 50.
    assert_eq!(
        *k.set_calls.borrow(),
        vec![Some(50), Some(30), Some(10), Some(30), Some(40), Some(50)]
    );
    assert_eq!(k.idles.get(), 4);
    assert_eq!(d.stats().timer_interrupts, 4);
}

#[test]
fn join_waits_for_exit_and_explicit_exit_works() {
    let (_k, d) = fake();
    let order = Rc::new(RefCell::new(Vec::new()));
    let o = order.clone();
    let child = d
        .spawn(move |d| {
            o.borrow_mut().push("child start");
            d.sleep(100).unwrap();
            o.borrow_mut().push("child exit");
            d.exit().unwrap();
            #[allow(unreachable_code)]
            o.borrow_mut().push("after exit");
        })
        .unwrap();
    let o = order.clone();
    d.spawn(move |d| {
        d.join(child).unwrap();
        o.borrow_mut().push("joined");
        d.join(child).unwrap(); // already gone: returns at once
        assert_eq!(d.join(d.current().unwrap()), Err(Error::JoinSelf));
    })
    .unwrap();
    d.run().unwrap();
    assert_eq!(*order.borrow(), vec!["child start", "child exit", "joined"]);
}

#[test]
fn errors_outside_threads_and_refused_stacks() {
    let (k, d) = fake();
    assert_eq!(d.yield_now(), Err(Error::NotInThread));
    assert_eq!(d.current(), Err(Error::NotInThread));
    let m = Mutex::new(1);
    let g = m.try_lock(&*d).unwrap();
    assert_eq!(m.lock(&*d).err(), Some(Error::NotInThread));
    drop(g);
    d.trim_stack_cache();
    k.stack_limit.set(Some(1));
    d.spawn(|_| {}).unwrap();
    assert_eq!(d.spawn(|_| {}).err(), Some(Error::OutOfStacks));
    assert!(Stack::from_words(vec![0; 8].into_boxed_slice()).is_err());
    d.run().unwrap();
    // A dispatcher can be run again once empty.
    d.spawn(|d| d.yield_now().unwrap()).unwrap();
    d.run().unwrap();
    let dd = d.clone();
    d.spawn(move |_| assert_eq!(dd.run(), Err(Error::Reentrant)))
        .unwrap();
    d.run().unwrap();
}

#[test]
fn fpu_control_state_is_per_thread() {
    // Rounding differs per thread only if MXCSR is saved and restored; we
    // check the round-trip of a float computation across switches instead
    // of changing modes (which needs inline asm in the test).
    let (_k, d) = fake();
    let sums = Rc::new(RefCell::new(Vec::new()));
    for t in 0..4 {
        let sums = sums.clone();
        d.spawn(move |d| {
            let mut x = 1.0f64 + t as f64;
            for _ in 0..10 {
                x = x * 1.5 + 0.25;
                d.yield_now().unwrap();
            }
            sums.borrow_mut().push((t, x));
        })
        .unwrap();
    }
    d.run().unwrap();
    for (t, x) in sums.borrow().iter() {
        let mut y = 1.0f64 + *t as f64;
        for _ in 0..10 {
            y = y * 1.5 + 0.25;
        }
        assert_eq!(*x, y);
    }
}

#[test]
fn two_dispatchers_on_two_os_threads_exchange_wakeups() {
    const ROUNDS: u64 = 200;
    // Each side sends its Remote and a fresh token per round through atomics:
    // dispatcher A's thread wakes B's thread and then blocks until B wakes it.
    let (tx_a, rx_a) = mpsc::channel();
    let (tx_b, rx_b) = mpsc::channel();
    let a_token = Arc::new(AtomicU64::new(0));
    let b_token = Arc::new(AtomicU64::new(0));
    let b_ready = Arc::new(AtomicBool::new(false));

    let spawn_side = |first: bool,
                      tx: mpsc::Sender<uthread::Remote>,
                      rx: mpsc::Receiver<uthread::Remote>,
                      mine: Arc<AtomicU64>,
                      theirs: Arc<AtomicU64>| {
        std::thread::spawn(move || {
            let d = Dispatcher::new(StdPlatform::new());
            tx.send(d.remote()).unwrap();
            let peer = rx.recv().unwrap();
            let count = Rc::new(Cell::new(0u64));
            let c = count.clone();
            d.spawn(move |d| {
                for round in 0..ROUNDS {
                    let t = d.new_token();
                    mine.store(t.as_u64(), Ordering::Release);
                    if first || round > 0 {
                        // Wait until the peer has published its token.
                        let peer_t = loop {
                            let v = theirs.swap(0, Ordering::Acquire);
                            if v != 0 {
                                break v;
                            }
                            d.yield_now().unwrap();
                        };
                        peer.complete(uthread::Token::from_u64(peer_t).unwrap())
                            .unwrap();
                    }
                    d.block_on_ppc(t).unwrap();
                    c.set(c.get() + 1);
                }
                if !first {
                    // Wake A's last wait.
                    let peer_t = loop {
                        let v = theirs.swap(0, Ordering::Acquire);
                        if v != 0 {
                            break v;
                        }
                        d.yield_now().unwrap();
                    };
                    peer.complete(uthread::Token::from_u64(peer_t).unwrap())
                        .unwrap();
                }
            })
            .unwrap();
            // A local thread keeps running while the other is blocked.
            let busy = Rc::new(Cell::new(0u64));
            let b = busy.clone();
            d.spawn(move |d| {
                for _ in 0..50 {
                    b.set(b.get() + 1);
                    d.yield_now().unwrap();
                }
            })
            .unwrap();
            d.run().unwrap();
            assert_eq!(busy.get(), 50);
            (count.get(), d.stats().remote_wakeups)
        })
    };
    let _ = &b_ready;
    let a = spawn_side(true, tx_a, rx_b, a_token.clone(), b_token.clone());
    let b = spawn_side(false, tx_b, rx_a, b_token, a_token);
    let (ca, wa) = a.join().unwrap();
    let (cb, wb) = b.join().unwrap();
    assert_eq!((ca, cb), (ROUNDS, ROUNDS));
    assert_eq!((wa, wb), (ROUNDS, ROUNDS));
}

#[test]
fn hosted_sleep_waits_real_time() {
    let d = Dispatcher::new(StdPlatform::new());
    let woke = Rc::new(Cell::new(0u64));
    let w = woke.clone();
    d.spawn(move |d| {
        let start = d.platform().now();
        d.sleep(2_000_000).unwrap(); // 2 ms
        w.set(d.platform().now() - start);
    })
    .unwrap();
    d.run().unwrap();
    assert!(woke.get() >= 2_000_000);
}

#[test]
fn dropping_a_dispatcher_returns_unfinished_threads_stacks() {
    // Threads that have not run to completion (here: never started) are not
    // resumed when the dispatcher is dropped; their stacks still go back.
    let (k, d) = fake();
    for _ in 0..3 {
        d.spawn(|d| d.sleep(5).unwrap()).unwrap();
    }
    assert_eq!(k.stacks_out.get(), 3);
    drop(d);
    assert_eq!(k.stacks_out.get(), 0);
}

#[test]
fn many_producers_wake_threads_through_the_remote_queue() {
    const PRODUCERS: usize = 4;
    const PER: usize = 150; // 600 tokens in all, more than the 256 queue slots
    let d = Dispatcher::with_stack_size(StdPlatform::new(), 16 * 1024);
    let woken = Rc::new(Cell::new(0usize));
    let mut batches = vec![Vec::new(); PRODUCERS];
    for i in 0..PRODUCERS * PER {
        let t = d.new_token();
        batches[i % PRODUCERS].push(t.as_u64());
        let w = woken.clone();
        d.spawn(move |d| {
            d.block_on_ppc(t).unwrap();
            w.set(w.get() + 1);
        })
        .unwrap();
    }
    let producers: Vec<_> = batches
        .into_iter()
        .map(|batch| {
            let remote = d.remote();
            std::thread::spawn(move || {
                for raw in batch {
                    let t = uthread::Token::from_u64(raw).unwrap();
                    while remote.complete(t) == Err(Error::QueueFull) {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    d.run().unwrap();
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(woken.get(), PRODUCERS * PER);
    assert_eq!(d.stats().remote_wakeups, (PRODUCERS * PER) as u64);
}

#[test]
fn nested_dispatcher_thread_cannot_switch_the_outer_one() {
    // A thread of `outer` runs `inner` to completion; inner's thread must not
    // be able to park or yield on `outer` (it runs on the wrong stack).
    let (_k, outer) = fake();
    let ok = Rc::new(Cell::new(false));
    let o = ok.clone();
    let outer2 = outer.clone();
    outer
        .spawn(move |outer_d| {
            let (_k2, inner) = fake();
            let outer3 = outer2.clone();
            inner
                .spawn(move |inner_d| {
                    assert_eq!(outer3.yield_now(), Err(Error::NotInThread));
                    assert_eq!(outer3.current(), Err(Error::NotInThread));
                    let t = outer3.new_token();
                    assert_eq!(outer3.block_on_ppc(t), Err(Error::NotInThread));
                    inner_d.yield_now().unwrap();
                })
                .unwrap();
            inner.run().unwrap();
            outer_d.yield_now().unwrap();
            o.set(true);
        })
        .unwrap();
    outer.run().unwrap();
    assert!(ok.get());
}

#[test]
fn ppc_call_parks_a_released_call_until_its_upcall() {
    let (_k, d) = fake();
    let remote = d.remote();
    let issued = Rc::new(Cell::new(0u64));
    let ran_meanwhile = Rc::new(Cell::new(0u32));
    let got = Rc::new(Cell::new(None));
    {
        let (issued, ran, got) = (issued.clone(), ran_meanwhile.clone(), got.clone());
        d.spawn(move |d| {
            // Answered at once: no parking, the token is gone.
            let now = d.ppc_call(|_| Some(7u64), |_| unreachable!()).unwrap();
            assert_eq!(now, 7);
            // Released: parks until the "upcall" completes the token.
            let r = d
                .ppc_call(
                    |t| {
                        issued.set(t.as_u64());
                        None
                    },
                    |t| {
                        assert_eq!(t.as_u64(), issued.get());
                        42u64
                    },
                )
                .unwrap();
            assert!(ran.get() >= 3, "the other thread ran while this one waited");
            got.set(Some(r));
        })
        .unwrap();
    }
    {
        let (issued, ran) = (issued.clone(), ran_meanwhile.clone());
        d.spawn(move |d| {
            for _ in 0..3 {
                ran.set(ran.get() + 1);
                d.yield_now().unwrap();
            }
            // What the IPC-return upcall handler does.
            let t = uthread::Token::from_u64(issued.get()).unwrap();
            remote.complete(t).unwrap();
        })
        .unwrap();
    }
    d.run().unwrap();
    assert_eq!(got.get(), Some(42));
    // Outside a thread: refused.
    assert_eq!(
        d.ppc_call(|_| Some(()), |_| ()).unwrap_err(),
        Error::NotInThread
    );
}

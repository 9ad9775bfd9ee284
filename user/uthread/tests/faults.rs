//! Hosted tests of the page-fault upcall's half in the thread library:
//! a thread parked on a kernel I/O id while the others run, and the
//! completions the platform reports after `SOFT_FAULT`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use uthread::{
    hosted::StdPlatform, BlockReason, Dispatcher, Error, Platform, SoftInterrupts, ThreadState,
    SOFT_FAULT,
};

/// A fake kernel: completions queued by the test, handed out by
/// `fault_completions` (counted).
#[derive(Default)]
struct FakeKernel {
    std: StdPlatform,
    done: RefCell<Vec<(u64, i64)>>,
    takes: Cell<u32>,
}

impl Platform for FakeKernel {
    fn now(&self) -> u64 {
        self.std.now()
    }
    fn set_timer(&self, deadline: Option<u64>) {
        self.std.set_timer(deadline)
    }
    fn idle(&self, soft: &SoftInterrupts) {
        self.std.idle(soft)
    }
    fn fault_completions(&self, done: &mut dyn FnMut(u64, i64)) {
        self.takes.set(self.takes.get() + 1);
        for (io, r) in self.done.borrow_mut().drain(..) {
            done(io, r);
        }
    }
}

#[test]
fn a_faulting_thread_waits_while_the_others_run() {
    let kernel = Rc::new(FakeKernel::default());
    let d = Dispatcher::new(kernel.clone());
    let (ticks, seen) = (Rc::new(Cell::new(0u32)), Rc::new(Cell::new(None)));
    let (t, s) = (ticks.clone(), seen.clone());
    let a = d
        .spawn(move |d| {
            // The page-fault entry: the kernel's I/O 7.
            let r = d.block_on_io(7);
            s.set(Some((r, t.get())));
        })
        .unwrap();
    let (t, k) = (ticks.clone(), kernel.clone());
    d.spawn(move |d| {
        for i in 0..10 {
            t.set(t.get() + 1);
            if i == 0 {
                assert_eq!(
                    d.thread_state(a),
                    Some(ThreadState::Blocked(BlockReason::PageFault))
                );
            }
            if i == 4 {
                // The completion and its soft interrupt.
                k.done.borrow_mut().push((7, 0));
                d.soft_interrupts().raise(SOFT_FAULT);
            }
            d.yield_now().unwrap();
        }
    })
    .unwrap();
    d.run().unwrap();
    let (r, at) = seen.get().expect("the faulting thread resumed");
    assert_eq!(r, Ok(0));
    assert!(
        (5..10).contains(&at),
        "resumed after the completion, while the other ran: {at}"
    );
    assert_eq!(kernel.takes.get(), 1, "completions taken once, on the bit");
    assert_eq!(d.stats().fault_completions, 1);
}

#[test]
fn failed_reads_and_unknown_ids() {
    let kernel = Rc::new(FakeKernel::default());
    let d = Dispatcher::new(kernel.clone());
    assert_eq!(d.complete_io(3, 0), Err(Error::UnknownToken));
    assert_eq!(d.block_on_io(3), Err(Error::NotInThread));
    let got = Rc::new(Cell::new(None));
    let g = got.clone();
    d.spawn(move |d| g.set(Some(d.block_on_io(9)))).unwrap();
    let k = kernel.clone();
    d.spawn(move |d| {
        // A completion for an id nobody waits for is dropped; the read
        // of 9 failed with EIO.
        k.done.borrow_mut().extend([(8, 0), (9, -5)]);
        d.soft_interrupts().raise(SOFT_FAULT);
    })
    .unwrap();
    d.run().unwrap();
    assert_eq!(got.get(), Some(Ok(-5)));
    assert_eq!(d.live_threads(), 0);
}

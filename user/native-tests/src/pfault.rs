//! `pfault` and `pfault-plain`: out-of-core page faults (the kernel's
//! `mm::upcall`, run by the kernel test `mm_user_page_fault_upcall`).
//! The kernel test maps, at `VA`, a file whose reads wait until it
//! completes them; the first word of the file is `EXPECTED`.
//!
//! - `pfault VA,EXPECTED,C` (on processor C): two user-level threads in
//!   one dispatcher, with a page-fault entry and an interrupt entry. Thread
//!   A loads the first word at `VA`: the kernel's page-fault upcall parks A
//!   (`uthread::Dispatcher::block_on_io`) and B runs, counting, until A is
//!   done. The completion arrives as the `SOFT_PFAULT` soft interrupt; the
//!   scheduler takes it (`pfault_take`), A retries its load (`resume` of
//!   the saved frame) and sees the file's word. Status 0 if A saw
//!   `EXPECTED` after B counted while A waited.
//! - `pfault-plain VA,EXPECTED,C`: no entry; the load simply waits (the
//!   dispatcher waits in the kernel). Status 0 if it sees `EXPECTED`.

extern crate alloc;

use crate::k42::{self, syscall2, syscall3};
use crate::shm::say;
use alloc::rc::Rc;
use core::cell::Cell;
use core::sync::atomic::{compiler_fence, AtomicPtr, AtomicU64, Ordering};
use uthread::{Dispatcher, Platform, SoftInterrupts, SOFT_FAULT, SOFT_TIMER};

/// `pfault_take(buf, max)` (the kernel's `syscall::pfault_take`).
const PFAULT_TAKE: u64 = k42::NATIVE | 48;
/// Entry-point kinds (`set_entry_point`).
const ENTRY_INTERRUPT: u64 = 1;
const ENTRY_PAGE_FAULT: u64 = 3;
/// Soft-interrupt bits of the dispatcher page.
const SOFT_BIT_TIMER: u64 = 2;
const SOFT_BIT_PFAULT: u64 = 16;
/// Words of the save area (the kernel's trap frame).
const FRAME_WORDS: usize = 22;

/// The thread library over the native calls, with the page-fault
/// completions.
struct FaultPlatform {
    cpu: u64,
}

impl FaultPlatform {
    /// Turns the dispatcher page's bits into the library's.
    fn take_page_bits(&self, soft: &SoftInterrupts) {
        let bits = k42::take_soft_bits(self.cpu);
        raise(soft, bits);
    }
}

fn raise(soft: &SoftInterrupts, bits: u64) {
    if bits & SOFT_BIT_PFAULT != 0 {
        soft.raise(SOFT_FAULT);
    }
    if bits & SOFT_BIT_TIMER != 0 {
        soft.raise(SOFT_TIMER);
    }
}

impl Platform for FaultPlatform {
    fn now(&self) -> u64 {
        syscall2(k42::CLOCK, 0, 0) as u64
    }

    fn set_timer(&self, deadline: Option<u64>) {
        match deadline {
            Some(t) => syscall2(k42::TIMER, 0, t),
            None => syscall2(k42::TIMER, 2, 0),
        };
    }

    fn idle(&self, soft: &SoftInterrupts) {
        loop {
            self.take_page_bits(soft);
            if soft.is_pending() {
                return;
            }
            syscall2(k42::BLOCK, 0, 0);
        }
    }

    fn fault_completions(&self, done: &mut dyn FnMut(u64, i64)) {
        let mut buf = [[0u64; 2]; 16];
        loop {
            let n = syscall2(PFAULT_TAKE, buf.as_mut_ptr() as u64, buf.len() as u64);
            if n <= 0 {
                return;
            }
            for [io, result] in &buf[..n as usize] {
                done(*io, *result as i64);
            }
            if (n as usize) < buf.len() {
                return;
            }
        }
    }
}

type Disp = Dispatcher<FaultPlatform>;

/// The dispatcher the entries work for (set before any can be entered).
static DISPATCHER: AtomicPtr<Disp> = AtomicPtr::new(core::ptr::null_mut());
/// Which processor's dispatcher page is ours.
static CPU: AtomicU64 = AtomicU64::new(0);
/// Page-fault upcalls taken.
static UPCALLS: AtomicU64 = AtomicU64::new(0);
/// Cycles (RDTSC) just before A's load, and at the page-fault entry.
static T_LOAD: AtomicU64 = AtomicU64::new(0);
static T_ENTRY: AtomicU64 = AtomicU64::new(0);

fn rdtsc() -> u64 {
    // SAFETY: RDTSC is allowed in user mode.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Thread B's count (an atomic: it changes under A's load, which the
/// compiler cannot know).
static TICKS: AtomicU64 = AtomicU64::new(0);

fn dispatcher() -> &'static Disp {
    // SAFETY: set by `run` to its dispatcher, which outlives every thread
    // and upcall (the program exits before it is dropped).
    unsafe { &*DISPATCHER.load(Ordering::Acquire) }
}

fn enable() {
    // SAFETY: word 3 of our dispatcher page is the disabled flag.
    unsafe {
        core::ptr::write_volatile(k42::dispatcher_page(CPU.load(Ordering::Relaxed)).add(3), 0)
    };
}

fn resume(frame: *const u64) -> ! {
    syscall2(k42::RESUME, frame as u64, 0);
    k42::exit(125) // resume does not come back
}

/// The page-fault entry: runs as the faulting thread (on its stack, just
/// below the faulting frame). Keeps the frame, re-enables, parks the
/// thread until I/O `io` completes, then retries the access.
extern "C" fn on_page_fault(save: *const u64, io: u64, _va: u64) -> ! {
    T_ENTRY.store(rdtsc(), Ordering::SeqCst);
    let mut frame = [0u64; FRAME_WORDS];
    // SAFETY: the kernel passes our dispatcher page's save area, one
    // frame long; copied before re-enabling (the next upcall reuses it).
    unsafe { core::ptr::copy_nonoverlapping(save, frame.as_mut_ptr(), FRAME_WORDS) };
    enable();
    UPCALLS.fetch_add(1, Ordering::SeqCst);
    match dispatcher().block_on_io(io) {
        Ok(0) => resume(frame.as_ptr()),
        // The read failed: what a bus error does.
        Ok(_) => k42::exit(128 + 7),
        // Outside a thread (the scheduler itself faulted): wait for the
        // completion here.
        Err(_) => loop {
            let platform = dispatcher().platform();
            let mut mine = None;
            platform.fault_completions(&mut |i, r| {
                if i == io {
                    mine = Some(r);
                }
            });
            match mine {
                Some(0) => resume(frame.as_ptr()),
                Some(_) => k42::exit(128 + 7),
                None => {
                    syscall2(k42::BLOCK, 0, 0);
                }
            }
        },
    }
}

/// The interrupt entry: soft interrupts become the library's bits (an
/// atomic store: safe wherever the upcall interrupted the dispatcher).
extern "C" fn on_interrupt(save: *const u64, bits: u64) -> ! {
    raise(dispatcher().soft_interrupts(), bits);
    enable();
    resume(save)
}

fn parse(args: &str) -> (u64, u64, u64) {
    let mut it = args.split(',');
    let mut hex = || {
        it.next()
            .and_then(|x| u64::from_str_radix(x.trim_start_matches("0x"), 16).ok())
            .unwrap_or(0)
    };
    (hex(), hex(), hex())
}

/// `pfault VA,EXPECTED,C`.
pub fn run(args: &str) -> u64 {
    let (va, expected, cpu) = parse(args);
    CPU.store(cpu, Ordering::Relaxed);
    let d = Dispatcher::new(FaultPlatform { cpu });
    DISPATCHER.store(Rc::as_ptr(&d) as *mut Disp, Ordering::Release);
    let e1 = syscall3(
        k42::SET_ENTRY_POINT,
        ENTRY_PAGE_FAULT,
        on_page_fault as *const () as u64,
        0,
    )
    .0;
    let e2 = syscall3(
        k42::SET_ENTRY_POINT,
        ENTRY_INTERRUPT,
        on_interrupt as *const () as u64,
        0,
    )
    .0;
    let (done, seen) = (Rc::new(Cell::new(false)), Rc::new(Cell::new((0u64, 0u64))));
    let (fin, s) = (done.clone(), seen.clone());
    d.spawn(move |_| {
        let before = TICKS.load(Ordering::SeqCst);
        T_LOAD.store(rdtsc(), Ordering::SeqCst);
        compiler_fence(Ordering::SeqCst);
        // SAFETY: the kernel test mapped `va` (a file, read only); the
        // load waits for the file's read.
        let v = unsafe { core::ptr::read_volatile(va as *const u64) };
        compiler_fence(Ordering::SeqCst);
        s.set((v, TICKS.load(Ordering::SeqCst) - before));
        fin.set(true);
    })
    .unwrap();
    let fin = done.clone();
    d.spawn(move |d| {
        // Keeps running while A waits for the page.
        while !fin.get() {
            TICKS.fetch_add(1, Ordering::SeqCst);
            d.yield_now().unwrap();
        }
    })
    .unwrap();
    d.run().unwrap();
    let (v, meanwhile) = seen.get();
    let upcalls = UPCALLS.load(Ordering::SeqCst);
    let completions = d.stats().fault_completions;
    let entry_cycles = T_ENTRY
        .load(Ordering::SeqCst)
        .wrapping_sub(T_LOAD.load(Ordering::SeqCst));
    say(format_args!(
        "pfault: entries={e1},{e2} value={v:#x} ok={} upcalls={upcalls} completions={completions} b_ran_while_a_waited={meanwhile} load_to_upcall_entry_cycles={entry_cycles}\n",
        v == expected
    ));
    u64::from(
        !(e1 == 0 && e2 == 0 && v == expected && upcalls == 1 && completions == 1 && meanwhile > 0),
    )
}

/// `pfault-plain VA,EXPECTED,C`.
pub fn plain(args: &str) -> u64 {
    let (va, expected, _) = parse(args);
    // SAFETY: as in `run`; without an entry the dispatcher waits.
    let v = unsafe { core::ptr::read_volatile(va as *const u64) };
    say(format_args!(
        "pfault-plain: value={v:#x} ok={}\n",
        v == expected
    ));
    u64::from(v != expected)
}

//! `ipcret-server` and `ipcret-client`: released PPCs and the IPC-return
//! entry (the kernel's `ppc` module docs, "Released calls"), run by the
//! kernel test `ppc_released_call_lets_other_threads_run`.
//!
//! - `ipcret-server`: exports one object (everyone may call it) and
//!   serves it on a raw IPC entry. Every call *blocks* in the server
//!   first: it sets its timer 30 ms ahead and blocks until then. Method
//!   [`SLOW`] then answers: status 42, register word 0 plus one. Method
//!   [`DIE`] ends the server instead, with the call still pending.
//! - `ipcret-client H,MODE,C` (on processor C): two user-level threads
//!   (`uthread`) in one dispatcher. Thread A calls handle H with register
//!   word 0 = 41 through `Dispatcher::ppc_call`, the call named by its
//!   token; thread B counts (and says so) while A waits. MODE:
//!   - `ok`: with an IPC-return entry: the call is released, A parks, B
//!     runs, the upcall readies A, `ipc_take` gives status 42 and value
//!     42. Status 0 if so, B ran while A waited, one upcall came, and
//!     `ipc_take` of an unknown id (or of the taken one again) is
//!     `-EINVAL`;
//!   - `plain`: no IPC-return entry: the call is never released and the
//!     whole dispatcher waits (B does not run meanwhile); status 42 and
//!     value 42 straight from `ipc_call`;
//!   - `die`: method [`DIE`]: the upcall brings `-ESRCH` (the server
//!     ended with the call pending);
//!   - `leave`: the client ends as soon as its call is released (the
//!     server's later return is dropped by the kernel).

extern crate alloc;

use crate::k42::{self, syscall2, syscall3};
use crate::shm::say;
use alloc::boxed::Box;
use alloc::rc::Rc;
use core::cell::Cell;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use uthread::{Dispatcher, Platform, Remote, SoftInterrupts, Token, SOFT_TIMER};

/// `ipc_take(id)` (the kernel's `syscall::ipc_take`).
const IPC_TAKE: u64 = k42::NATIVE | 49;
/// Entry-point kinds (`set_entry_point`).
const ENTRY_IPC_CALL: u64 = 4;
const ENTRY_IPC_RETURN: u64 = 5;
/// `-EINPROGRESS`: the call was released.
const EINPROGRESS: i64 = -115;
/// `-EINVAL`: an id naming no released call.
const EINVAL: i64 = -22;
/// `-ESRCH`: the server ended with the call pending.
const ESRCH: i64 = -3;
/// The dispatcher page's timer bit.
const SOFT_BIT_TIMER: u64 = 2;
/// The methods.
pub const SLOW: u64 = 1;
pub const DIE: u64 = 2;
/// How long the server blocks in each call.
const SERVE_NS: u64 = 30_000_000;

/// `ipc_call(handle, method, len, id)`: status and `rdx`.
fn ipc_call(handle: u64, method: u64, len: u64, id: u64) -> (i64, u64) {
    let r: i64;
    let d: u64;
    // SAFETY: `syscall` clobbers rcx and r11 only; the kernel checks every
    // argument; rdx carries a second result.
    unsafe {
        core::arch::asm!("syscall", inlateout("rax") k42::IPC_CALL as i64 => r,
             in("rdi") handle, in("rsi") method, inlateout("rdx") len => d, in("r10") id,
             lateout("rcx") _, lateout("r11") _, options(nostack))
    };
    (r, d)
}

fn regs() -> *mut u64 {
    k42::PPC_VA as *mut u64
}

fn clock() -> u64 {
    syscall2(k42::CLOCK, 0, 0) as u64
}

// ---- the server ----

/// `ipcret-server`.
pub fn server() -> u64 {
    static mut STACK: [u8; 64 * 1024] = [0; 64 * 1024];
    let top = (core::ptr::addr_of_mut!(STACK) as u64 + 64 * 1024) & !15;
    let e = syscall3(
        k42::SET_ENTRY_POINT,
        ENTRY_IPC_CALL,
        serve as *const () as u64,
        top,
    )
    .0;
    let h = syscall2(k42::EXPORT, 0, 0);
    let g = syscall3(k42::GRANT, h as u64, u64::from(u32::MAX), 1).0;
    say(format_args!(
        "ipcret-server: entry={e} handle={h:#x} grant={g}\n"
    ));
    wait_forever()
}

fn wait_forever() -> ! {
    loop {
        syscall2(k42::BLOCK, 0, 0);
    }
}

/// The IPC entry: blocks on its timer (this releases a caller that can be
/// released), then answers or dies.
extern "C" fn serve(_caller: u64, method: u64, _len: u64) -> ! {
    let deadline = clock() + SERVE_NS;
    syscall2(k42::TIMER, 0, deadline);
    while clock() < deadline {
        syscall2(k42::BLOCK, 0, 0);
    }
    if method == DIE {
        k42::exit(3);
    }
    // SAFETY: the kernel copied the request's register block here.
    unsafe { *regs() += 1 };
    syscall3(k42::IPC_RETURN, 42, 0, 0);
    // Back only if the reply went to a released call's buffer (or the
    // caller was gone): wait for the next call.
    wait_forever()
}

// ---- the client ----

/// The thread library over the native calls.
struct Plat {
    cpu: u64,
}

impl Platform for Plat {
    fn now(&self) -> u64 {
        clock()
    }

    fn set_timer(&self, deadline: Option<u64>) {
        match deadline {
            Some(t) => syscall2(k42::TIMER, 0, t),
            None => syscall2(k42::TIMER, 2, 0),
        };
    }

    fn idle(&self, soft: &SoftInterrupts) {
        loop {
            if k42::take_soft_bits(self.cpu) & SOFT_BIT_TIMER != 0 {
                soft.raise(SOFT_TIMER);
            }
            if soft.is_pending() {
                return;
            }
            syscall2(k42::BLOCK, 0, 0);
        }
    }
}

/// How the IPC-return upcall reaches the dispatcher (set before any call).
static REMOTE: AtomicPtr<Remote> = AtomicPtr::new(core::ptr::null_mut());
static CPU: AtomicU64 = AtomicU64::new(0);
static UPCALLS: AtomicU64 = AtomicU64::new(0);
/// What a second `ipc_take` of a taken call gave.
static TAKEN_AGAIN: AtomicU64 = AtomicU64::new(0);
/// Thread B's count.
static COUNT: AtomicU64 = AtomicU64::new(0);

/// The IPC-return entry: `(save_area, id, status, len)`. Completes the
/// token the call was named with (lock-free: safe wherever the upcall
/// interrupted the dispatcher), re-enables and resumes.
extern "C" fn on_ipc_return(save: *const u64, id: u64, _status: u64, _len: u64) -> ! {
    UPCALLS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: set by `client` before any call, never freed.
    let remote = unsafe { &*REMOTE.load(Ordering::Acquire) };
    if let Some(t) = Token::from_u64(id) {
        let _ = remote.complete(t);
    }
    // SAFETY: word 3 of our dispatcher page is the disabled flag.
    unsafe {
        core::ptr::write_volatile(k42::dispatcher_page(CPU.load(Ordering::Relaxed)).add(3), 0)
    };
    syscall2(k42::RESUME, save as u64, 0);
    k42::exit(125) // resume does not come back
}

/// `ipcret-client H,MODE,C`.
pub fn client(args: &str) -> u64 {
    let mut it = args.split(',');
    let h = u64::from_str_radix(it.next().unwrap_or("0"), 16).unwrap_or(0);
    let mode = it.next().unwrap_or("ok");
    let cpu: u64 = it.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    CPU.store(cpu, Ordering::Relaxed);
    let d = Dispatcher::new(Plat { cpu });
    REMOTE.store(Box::into_raw(Box::new(d.remote())), Ordering::Release);
    if mode != "plain" {
        let e = syscall3(
            k42::SET_ENTRY_POINT,
            ENTRY_IPC_RETURN,
            on_ipc_return as *const () as u64,
            0,
        )
        .0;
        if e != 0 {
            say(format_args!("ipcret: set_entry_point(5) = {e}\n"));
            return 1;
        }
    }
    // An id that names no call.
    let unknown = syscall3(IPC_TAKE, 0x1234_5678, 0, 0).0;
    let method = if mode == "die" { DIE } else { SLOW };
    let leave = mode == "leave";
    let done = Rc::new(Cell::new(false));
    let seen = Rc::new(Cell::new((0i64, 0u64, false, 0u64)));
    let (fin, s) = (done.clone(), seen.clone());
    d.spawn(move |d| {
        let before = COUNT.load(Ordering::SeqCst);
        let released = Cell::new(false);
        let (status, value) = d
            .ppc_call(
                |t| {
                    // SAFETY: the register block is ours while this thread
                    // makes its call.
                    unsafe { *regs() = 41 };
                    let (r, _) = ipc_call(h, method, 0, t.as_u64());
                    if r != EINPROGRESS {
                        // SAFETY: as above: the reply is there.
                        return Some((r, unsafe { *regs() }));
                    }
                    released.set(true);
                    if leave {
                        say(format_args!("ipcret: released, leaving\n"));
                        k42::exit(0);
                    }
                    None
                },
                |t| {
                    let (r, _len) = syscall3(IPC_TAKE, t.as_u64(), 0, 0);
                    // SAFETY: `ipc_take` put the reply in the register block.
                    let v = unsafe { *regs() };
                    // Taken: the id names nothing any more.
                    TAKEN_AGAIN.store(
                        syscall3(IPC_TAKE, t.as_u64(), 0, 0).0 as u64,
                        Ordering::SeqCst,
                    );
                    (r, v)
                },
            )
            .unwrap_or((-1, 0));
        let meanwhile = COUNT.load(Ordering::SeqCst) - before;
        s.set((status, value, released.get(), meanwhile));
        fin.set(true);
    })
    .unwrap();
    let fin = done.clone();
    d.spawn(move |d| {
        // Keeps running (and saying so) while A waits.
        while !fin.get() {
            let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
            if n.is_multiple_of(20_000) && n <= 60_000 {
                say(format_args!("ipcret: B counted {n}\n"));
            }
            d.yield_now().unwrap();
        }
    })
    .unwrap();
    d.run().unwrap();
    let (status, value, released, meanwhile) = seen.get();
    let upcalls = UPCALLS.load(Ordering::SeqCst);
    let again = TAKEN_AGAIN.load(Ordering::SeqCst) as i64;
    say(format_args!(
        "ipcret: mode={mode} released={released} status={status} value={value} upcalls={upcalls} b_ran_while_a_waited={meanwhile} unknown_id={unknown} taken_again={again}\n"
    ));
    let ok = match mode {
        "ok" => {
            released
                && status == 42
                && value == 42
                && upcalls == 1
                && meanwhile > 0
                && unknown == EINVAL
                && again == EINVAL
        }
        "plain" => !released && status == 42 && value == 42 && upcalls == 0 && meanwhile == 0,
        "die" => released && status == ESRCH && upcalls == 1,
        _ => false,
    };
    u64::from(!ok)
}

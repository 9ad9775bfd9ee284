//! Linux signals, delivered by the system library (K42's way, paper §10,
//! notes §10: the Linux state of a process is user-level state; the
//! kernel only carries notifications).
//!
//! **What the kernel does** (`kernel/src/syscall/signal.rs`): a sender's
//! `signal_send(pid, sig, code, value)` queues the signal in the target
//! process and raises [`SOFT_SIGNAL`] in its dispatcher page, waking it;
//! a blocked native call (`block`, `futex_wait`) returns. `SIGKILL` the
//! kernel performs itself. A child's end queues `SIGCHLD`; the
//! dispatcher's timer raises [`SOFT_TIMER`] (`alarm`, `setitimer`).
//!
//! **What the library does** (this module): whenever it has control,
//! [`poll`] takes the soft bits of its dispatcher page, moves the
//! kernel's queue into [`Signals::pending`] and fires a due alarm; then
//! [`deliver`] applies the action of each pending, unblocked signal
//! (lowest number first, synchronous faults before everything):
//!
//! - ignored (`SIG_IGN`, or a default of "ignore": `SIGCHLD`, `SIGURG`,
//!   `SIGWINCH`, `SIGCONT`): dropped;
//! - default "stop" (`SIGSTOP`, `SIGTSTP`, `SIGTTIN`, `SIGTTOU`): the
//!   kernel records the stop for the parent (`wait4` with `WUNTRACED`,
//!   `SIGCHLD` with `CLD_STOPPED` unless `SA_NOCLDSTOP`) and the library
//!   blocks until `SIGCONT` (whose sending the kernel reports as
//!   `CLD_CONTINUED`, `WCONTINUED`) or `SIGKILL`;
//! - default "terminate" or "core": the process ends with status
//!   128 + the signal (the encoding the kernel uses for "killed by
//!   signal N": the parent's `wait4` reports `WIFSIGNALED`);
//! - a handler: a Linux `rt_sigframe` is built on the program's stack (or
//!   the alternate one, `SA_ONSTACK`): the return address (`sa_restorer`),
//!   a `ucontext` with the interrupted registers, the old mask and the
//!   alternate stack, the `siginfo`, and an FXSAVE area with the
//!   program's FPU/SSE registers (`uc_mcontext.fpstate`); the saved
//!   frame is changed to enter the handler with (sig, &info, &uc), the
//!   mask gains `sa_mask` and the signal (unless `SA_NODEFER`),
//!   `SA_RESETHAND` resets the action. [`sigreturn`] undoes it.
//!
//! The library gets control (1) after every reflected call, (2) at its
//! interrupt entry, when a soft interrupt reaches a program running in
//! user mode (the kernel upcall; the dispatcher is *disabled* while the
//! library runs, so no upcall lands inside it), (3) at its trap entry,
//! for an exception of the program: [`fault`] turns it into `SIGSEGV`
//! (`SEGV_MAPERR`/`SEGV_ACCERR` and the address), `SIGBUS`, `SIGFPE`,
//! `SIGILL` or `SIGTRAP`, forced as Linux does (blocked or ignored, it
//! kills).
//!
//! **Interrupted calls.** A call that waits (`wait4`, `pause`,
//! `rt_sigsuspend`) returns [`ERESTARTSYS`] or [`ERESTARTNOHAND`] when a
//! signal is deliverable ([`interrupted`]); [`deliver`] then makes it
//! `EINTR`, or restarts it (the saved `rip` back on the `syscall`, `rax`
//! the number again) if no handler runs or the handler has `SA_RESTART`
//! (`ERESTARTSYS` only), as Linux does.
//!
//! Job control: the console's foreground group is the kernel's
//! (`kernel::syscall::terminal`), which sends `SIGINT`, `SIGQUIT` and
//! `SIGTSTP` for typed characters; the library raises `SIGTTIN` and
//! `SIGTTOU` for a background group's reads and settings (`tty.rs`).
//!
//! Not yet: `TOSTOP`, `si_uid` other than 0, per-thread signals (a signal to any thread is the process's:
//! `threads`), delivery through the direct-branch path (the signals wait
//! for the next trap).

use crate::abi::frame as fw;
use crate::{calls, Access, Ctx, Errno, SigAction, SysResult};
use alloc::vec::Vec;

/// Soft-interrupt bit of the dispatcher's timer (`kernel::syscall::timer`).
pub const SOFT_TIMER: u64 = 2;
/// Soft-interrupt bit: a signal is queued in the kernel for this process.
pub const SOFT_SIGNAL: u64 = 8;

/// Native call numbers (after `abi`'s, `kernel::syscall`).
pub mod nr {
    use crate::abi::NATIVE;
    /// `timer(kind, time)`: the dispatcher's one timer.
    pub const TIMER: u64 = NATIVE | 7;
    /// `signal_send(pid, sig, code, value)`.
    pub const SIGNAL_SEND: u64 = NATIVE | (12 + 16);
    /// `signal_take(buf, max)`: queued signals, 4 words each.
    pub const SIGNAL_TAKE: u64 = NATIVE | (12 + 17);
    /// `process_group(op, pid, pgid)`.
    pub const PROCESS_GROUP: u64 = NATIVE | (12 + 18);
    /// The interrupt entry point's kind (`set_entry_point`).
    pub const INTERRUPT_ENTRY: u64 = 1;
    /// The trap entry point's kind.
    pub const TRAP_ENTRY: u64 = 2;
}

/// "Interrupted; restart the call if no handler runs or it has
/// `SA_RESTART`" (Linux's internal 512; never reaches the program).
pub const ERESTARTSYS: Errno = Errno(512);
/// "Interrupted; restart only if no handler runs" (514).
pub const ERESTARTNOHAND: Errno = Errno(514);

/// Signal numbers used here.
pub mod sig {
    pub const SIGHUP: u32 = 1;
    pub const SIGILL: u32 = 4;
    pub const SIGTRAP: u32 = 5;
    pub const SIGBUS: u32 = 7;
    pub const SIGFPE: u32 = 8;
    pub const SIGKILL: u32 = 9;
    pub const SIGSEGV: u32 = 11;
    pub const SIGALRM: u32 = 14;
    pub const SIGCHLD: u32 = 17;
    pub const SIGCONT: u32 = 18;
    pub const SIGSTOP: u32 = 19;
    pub const SIGTSTP: u32 = 20;
    pub const SIGTTIN: u32 = 21;
    pub const SIGTTOU: u32 = 22;
    pub const SIGURG: u32 = 23;
    pub const SIGWINCH: u32 = 28;
    pub const SIGSYS: u32 = 31;
}

/// `si_code` values.
pub mod code {
    /// `kill`.
    pub const SI_USER: i32 = 0;
    /// Sent by the kernel (the timer, a general protection fault).
    pub const SI_KERNEL: i32 = 0x80;
    /// `sigqueue`.
    pub const SI_QUEUE: i32 = -1;
    /// `tkill`, `tgkill` (and so `raise`).
    pub const SI_TKILL: i32 = -6;
    /// `SIGCHLD`: exited.
    pub const CLD_EXITED: i32 = 1;
    /// `SIGCHLD`: killed.
    pub const CLD_KILLED: i32 = 2;
    /// `SIGCHLD`: stopped.
    pub const CLD_STOPPED: i32 = 5;
    /// `SIGCHLD`: continued.
    pub const CLD_CONTINUED: i32 = 6;
    pub const SEGV_MAPERR: i32 = 1;
    pub const SEGV_ACCERR: i32 = 2;
    pub const FPE_INTDIV: i32 = 1;
    pub const FPE_FLTINV: i32 = 7;
    pub const ILL_ILLOPN: i32 = 2;
    pub const BUS_ADRALN: i32 = 1;
    pub const BUS_ADRERR: i32 = 2;
    pub const TRAP_BRKPT: i32 = 1;
    pub const TRAP_TRACE: i32 = 2;
}

const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;
const SA_NOCLDSTOP: u64 = 1;
const SA_SIGINFO: u64 = 4;
const SA_ONSTACK: u64 = 0x0800_0000;
const SA_RESTART: u64 = 0x1000_0000;
const SA_NODEFER: u64 = 0x4000_0000;
const SA_RESETHAND: u64 = 0x8000_0000;
/// `sigaltstack` flags.
pub const SS_ONSTACK: u32 = 1;
/// See [`SS_ONSTACK`].
pub const SS_DISABLE: u32 = 2;
/// The smallest alternate stack (`MINSIGSTKSZ`).
pub const MINSIGSTKSZ: u64 = 2048;

/// Bytes of the FXSAVE area in a frame.
pub const FPU_BYTES: u64 = 512;
/// `struct ucontext` (the kernel's: flags, link, stack, sigcontext, mask).
const UC_BYTES: u64 = 304;
/// `siginfo_t`.
const INFO_BYTES: u64 = 128;
/// `struct rt_sigframe`: the return address, the ucontext, the siginfo.
pub const FRAME_BYTES: u64 = 8 + UC_BYTES + INFO_BYTES;
/// Where the `sigcontext` starts in the ucontext.
const MCONTEXT_AT: u64 = 40;
/// Where the mask is in the ucontext.
const MASK_AT: u64 = 296;
/// The `sigcontext` general registers in order (r8 ... rip, eflags), as
/// save-area words.
const SIGCONTEXT: [usize; 18] = [
    7,
    6,
    5,
    4,
    3,
    2,
    1,
    0,
    9,
    10,
    8,
    13,
    11,
    fw::RAX,
    12,
    RSP,
    RIP,
    RFLAGS,
];
/// Save-area words beyond `abi::frame`'s.
pub const RIP: usize = 17;
/// See [`RIP`].
pub const RFLAGS: usize = 19;
/// See [`RIP`].
pub const RSP: usize = 20;
/// See [`RIP`].
pub const RCX: usize = 12;
/// See [`RIP`].
pub const R11: usize = 4;
/// Flags `rt_sigreturn` may change: CF PF AF ZF SF TF DF OF RF AC.
const FIX_EFLAGS: u64 = 0x0005_0dd5;
/// Signals that are never blocked nor caught.
const UNBLOCKABLE: u64 = calls::UNBLOCKABLE;
/// Synchronous signals, delivered before the others.
const SYNCHRONOUS: u64 = bit(sig::SIGSEGV)
    | bit(sig::SIGBUS)
    | bit(sig::SIGILL)
    | bit(sig::SIGTRAP)
    | bit(sig::SIGFPE)
    | bit(sig::SIGSYS);

/// The mask bit of signal `s` (1..=64).
pub const fn bit(s: u32) -> u64 {
    1u64 << (s - 1)
}

/// One pending signal and what its `siginfo` says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Info {
    /// The number.
    pub sig: u32,
    /// `si_code`.
    pub code: i32,
    /// The sender (the child, for `SIGCHLD`).
    pub pid: u32,
    /// `si_value` (`sigqueue`), or the child's status (`SIGCHLD`).
    pub value: u64,
    /// A fault: (`si_addr`, vector, error code, CR2).
    pub fault: Option<[u64; 4]>,
}

/// The alternate signal stack (`sigaltstack`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AltStack {
    /// `ss_sp`.
    pub sp: u64,
    /// `ss_size`.
    pub size: u64,
    /// `ss_flags` ([`SS_DISABLE`] or 0).
    pub flags: u32,
}

/// The library's signal state (the actions and the mask are
/// `State::actions` and `State::blocked`).
#[derive(Clone, Debug)]
pub struct Signals {
    /// Pending signals, in arrival order.
    pub pending: Vec<Info>,
    /// The program's frame of the reflected call being handled (the
    /// save area's words), which `rt_sigreturn` replaces.
    pub frame: [u64; fw::WORDS],
    /// The alternate stack.
    pub altstack: AltStack,
    /// The mask to restore after a handler (`rt_sigsuspend`'s caller's).
    pub saved_mask: Option<u64>,
    /// `ITIMER_REAL`: when it fires next (`clock()` time; 0: disarmed).
    pub alarm_at: u64,
    /// Its period (0: once).
    pub alarm_interval: u64,
    /// A waiting call's own deadline (`rt_sigtimedwait`; 0: none).
    pub wake_at: u64,
}

impl Default for Signals {
    fn default() -> Self {
        Signals {
            pending: Vec::new(),
            frame: [0; fw::WORDS],
            altstack: AltStack {
                sp: 0,
                size: 0,
                flags: SS_DISABLE,
            },
            saved_mask: None,
            alarm_at: 0,
            alarm_interval: 0,
            wake_at: 0,
        }
    }
}

/// What a signal does to the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Nothing.
    Ignore,
    /// It ends the process.
    Terminate,
    /// A handler runs.
    Handler,
    /// The process stops until `SIGCONT` (or `SIGKILL`).
    Stop,
}

/// What action `a` does for signal `s`.
pub fn disposition(s: u32, a: &SigAction) -> Disposition {
    match a.handler {
        SIG_IGN if s != sig::SIGKILL && s != sig::SIGSTOP => Disposition::Ignore,
        SIG_DFL | SIG_IGN => match s {
            sig::SIGCHLD | sig::SIGURG | sig::SIGWINCH | sig::SIGCONT => Disposition::Ignore,
            sig::SIGSTOP | sig::SIGTSTP | sig::SIGTTIN | sig::SIGTTOU => Disposition::Stop,
            _ => Disposition::Terminate,
        },
        _ => Disposition::Handler,
    }
}

/// Adds `info` to the pending set (a standard signal already pending is
/// not queued twice; real-time ones queue).
pub fn push(st: &mut crate::State, info: Info) {
    if info.sig == 0 || info.sig > 64 {
        return;
    }
    if info.sig < 32 && st.sig.pending.iter().any(|p| p.sig == info.sig) {
        return;
    }
    // SIGCONT and the stop signals cancel each other's pending ones.
    const STOPS: u64 =
        bit(sig::SIGSTOP) | bit(sig::SIGTSTP) | bit(sig::SIGTTIN) | bit(sig::SIGTTOU);
    if info.sig == sig::SIGCONT {
        st.sig.pending.retain(|p| bit(p.sig) & STOPS == 0);
    } else if bit(info.sig) & STOPS != 0 {
        st.sig.pending.retain(|p| p.sig != sig::SIGCONT);
    }
    // A child's stop or continuation, unless SA_NOCLDSTOP.
    let chld = &st.actions[sig::SIGCHLD as usize - 1];
    if info.sig == sig::SIGCHLD
        && matches!(info.code, code::CLD_STOPPED | code::CLD_CONTINUED)
        && chld.flags & SA_NOCLDSTOP != 0
    {
        return;
    }
    st.sig.pending.push(info);
}

/// Takes the dispatcher page's soft bits: the kernel's queued signals
/// into the pending set, a due alarm as `SIGALRM`.
pub fn poll(ctx: &mut Ctx<'_>) {
    let bits = ctx.native.soft_take(SOFT_SIGNAL | SOFT_TIMER);
    if bits & SOFT_SIGNAL != 0 {
        take(ctx);
    }
    if bits & SOFT_TIMER != 0 {
        alarm_check(ctx);
    }
}

/// Moves the kernel's queue into the pending set (at start-up too: what
/// was sent while the process exec'd waits there).
pub fn take(ctx: &mut Ctx<'_>) {
    loop {
        let mut buf = [[0u64; 4]; 16];
        let n = ctx.native.signal_take(&mut buf).unwrap_or(0);
        for w in &buf[..n] {
            push(
                ctx.st,
                Info {
                    sig: w[0] as u32,
                    code: (w[1] >> 32) as i32,
                    pid: w[1] as u32,
                    value: w[2],
                    fault: None,
                },
            );
        }
        if n < buf.len() {
            break;
        }
    }
}

/// The kernel clock (ns).
pub fn now(ctx: &mut Ctx<'_>) -> u64 {
    ctx.native
        .clock_ns()
        .unwrap_or_else(|| calls::clock_gettime::now(ctx))
}

/// Fires the alarm if it is due (re-arming a periodic one), and sets the
/// dispatcher's timer for the next deadline.
pub fn alarm_check(ctx: &mut Ctx<'_>) {
    let t = now(ctx);
    let s = &mut ctx.st.sig;
    if s.alarm_at != 0 && t >= s.alarm_at {
        s.alarm_at = match s.alarm_interval {
            0 => 0,
            i => (s.alarm_at + i).max(t + 1),
        };
        push(
            ctx.st,
            Info {
                sig: sig::SIGALRM,
                code: code::SI_KERNEL,
                ..Info::default()
            },
        );
    }
    arm(ctx);
}

/// Sets the dispatcher's one timer to the nearest of the alarm and a
/// waiting call's deadline (or cancels it).
pub fn arm(ctx: &mut Ctx<'_>) {
    let s = &ctx.st.sig;
    let next = [s.alarm_at, s.wake_at]
        .into_iter()
        .filter(|t| *t != 0)
        .min();
    ctx.native.timer(next.unwrap_or(0));
}

/// The pending signal to act on next: its index (synchronous ones first,
/// then the lowest number, then the oldest).
fn next(st: &crate::State) -> Option<usize> {
    let deliverable = |i: &Info| bit(i.sig) & st.blocked == 0;
    let sync = st
        .sig
        .pending
        .iter()
        .position(|i| deliverable(i) && bit(i.sig) & SYNCHRONOUS != 0);
    sync.or_else(|| {
        st.sig
            .pending
            .iter()
            .enumerate()
            .filter(|(_, i)| deliverable(i))
            .min_by_key(|(n, i)| (i.sig, *n))
            .map(|(n, _)| n)
    })
}

/// For a call that waits: takes what arrived, drops unblocked signals
/// that are ignored, and says whether one is left to act on (the call
/// then returns [`ERESTARTSYS`] or [`ERESTARTNOHAND`]).
pub fn interrupted(ctx: &mut Ctx<'_>) -> bool {
    poll(ctx);
    let st = &mut *ctx.st;
    let (blocked, actions) = (st.blocked, st.actions);
    st.sig.pending.retain(|i| {
        bit(i.sig) & blocked != 0
            || disposition(i.sig, &actions[i.sig as usize - 1]) != Disposition::Ignore
    });
    next(st).is_some()
}

/// Waits for a soft interrupt (a signal, the timer, a child's end), then
/// takes it: true if a signal is to be acted on.
pub fn wait(ctx: &mut Ctx<'_>) -> bool {
    if interrupted(ctx) {
        return true;
    }
    crate::threads::block(ctx);
    interrupted(ctx)
}

/// Turns an interrupted call's result in `f` into `EINTR` or a restart,
/// knowing whether a handler runs (and its flags).
fn settle_call(f: &mut [u64; fw::WORDS], nr: u64, handler: Option<u64>) {
    let e = (f[fw::RAX] as i64).wrapping_neg();
    let restart = match e {
        512 => handler.is_none_or(|flags| flags & SA_RESTART != 0),
        514 => handler.is_none(),
        _ => return,
    };
    if restart {
        f[RIP] = f[RIP].wrapping_sub(2);
        f[fw::RAX] = nr;
    } else {
        f[fw::RAX] = Errno(linux_raw_sys::errno::EINTR).to_return();
    }
}

/// Acts on every pending, unblocked signal for the program about to
/// resume with `f` (`call`: the number of the reflected call whose result
/// `f` holds, if any). `Some(status)`: the process ends with it.
pub fn deliver(ctx: &mut Ctx<'_>, f: &mut [u64; fw::WORDS], call: Option<u64>) -> Option<u8> {
    poll(ctx);
    let mut call = call;
    while let Some(i) = next(ctx.st) {
        let info = ctx.st.sig.pending.remove(i);
        let action = ctx.st.actions[info.sig as usize - 1];
        match disposition(info.sig, &action) {
            Disposition::Ignore => continue,
            Disposition::Terminate => return Some(terminate(ctx, &info)),
            Disposition::Stop => stop(ctx, info.sig),
            Disposition::Handler => {
                if let Some(nr) = call.take() {
                    settle_call(f, nr, Some(action.flags));
                }
                if setup(ctx, f, &info, &action).is_err() {
                    let segv = Info {
                        sig: sig::SIGSEGV,
                        code: code::SI_KERNEL,
                        ..Info::default()
                    };
                    return Some(terminate(ctx, &segv));
                }
            }
        }
    }
    if let Some(nr) = call {
        settle_call(f, nr, None);
    }
    if let Some(m) = ctx.st.sig.saved_mask.take() {
        ctx.st.blocked = m;
    }
    None
}

/// The default action of a stop signal: the kernel tells the parent,
/// then the process waits for `SIGCONT` (left pending: its action comes
/// next) or `SIGKILL` (the kernel ends it).
fn stop(ctx: &mut Ctx<'_>, s: u32) {
    if ctx.native.process_group(5, i64::from(s), 0).is_err() {
        return; // no kernel support: the signal is ignored
    }
    loop {
        poll(ctx);
        if ctx.st.sig.pending.iter().any(|i| i.sig == sig::SIGCONT) {
            return;
        }
        ctx.native.block();
    }
}

/// The status of a process `info` ends (logged).
fn terminate(ctx: &mut Ctx<'_>, info: &Info) -> u8 {
    if let Some([addr, vector, error, _]) = info.fault {
        let rip = ctx.st.sig.frame[RIP];
        ctx.log(format_args!(
            "signal {} (exception {vector}, error {error:#x}, address {addr:#x}, rip {rip:#x}): killed",
            info.sig
        ));
    }
    128 + info.sig as u8
}

/// Builds the handler's frame for `info` and enters the handler (see the
/// module docs).
fn setup(
    ctx: &mut Ctx<'_>,
    f: &mut [u64; fw::WORDS],
    info: &Info,
    action: &SigAction,
) -> Result<(), Errno> {
    let old_mask = ctx.st.sig.saved_mask.take().unwrap_or(ctx.st.blocked);
    let alt = ctx.st.sig.altstack;
    let on_alt = on_altstack(&alt, f[RSP]);
    let mut sp = f[RSP].wrapping_sub(128);
    if action.flags & SA_ONSTACK != 0 && alt.flags & SS_DISABLE == 0 && !on_alt {
        sp = alt.sp.wrapping_add(alt.size);
    }
    let fp = sp.wrapping_sub(FPU_BYTES) & !63;
    let at = (fp.wrapping_sub(FRAME_BYTES) & !15).wrapping_sub(8);
    ctx.st.mem.check(at, sp.wrapping_sub(at), Access::Write)?;
    let mut b = [0u8; FRAME_BYTES as usize];
    let mut put = |off: u64, v: u64| {
        b[off as usize..off as usize + 8].copy_from_slice(&v.to_le_bytes());
    };
    put(0, action.restorer);
    let uc = 8;
    // uc_flags, uc_link: 0. uc_stack:
    put(uc + 16, alt.sp);
    put(
        uc + 24,
        u64::from(if on_alt { SS_ONSTACK } else { alt.flags }),
    );
    put(uc + 32, alt.size);
    let mc = uc + MCONTEXT_AT;
    for (i, w) in SIGCONTEXT.iter().enumerate() {
        put(mc + 8 * i as u64, f[*w]);
    }
    // cs, gs, fs, ss.
    put(mc + 144, (f[18] & 0xffff) | ((f[21] & 0xffff) << 48));
    let [_, vector, error, cr2] = info.fault.unwrap_or([0; 4]);
    put(mc + 152, error);
    put(mc + 160, vector);
    put(mc + 168, old_mask);
    put(mc + 176, cr2);
    put(mc + 184, fp);
    put(uc + MASK_AT, old_mask);
    let si = 8 + UC_BYTES;
    b[si as usize..si as usize + 4].copy_from_slice(&(info.sig as i32).to_le_bytes());
    b[si as usize + 8..si as usize + 12].copy_from_slice(&info.code.to_le_bytes());
    let mut put = |off: u64, v: u64| {
        b[off as usize..off as usize + 8].copy_from_slice(&v.to_le_bytes());
    };
    match info.fault {
        Some([addr, ..]) => put(si + 16, addr),
        None if info.sig == sig::SIGCHLD && info.code > 0 => {
            put(si + 16, u64::from(info.pid)); // si_pid, si_uid 0
            put(si + 24, info.value & 0xffff_ffff); // si_status
        }
        None => {
            put(si + 16, u64::from(info.pid));
            put(si + 24, info.value);
        }
    }
    ctx.native.fpu_save(fp);
    ctx.native.write(at, &b);
    f[RIP] = action.handler;
    f[fw::RDI] = u64::from(info.sig);
    f[fw::RSI] = at + si;
    f[fw::RDX] = at + uc;
    f[fw::RAX] = 0;
    f[RSP] = at;
    f[RFLAGS] &= !(0x400 | 0x100); // DF, TF
                                   // A function entry: rcx and r11 are free, so `sysret` can return.
    f[RCX] = f[RIP];
    f[R11] = f[RFLAGS];
    let mut blocked = ctx.st.blocked | action.mask;
    if action.flags & SA_NODEFER == 0 {
        blocked |= bit(info.sig);
    }
    ctx.st.blocked = blocked & !UNBLOCKABLE;
    if action.flags & SA_RESETHAND != 0 {
        ctx.st.actions[info.sig as usize - 1] = SigAction::default();
    }
    let _ = SA_SIGINFO; // (rsi and rdx are set either way, as Linux does)
    Ok(())
}

/// Whether `sp` is on the alternate stack.
pub fn on_altstack(alt: &AltStack, sp: u64) -> bool {
    alt.flags & SS_DISABLE == 0 && sp > alt.sp && sp <= alt.sp.wrapping_add(alt.size)
}

/// `rt_sigreturn()`: the frame the handler returned to (its `ret` popped
/// the return address, so the ucontext is at the stack pointer) is
/// restored: registers (flags only those a program may change), the
/// mask, the FPU state, the alternate stack. A frame that cannot be read
/// ends the process with `SIGSEGV`.
pub fn sigreturn(ctx: &mut Ctx<'_>) -> SysResult {
    let uc = ctx.st.sig.frame[RSP];
    let mut b = [0u8; UC_BYTES as usize];
    if ctx.read_user(uc, &mut b).is_err() {
        ctx.log(format_args!(
            "rt_sigreturn: no signal frame at {uc:#x}: killed"
        ));
        ctx.st.exit = Some(128 + sig::SIGSEGV as u8);
        return Ok(0);
    }
    let w = |off: u64| {
        u64::from_le_bytes(
            b[off as usize..off as usize + 8]
                .try_into()
                .unwrap_or([0; 8]),
        )
    };
    let mc = MCONTEXT_AT;
    let f = &mut ctx.st.sig.frame;
    for (i, at) in SIGCONTEXT.iter().enumerate() {
        let v = w(mc + 8 * i as u64);
        f[*at] = if *at == RFLAGS {
            (f[RFLAGS] & !FIX_EFLAGS) | (v & FIX_EFLAGS)
        } else {
            v
        };
    }
    ctx.st.blocked = w(MASK_AT) & !UNBLOCKABLE;
    let fp = w(mc + 184);
    if fp != 0 {
        if ctx.st.mem.check(fp, FPU_BYTES, Access::Read).is_ok() && fp.is_multiple_of(16) {
            ctx.native.fpu_restore(fp);
        } else {
            ctx.st.exit = Some(128 + sig::SIGSEGV as u8);
            return Ok(0);
        }
    }
    // The alternate stack as it was (unless it is in use now).
    let alt = AltStack {
        sp: w(16),
        size: w(32),
        flags: w(24) as u32 & SS_DISABLE,
    };
    if !on_altstack(&ctx.st.sig.altstack, ctx.st.sig.frame[RSP]) {
        ctx.st.sig.altstack = alt;
    }
    Ok(ctx.st.sig.frame[fw::RAX])
}

/// An exception of the program (the trap entry: `vector`, `error`, CR2)
/// as a signal, forced: blocked or ignored, it takes its default action.
/// Leaves it pending for [`deliver`].
pub fn fault(ctx: &mut Ctx<'_>, rip: u64, vector: u64, error: u64, cr2: u64) {
    use code::*;
    let (s, c, addr) = match vector {
        0 => (sig::SIGFPE, FPE_INTDIV, rip),
        16 | 19 => (sig::SIGFPE, FPE_FLTINV, rip),
        1 => (sig::SIGTRAP, TRAP_TRACE, rip),
        3 => (sig::SIGTRAP, SI_KERNEL, 0),
        6 => (sig::SIGILL, ILL_ILLOPN, rip),
        17 => (sig::SIGBUS, BUS_ADRALN, cr2),
        12 => (sig::SIGBUS, BUS_ADRERR, 0),
        // Mapped (the page may not be present yet: memory is filled
        // lazily) but not for this access, or not mapped at all.
        // Past the end of a mapped file (the file server's memory
        // refused the page).
        14 if ctx.st.mem.past_file_end(cr2, error) => (sig::SIGBUS, BUS_ADRERR, cr2),
        14 if error & 1 != 0 || mapped(ctx, cr2) => (sig::SIGSEGV, SEGV_ACCERR, cr2),
        14 => (sig::SIGSEGV, SEGV_MAPERR, cr2),
        _ => (sig::SIGSEGV, SI_KERNEL, 0),
    };
    let slot = s as usize - 1;
    if ctx.st.blocked & bit(s) != 0 || ctx.st.actions[slot].handler == SIG_IGN {
        ctx.st.actions[slot] = SigAction::default();
        ctx.st.blocked &= !bit(s);
    }
    ctx.st.sig.pending.insert(
        0,
        Info {
            sig: s,
            code: c,
            pid: 0,
            value: 0,
            fault: Some([addr, vector, error, cr2]),
        },
    );
}

/// A forked child starts with no pending signals and no alarm (its
/// actions, mask and alternate stack are its parent's).
pub fn forked(st: &mut crate::State) {
    st.sig.pending.clear();
    st.sig.alarm_at = 0;
    st.sig.alarm_interval = 0;
    st.sig.wake_at = 0;
}

/// What survives exec besides the mask and ignored actions
/// (`calls::execve`'s `SIGNALS` record): the alarm and the pending
/// signals (the kernel's queue survives by itself).
pub fn exec_record(s: &Signals) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&s.alarm_at.to_le_bytes());
    b.extend_from_slice(&s.alarm_interval.to_le_bytes());
    for i in s.pending.iter().filter(|i| i.fault.is_none()) {
        let who = u64::from(i.pid) | (u64::from(i.code as u32) << 32);
        for w in [u64::from(i.sig), who, i.value] {
            b.extend_from_slice(&w.to_le_bytes());
        }
    }
    b
}

/// Takes over an [`exec_record`] (checked: 16 + 24 n bytes).
pub fn inherit_record(st: &mut crate::State, p: &[u8]) {
    let w = |i: usize| u64::from_le_bytes(p[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    st.sig.alarm_at = w(0);
    st.sig.alarm_interval = w(1);
    for n in 0..(p.len() - 16) / 24 {
        let at = 2 + 3 * n;
        push(
            st,
            Info {
                sig: w(at) as u32,
                pid: w(at + 1) as u32,
                code: (w(at + 1) >> 32) as i32,
                value: w(at + 2),
                fault: None,
            },
        );
    }
}

/// Whether the library mapped `addr` for the program.
fn mapped(ctx: &Ctx<'_>, addr: u64) -> bool {
    ctx.st
        .mem
        .areas()
        .iter()
        .any(|a| a.start <= addr && addr < a.end)
}

/// Sends `sig` as `kill`/`tkill`/`sigqueue` do (`code`, `value`), after
/// checking the number.
pub fn send(ctx: &mut Ctx<'_>, pid: i64, s: u64, code: i32, value: u64) -> SysResult {
    if s > 64 {
        return Err(Errno::EINVAL);
    }
    ctx.native.signal_send(pid, s as u32, code, value)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::t::*;
    use linux_raw_sys::general as g;

    const RESTORER: u64 = crate::mock::TEXT + 0x100;
    const HANDLER: u64 = crate::mock::TEXT + 0x200;

    fn handler(l: &mut crate::Syslib<crate::mock::MockNative>, s: u32, flags: u64, mask: u64) {
        l.state.actions[s as usize - 1] = SigAction {
            handler: HANDLER,
            flags: flags | 0x0400_0000,
            restorer: RESTORER,
            mask,
        };
    }

    /// A program frame at a `syscall` of number `nr` with its stack
    /// below the top of the mock's stack.
    fn program_frame(nr: u64) -> [u64; fw::WORDS] {
        let mut f = [0u64; fw::WORDS];
        for (i, w) in f.iter_mut().enumerate() {
            *w = 0x1000 + i as u64;
        }
        f[fw::RAX] = nr;
        f[RIP] = crate::mock::TEXT + 0x42;
        f[RCX] = f[RIP];
        f[RFLAGS] = 0x246;
        f[R11] = 0x246;
        f[RSP] = crate::mem::STACK_TOP - 0x1000;
        f
    }

    #[test]
    fn the_frame_has_linux_layout() {
        assert_eq!(FRAME_BYTES, 440);
        assert_eq!(
            core::mem::size_of::<linux_raw_sys::general::siginfo>() as u64,
            INFO_BYTES
        );
        assert_eq!(SIGCONTEXT.len() * 8 + 8 * 14, 256, "sigcontext");
    }

    #[test]
    fn kill_self_runs_the_handler_and_sigreturn_restores() {
        let mut l = lib();
        handler(&mut l, g::SIGUSR1, 0, bit(g::SIGUSR2));
        let pid = l.state.pid;
        let mut f = program_frame(g::__NR_kill.into());
        f[fw::RDI] = pid.into();
        f[fw::RSI] = g::SIGUSR1.into();
        let orig = f;
        assert_eq!(l.handle_frame(&mut f), None);
        // In the handler: (sig, &info, &uc), on the stack below the red zone.
        assert_eq!(f[RIP], HANDLER);
        assert_eq!(f[fw::RDI], g::SIGUSR1.into());
        let at = f[RSP];
        assert_eq!((at + 8) % 16, 0, "aligned as after a call");
        assert!(at + FRAME_BYTES + FPU_BYTES <= orig[RSP] - 128);
        assert_eq!(f[fw::RDX], at + 8);
        assert_eq!(f[fw::RSI], at + 8 + UC_BYTES);
        let word = |l: &crate::Syslib<crate::mock::MockNative>, a: u64| {
            u64::from_le_bytes(l.native.peek(a, 8).try_into().unwrap())
        };
        assert_eq!(word(&l, at), RESTORER, "returns to sa_restorer");
        let info = l.native.peek(f[fw::RSI], 24);
        assert_eq!(i32::from_le_bytes(info[..4].try_into().unwrap()), 10);
        assert_eq!(
            i32::from_le_bytes(info[8..12].try_into().unwrap()),
            0,
            "SI_USER"
        );
        assert_eq!(u32::from_le_bytes(info[16..20].try_into().unwrap()), pid);
        // The saved rip (sigcontext word 16) is after the syscall, rax 0.
        let mc = at + 8 + MCONTEXT_AT;
        assert_eq!(word(&l, mc + 16 * 8), orig[RIP]);
        assert_eq!(word(&l, mc + 13 * 8), 0, "kill's result");
        assert_eq!(
            word(&l, mc + 184),
            (at + FRAME_BYTES + 8 + 63) & !63,
            "fpstate"
        );
        assert_eq!(
            l.state.blocked,
            bit(g::SIGUSR1) | bit(g::SIGUSR2),
            "the signal and sa_mask"
        );
        // The handler returns: `ret` pops the restorer, which calls
        // rt_sigreturn with rsp = the ucontext.
        let mut r = f;
        r[RSP] = at + 8;
        r[fw::RAX] = g::__NR_rt_sigreturn.into();
        r[RIP] = RESTORER + 7;
        r[13] = 0xdead; // rbx, // clobbered by the handler
        assert_eq!(l.handle_frame(&mut r), None);
        let mut want = orig;
        want[fw::RAX] = 0;
        assert_eq!(r, want, "every register back");
        assert_eq!(l.state.blocked, 0, "the old mask");
        assert_eq!(
            l.native.fpu_saves,
            std::vec![(at + FRAME_BYTES + 8 + 63) & !63]
        );
        assert_eq!(l.native.fpu_restores, l.native.fpu_saves);
    }

    #[test]
    fn blocked_signals_wait_then_come_lowest_first() {
        let mut l = lib();
        for s in [g::SIGUSR1, g::SIGUSR2, 34, 35] {
            handler(&mut l, s, 0, 0);
        }
        l.state.blocked = !UNBLOCKABLE;
        let pid = l.state.pid as u64;
        for s in [35u64, 12, 34, 35, 10, 10] {
            let mut f = program_frame(g::__NR_kill.into());
            f[fw::RDI] = pid;
            f[fw::RSI] = s;
            l.handle_frame(&mut f);
            assert_ne!(f[RIP], HANDLER, "blocked: not delivered");
        }
        let sigs: std::vec::Vec<u32> = l.state.sig.pending.iter().map(|i| i.sig).collect();
        assert_eq!(
            sigs,
            [35, 12, 34, 35, 10],
            "standard ones merged, real-time queued"
        );
        // Unblock everything: the first frame set up is the lowest.
        l.state.blocked = 0;
        let mut f = program_frame(g::__NR_getpid.into());
        l.handle_frame(&mut f);
        assert_eq!(
            l.state.sig.pending.len(),
            1,
            "35 again waits: 35 is blocked in its handler"
        );
        assert_eq!(f[fw::RDI], 35, "the last frame stacked runs first");
    }

    #[test]
    fn default_actions_and_ignore() {
        let mut l = lib();
        let pid = l.state.pid as u64;
        let mut f = program_frame(g::__NR_kill.into());
        f[fw::RDI] = pid;
        f[fw::RSI] = g::SIGCHLD.into();
        assert_eq!(
            l.handle_frame(&mut f),
            None,
            "SIGCHLD is ignored by default"
        );
        l.state.actions[g::SIGTERM as usize - 1].handler = SIG_IGN;
        f[fw::RSI] = g::SIGTERM.into();
        f[fw::RAX] = g::__NR_kill.into();
        assert_eq!(l.handle_frame(&mut f), None, "SIG_IGN");
        f[fw::RSI] = g::SIGUSR1.into();
        f[fw::RAX] = g::__NR_kill.into();
        assert_eq!(l.handle_frame(&mut f), Some(128 + 10), "terminates");
    }

    #[test]
    fn faults_are_forced_and_carry_the_address() {
        let mut l = lib();
        handler(&mut l, g::SIGSEGV, SA_SIGINFO, 0);
        let mut f = program_frame(0);
        assert_eq!(l.trap(&mut f, 14, 4 | 2, 0x1000), None);
        assert_eq!(f[RIP], HANDLER);
        let info = l.native.peek(f[fw::RSI], 24);
        assert_eq!(
            i32::from_le_bytes(info[8..12].try_into().unwrap()),
            code::SEGV_MAPERR
        );
        assert_eq!(u64::from_le_bytes(info[16..24].try_into().unwrap()), 0x1000);
        // Blocked now (in the handler): a second fault kills.
        let mut f2 = program_frame(0);
        assert_eq!(l.trap(&mut f2, 14, 4 | 1, 0x2000), Some(128 + 11));
        // #DE without a handler: SIGFPE kills.
        let mut l = lib();
        let mut f = program_frame(0);
        assert_eq!(l.trap(&mut f, 0, 0, 0), Some(128 + 8));
    }

    #[test]
    fn interrupted_calls_restart_or_fail_with_eintr() {
        let mut f = program_frame(61);
        let rip = f[RIP];
        f[fw::RAX] = ERESTARTSYS.to_return();
        let mut g2 = f;
        settle_call(&mut f, 61, Some(SA_RESTART));
        assert_eq!((f[RIP], f[fw::RAX]), (rip - 2, 61), "restarted");
        settle_call(&mut g2, 61, Some(0));
        assert_eq!(g2[fw::RAX], Errno(4).to_return(), "EINTR");
        let mut h = program_frame(34);
        h[fw::RAX] = ERESTARTNOHAND.to_return();
        settle_call(&mut h, 34, Some(SA_RESTART));
        assert_eq!(
            h[fw::RAX],
            Errno(4).to_return(),
            "pause: EINTR after a handler"
        );
    }

    #[test]
    fn pending_signals_and_the_alarm_survive_exec() {
        let mut l = lib();
        l.state.blocked = bit(g::SIGUSR1);
        push(
            &mut l.state,
            Info {
                sig: g::SIGUSR1,
                code: code::SI_QUEUE,
                pid: 9,
                value: 42,
                fault: None,
            },
        );
        l.state.sig.alarm_at = 12345;
        let mut blob = [0u8; 4096];
        let n = l.state.exec_blob(&mut blob);
        let mut fresh = lib();
        fresh.state.inherit(&blob[..n]).unwrap();
        assert_eq!(fresh.state.sig.pending, l.state.sig.pending);
        assert_eq!(fresh.state.sig.alarm_at, 12345);
        assert_eq!(fresh.state.blocked, bit(g::SIGUSR1));
    }

    #[test]
    fn altstack_and_resethand_and_nodefer() {
        let mut l = lib();
        let alt = scratch(&mut l, 4);
        handler(
            &mut l,
            g::SIGWINCH,
            SA_ONSTACK | SA_RESETHAND | SA_NODEFER,
            0,
        );
        l.state.sig.altstack = AltStack {
            sp: alt,
            size: 4 * 4096,
            flags: 0,
        };
        let mut f = program_frame(g::__NR_kill.into());
        f[fw::RDI] = l.state.pid.into();
        f[fw::RSI] = g::SIGWINCH.into();
        l.handle_frame(&mut f);
        assert_eq!(f[RIP], HANDLER);
        assert!(
            f[RSP] > alt && f[RSP] < alt + 4 * 4096,
            "on the alternate stack"
        );
        assert_eq!(l.state.blocked, 0, "SA_NODEFER");
        assert_eq!(l.state.actions[g::SIGWINCH as usize - 1].handler, SIG_DFL);
    }
}

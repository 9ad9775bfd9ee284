//! Shared memory between processes (`map_shared`, `share`,
//! `map_handle`) and futexes (`futex_wait`, `futex_wake`): the cases the
//! kernel's `mm::shared_tests` and `syscall::futex` tests run.

use crate::k42::{self, syscall2, syscall3, syscall6};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

pub const PROCESS_ID: u64 = k42::NATIVE | 19;
pub const FORK_PROCESS: u64 = k42::NATIVE | 20;
pub const WAIT_CHILD: u64 = k42::NATIVE | 21;
pub const MAP_SHARED: u64 = k42::NATIVE | 23;
pub const SHARE: u64 = k42::NATIVE | 24;
pub const MAP_HANDLE: u64 = k42::NATIVE | 25;

const EPERM: i64 = -1;
const EBADF: i64 = -9;
const EINVAL: i64 = -22;

/// Where the client's shared buffer lives, and the server maps it.
const CLIENT_BUF: u64 = 0x5100_0000;
const SERVER_BUF: u64 = 0x6100_0000;
/// The buffer: 64 KiB.
pub const BUF_LEN: u64 = 64 * 1024;

struct Out {
    buf: [u8; 256],
    len: usize,
}

impl core::fmt::Write for Out {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            if self.len < self.buf.len() {
                self.buf[self.len] = b;
                self.len += 1;
            }
        }
        Ok(())
    }
}

/// Prints a formatted line through the console call.
pub fn say(args: core::fmt::Arguments<'_>) {
    let mut o = Out {
        buf: [0; 256],
        len: 0,
    };
    let _ = core::fmt::Write::write_fmt(&mut o, args);
    k42::write(&o.buf[..o.len]);
}

fn rdtsc() -> u64 {
    // SAFETY: RDTSC is allowed in user mode (CR4.TSD clear).
    unsafe { core::arch::x86_64::_rdtsc() }
}

fn word(addr: u64, i: usize) -> &'static AtomicU64 {
    // SAFETY: callers pass mapped, 8-aligned shared or private memory that
    // stays mapped for the rest of the program.
    unsafe { &*(addr as *const AtomicU64).add(i) }
}

/// Waits (yielding) until `f()` holds, at most about a million tries.
fn until(f: impl Fn() -> bool) -> bool {
    for _ in 0..1_000_000 {
        if f() {
            return true;
        }
        syscall2(k42::YIELD, 0, 0);
    }
    f()
}

/// Waits for child `pid` to end: its status.
pub fn wait_child(pid: u64) -> u64 {
    loop {
        match syscall2(WAIT_CHILD, pid, 0) {
            -11 => {
                syscall2(k42::BLOCK, 0, 0);
            }
            r if r < 0 => return 255,
            r => return (r as u64) >> 32,
        }
    }
}

/// `shm-fork`: a shared and a private page, then a fork. The child's
/// store to the shared page reaches the parent and the parent's the
/// child; the child's store to the private page stays its own.
pub fn fork_case() -> u64 {
    const SH: u64 = 0x5000_0000;
    const PR: u64 = 0x5010_0000;
    let m = syscall3(MAP_SHARED, SH, 4096, 3).0;
    let p = syscall3(k42::MAP_ANON, PR, 4096, 3).0;
    if m != 0 || p != 0 {
        say(format_args!("shm-fork: map_shared={m} map_anon={p}\n"));
        return 1;
    }
    word(SH, 0).store(5, Ordering::SeqCst);
    let pid = syscall2(FORK_PROCESS, 0, 0);
    if pid < 0 {
        say(format_args!("shm-fork: fork={pid}\n"));
        return 1;
    }
    if pid == 0 {
        word(SH, 1).store(11, Ordering::SeqCst);
        word(PR, 0).store(22, Ordering::SeqCst);
        let seen = until(|| word(SH, 2).load(Ordering::SeqCst) == 33);
        let before = word(SH, 0).load(Ordering::SeqCst);
        k42::exit(u64::from(
            !(seen && before == 5 && word(PR, 0).load(Ordering::SeqCst) == 22),
        ));
    }
    let seen = until(|| word(SH, 1).load(Ordering::SeqCst) == 11);
    let private = word(PR, 0).load(Ordering::SeqCst);
    word(SH, 2).store(33, Ordering::SeqCst);
    let status = wait_child(pid as u64);
    say(format_args!(
        "shm-fork: child={pid} saw_child_store={seen} private={private} child_status={status}\n"
    ));
    u64::from(!(seen && private == 0 && status == 0))
}

/// The server side of `Echo::sum_shared`: maps the handle (once per
/// handle) at [`SERVER_BUF`] and sums its bytes; `1 << 63 | -errno` on an
/// error.
pub fn sum_shared(handle: u64) -> u64 {
    static MAPPED: AtomicU64 = AtomicU64::new(0);
    static LEN: AtomicU64 = AtomicU64::new(0);
    if MAPPED.load(Ordering::Relaxed) != handle {
        let old = LEN.swap(0, Ordering::Relaxed);
        if old != 0 {
            syscall3(k42::UNMAP, SERVER_BUF, old, 0);
        }
        let r = syscall3(MAP_HANDLE, handle, SERVER_BUF, 0).0;
        if r < 0 {
            MAPPED.store(0, Ordering::Relaxed);
            return (1 << 63) | r.unsigned_abs();
        }
        MAPPED.store(handle, Ordering::Relaxed);
        LEN.store(r as u64, Ordering::Relaxed);
    }
    let len = LEN.load(Ordering::Relaxed) as usize;
    // SAFETY: `len` bytes are mapped (read-only) at SERVER_BUF.
    let data = unsafe { core::slice::from_raw_parts(SERVER_BUF as *const u8, len) };
    data.iter().map(|b| u64::from(*b)).sum()
}

/// Fills the client buffer (byte i is `i % 7`); returns the sum.
fn fill(buf: u64) -> u64 {
    // SAFETY: BUF_LEN bytes mapped read-write at `buf`.
    let b = unsafe { core::slice::from_raw_parts_mut(buf as *mut u8, BUF_LEN as usize) };
    let mut sum = 0u64;
    for (i, x) in b.iter_mut().enumerate() {
        *x = (i % 7) as u8;
        sum += (i % 7) as u64;
    }
    sum
}

/// `shm-client H` / `shm-bench H`: shares a 64 KiB buffer with the
/// server of `Echo` handle H and has it summed; checks the errors; the
/// bench times a 64 KiB PPC through the shared buffer against the same
/// data through the 4 KiB PPC page.
pub fn client(case: &str, handle: &str) -> u64 {
    use crate::ppc::{EchoClient, KernelTransport};
    use ppc_idl::{ObjectHandle, ProcessId};
    let raw = u64::from_str_radix(handle.trim_start_matches("0x"), 16).unwrap_or(0);
    let server = raw >> 32;
    let h = ObjectHandle::new(
        ProcessId(server as u32),
        ((raw >> 16) & 0xffff) as u32,
        (raw & 0xffff) as u32,
    );
    let t = KernelTransport;
    let echo = EchoClient::new(&t, h);
    let m = syscall3(MAP_SHARED, CLIENT_BUF, BUF_LEN, 3).0;
    let want = fill(CLIENT_BUF);
    let sh = syscall6(SHARE, [CLIENT_BUF, BUF_LEN, server, 1, 0, 0]);
    if m != 0 || sh <= 0 {
        say(format_args!("{case}: map_shared={m} share={sh}\n"));
        return 1;
    }
    let sh = sh as u64;
    if case == "shm-bench" {
        return bench(&echo, sh, want);
    }
    let sum = echo.sum_shared(sh);
    // A store after the call is seen by the next one: no copy anywhere.
    // SAFETY: mapped read-write above.
    unsafe { core::ptr::write_volatile((CLIENT_BUF + BUF_LEN - 1) as *mut u8, 100) };
    let again = echo.sum_shared(sh);
    let want2 = want - ((BUF_LEN - 1) % 7) + 100;
    // The errors: private memory and odd ranges cannot be shared, an
    // unknown handle is EBADF, a process without the grant (this one)
    // cannot map it.
    let private = syscall3(k42::MAP_ANON, 0x5300_0000, 4096, 3).0;
    let e_private = syscall6(SHARE, [0x5300_0000, 4096, server, 1, 0, 0]);
    let e_odd = syscall6(SHARE, [CLIENT_BUF + 1, 4096, server, 1, 0, 0]);
    let e_past = syscall6(SHARE, [CLIENT_BUF, BUF_LEN + 4096, server, 1, 0, 0]);
    let e_handle = syscall3(MAP_HANDLE, sh ^ 0x8000, 0x5400_0000, 0).0;
    let e_grant = syscall3(MAP_HANDLE, sh, 0x5400_0000, 0).0;
    let me = syscall2(PROCESS_ID, 0, 0) as u64;
    // Shared with itself, mapped twice; the second overlaps.
    let own = syscall6(SHARE, [CLIENT_BUF, 4096, me, 3, 0, 0]);
    let alias = syscall3(MAP_HANDLE, own as u64, 0x5400_0000, 0).0;
    let e_overlap = syscall3(MAP_HANDLE, own as u64, 0x5400_0000, 0).0;
    let e_unaligned = syscall3(MAP_HANDLE, own as u64, 0x5500_0001, 0).0;
    let e_kernel = syscall3(MAP_HANDLE, own as u64, 0xffff_8000_0000_0000, 0).0;
    // SAFETY: mapped at 0x5400_0000 by map_handle (when `alias` is 4096).
    let aliased =
        alias == 4096 && unsafe { core::ptr::read_volatile(0x5400_0001 as *const u8) } == 1;
    say(format_args!(
        "{case}: sum={sum:?} want={want} again={again:?} want2={want2} private={private} e_private={e_private} e_odd={e_odd} e_past={e_past} e_handle={e_handle} e_grant={e_grant} alias={alias} aliased={aliased} e_overlap={e_overlap} e_unaligned={e_unaligned} e_kernel={e_kernel}\n"
    ));
    let ok = sum == Ok(want)
        && again == Ok(want2)
        && private == 0
        && e_private == EINVAL
        && e_odd == EINVAL
        && e_past == EINVAL
        && e_handle == EBADF
        && e_grant == EPERM
        && aliased
        && e_overlap == EINVAL
        && e_unaligned == EINVAL
        && e_kernel == EFAULT;
    u64::from(!ok)
}

fn bench(echo: &crate::ppc::EchoClient<'_>, sh: u64, want: u64) -> u64 {
    const N: u64 = 200;
    // SAFETY: BUF_LEN bytes mapped read-write.
    let data = unsafe { core::slice::from_raw_parts(CLIENT_BUF as *const u8, BUF_LEN as usize) };
    if echo.sum_shared(sh) != Ok(want) {
        return 1;
    }
    let t0 = rdtsc();
    for _ in 0..N {
        if echo.sum_shared(sh) != Ok(want) {
            return 1;
        }
    }
    let shared = (rdtsc() - t0) / N;
    // The same 64 KiB through the PPC page, 4064 bytes a call (what
    // fits beside the message header).
    let t0 = rdtsc();
    for _ in 0..N {
        let mut sum = 0;
        for chunk in data.chunks(4064) {
            match echo.sum(chunk) {
                Ok(s) => sum += s,
                Err(_) => return 1,
            }
        }
        if sum != want {
            return 1;
        }
    }
    let paged = (rdtsc() - t0) / N;
    let t0 = rdtsc();
    for _ in 0..N {
        if echo.null().is_err() {
            return 1;
        }
    }
    let null = (rdtsc() - t0) / N;
    say(format_args!(
        "kbench: ppc 64 KiB cycles shared_buffer={shared} ppc_page_x17={paged} null_ppc={null} page/shared={}.{:02}x\n",
        paged / shared.max(1),
        paged * 100 / shared.max(1) % 100
    ));
    0
}

pub const FUTEX_WAIT: u64 = k42::NATIVE | 26;
pub const FUTEX_WAKE: u64 = k42::NATIVE | 27;

const EINTR: i64 = -4;
const EAGAIN: i64 = -11;
const EFAULT: i64 = -14;
const ETIMEDOUT: i64 = -110;

fn futex_wait(addr: u64, expected: u64, timeout_ns: u64) -> i64 {
    syscall3(FUTEX_WAIT, addr, expected, timeout_ns).0
}

fn futex_wake(addr: u64, n: u64) -> i64 {
    syscall2(FUTEX_WAKE, addr, n)
}

fn word32(addr: u64) -> &'static AtomicU32 {
    // SAFETY: callers pass mapped, 4-aligned memory that stays mapped.
    unsafe { &*(addr as *const AtomicU32) }
}

/// Sleeps on the word at `addr` until it holds `want`; the number of
/// sleeps that a wake-up ended, or the unexpected error.
fn wait_for(addr: u64, want: u32) -> Result<u64, i64> {
    let mut slept = 0;
    loop {
        let v = word32(addr).load(Ordering::SeqCst);
        if v == want {
            return Ok(slept);
        }
        match futex_wait(addr, u64::from(v), 0) {
            0 => slept += 1,
            EAGAIN | EINTR => {}
            e => return Err(e),
        }
    }
}

/// `futex-pingpong N` / `futex-bench N`: a parent and its forked child
/// pass a turn back and forth N times through a word of shared memory,
/// each sleeping in `futex_wait` until the other's `futex_wake`.
/// `futex-alias N`: the same, the child reaching the word at another
/// address (a mapping of a handle the parent shared with it).
pub fn pingpong(case: &str, arg: &str) -> u64 {
    const SH: u64 = 0x5500_0000;
    let n: u32 = arg.parse().unwrap_or(1000);
    if syscall3(MAP_SHARED, SH, 4096, 3).0 != 0 {
        return 1;
    }
    let mut turn = SH;
    let pid = syscall2(FORK_PROCESS, 0, 0);
    if pid < 0 {
        return 1;
    }
    let me_first = pid != 0;
    if case == "futex-alias" {
        // The child uses the page at another address, mapped from a
        // handle the parent shares with it: the futex key is the frame.
        const ALIAS: u64 = 0x5580_0000;
        let handle = word(SH, 64);
        if me_first {
            let h = syscall6(SHARE, [SH, 4096, pid as u64, 3, 0, 0]);
            handle.store(h as u64, Ordering::SeqCst);
        } else {
            if !until(|| handle.load(Ordering::SeqCst) != 0) {
                k42::exit(3);
            }
            let len = syscall3(MAP_HANDLE, handle.load(Ordering::SeqCst), ALIAS, 0).0;
            if len != 4096 {
                say(format_args!("{case}: map_handle={len}\n"));
                k42::exit(4);
            }
            turn = ALIAS;
        }
    }
    let t0 = rdtsc();
    let mut slept = 0;
    for i in 0..n {
        let (mine, next) = if me_first {
            (2 * i, 2 * i + 1)
        } else {
            (2 * i + 1, 2 * i + 2)
        };
        match wait_for(turn, mine) {
            Ok(s) => slept += s,
            Err(e) => {
                say(format_args!("{case}: wait error {e}\n"));
                return 1;
            }
        }
        word32(turn).store(next, Ordering::SeqCst);
        futex_wake(turn, 1);
    }
    let cycles = rdtsc() - t0;
    if !me_first {
        k42::exit(u64::from(slept == 0 && n > 10));
    }
    let status = wait_child(pid as u64);
    let end = word32(turn).load(Ordering::SeqCst);
    say(format_args!(
        "{case}: rounds={n} end={end} parent_sleeps={slept} child_status={status}\n"
    ));
    if case == "futex-bench" {
        say(format_args!(
            "kbench: futex ping-pong between two processes cycles/round_trip={} (two wakes, two sleeps; sleeps that blocked: {slept} of {n})\n",
            cycles / u64::from(n.max(1))
        ));
    }
    u64::from(!(end == 2 * n && status == 0))
}

/// `futex-errors`: a wrong expected value is EAGAIN at once, a timeout
/// expires, a soft interrupt (the dispatcher's timer) ends a wait with
/// EINTR, bad addresses and values are refused, a wake without waiters
/// wakes nobody.
pub fn errors() -> u64 {
    const PR: u64 = 0x5600_0000;
    if syscall3(k42::MAP_ANON, PR, 4096, 3).0 != 0 {
        return 1;
    }
    word32(PR).store(7, Ordering::SeqCst);
    let clock = || syscall2(k42::CLOCK, 0, 0) as u64;
    let t0 = clock();
    let wrong = futex_wait(PR, 8, 0);
    let quick = clock() - t0;
    let t0 = clock();
    let timeout = futex_wait(PR, 7, 20_000_000);
    let waited = clock() - t0;
    // The dispatcher timer 20 ms ahead, then a wait without timeout.
    syscall2(k42::TIMER, 1, 20_000_000);
    let interrupted = futex_wait(PR, 7, 0);
    let misaligned = futex_wait(PR + 2, 7, 0);
    let unmapped = futex_wait(0x5700_0000, 0, 0);
    let kernel = futex_wait(0xffff_8000_0000_0000, 0, 0);
    let big = futex_wait(PR, 1 << 32 | 7, 0);
    let nobody = futex_wake(PR, 10);
    say(format_args!(
        "futex-errors: wrong={wrong} quick_us={} timeout={timeout} waited_ms={} interrupted={interrupted} misaligned={misaligned} unmapped={unmapped} kernel={kernel} big={big} nobody={nobody}\n",
        quick / 1000,
        waited / 1_000_000
    ));
    u64::from(
        !(wrong == EAGAIN
            && quick < 10_000_000
            && timeout == ETIMEDOUT
            && (20_000_000..1_000_000_000).contains(&waited)
            && interrupted == EINTR
            && misaligned == EINVAL
            && unmapped == EFAULT
            && kernel == EFAULT
            && big == EINVAL
            && nobody == 0),
    )
}

/// `futex-block`: waits on a private word for ever (to be killed).
pub fn block() -> u64 {
    const PR: u64 = 0x5600_0000;
    if syscall3(k42::MAP_ANON, PR, 4096, 3).0 != 0 {
        return 1;
    }
    loop {
        let r = futex_wait(PR, 0, 0);
        say(format_args!("futex-block: woke with {r}\n"));
    }
}

//! # native-tests: the first K42-rs user program
//!
//! A `no_std` static executable for `x86_64-unknown-none`, built by
//! `cargo xtask` into the kernel's initramfs as `/bin/native-tests` and run
//! by the in-kernel tests of `kernel::process`. `argv[1]` names the case;
//! each prints what it saw through the kernel's console call and exits
//! with a status the test checks:
//!
//! | case | does | expects |
//! |------|------|---------|
//! | `hello` | prints its argument count and `argv[1]` | status 0 |
//! | `exit N` | exits with N | status N |
//! | `efault` | console call with a bad pointer, then with a kernel address | `-EFAULT` twice, status 0 |
//! | `enosys` | an unknown call number | `-ENOSYS`, status 0 |
//! | `memory` | touches a 1 MiB `.bss` array and a deep stack (page faults) | sums match, status 0 |
//! | `sse` | floating point and SSE registers across system calls | status 0 |
//! | `fsbase` | sets the FS and GS bases, reads through `fs:` and `gs:` | status 0 |
//! | `spin` | loops forever (for the scheduler's fairness tests) | never ends |
//! | `work N` | N million loop iterations, then exits | status 0 |
//! | `yield N` | yields N times, checking its registers survive | status 0 |
//! | `ppc-server C` | exports an `Echo` object, grants process C right 0b1, serves PPCs | blocks between calls |
//! | `ppc-client S H` | calls `Echo` on handle H of process S: methods, rights, bad handles | status 0 |
//! | `ppc-bench S H` | PPC round trips: null, 64 B, 4 KiB arguments | prints cycles per call |
//! | `reflect` | plays a system library: registers a system-call entry, makes Linux calls, checks they come back changed and with registers intact | status 0 |
//! | `memcalls` | map_anon / protect / unmap on its own memory, and their errors | status 0 |
//! | `sleep C` | on processor C: sets its timer 30 ms ahead, blocks until the timer bit | status 0 |
//! | `fuzz SEED` | random system-call numbers (native, debug, Linux, anything) with random arguments, forever | killed or ends; the kernel survives |
//! | `upcall C` | on processor C: an interrupt entry point; spins until a message arrives as an upcall | status 0 |
//! | `async-echo C` | on processor C: answers each message (reply handle, processor, token) with a message carrying the token | blocks between messages |
//! | `threads H,C` | user-level threads (`uthread` over the native calls): one waits for an async request to the echo server H while another keeps running and sleeping | status 0 |
//! | `trap` | a trap entry point: a bad load and a `ud2` are handled and skipped, the program goes on | status 0 |
//! | `thread-bench` | user-level thread create + run + exit, and yield between two threads | prints cycles |
//! | `run-entry` | a run entry point: spins until it has been preempted and restarted there three times | status 0 |
//! | `shm-fork` | a shared and a private page, then a fork: stores to the shared one cross, to the private one not | status 0 |
//! | `shm-client H` | shares 64 KiB with the `Echo` server of handle H, which sums it; share/map errors | status 0 |
//! | `shm-bench H` | a 64 KiB PPC through a shared buffer vs through the PPC page | prints cycles |
//! | `futex-pingpong N` | a parent and its forked child pass a turn N times through a shared word with `futex_wait`/`futex_wake` | status 0 |
//! | `futex-bench N` | the same, timed | prints cycles per round trip |
//! | `futex-alias N` | the same, the child using another mapping of the page (from a `share` handle) | status 0 |
//! | `futex-errors` | EAGAIN, a timeout, EINTR by the timer, bad addresses and values | status 0 |
//! | `futex-block` | waits on a futex for ever | killed |
//! | `pfault VA,W,C` | on processor C: thread A loads from a file page the kernel test maps at VA and reads slowly; the page-fault upcall parks A while thread B runs; the completion resumes A (`pfault.rs`) | status 0 if A saw W |
//! | `pfault-plain VA,W,C` | the same load without a page-fault entry: the dispatcher waits in the kernel | status 0 if it saw W |
//! | `ipcret-server` | serves PPCs that block 30 ms on its timer before answering (or ending: method 2) (`ipcret.rs`) | blocks between calls |
//! | `ipcret-client H,MODE,C` | on processor C: thread A calls H while thread B counts; MODE `ok` (released call, IPC-return entry), `plain` (no entry: the dispatcher waits), `die`, `leave` (`ipcret.rs`) | status 0 |
//! | `machine` | the kernel's `machine` record: prints it; a short buffer, a bad pointer and a kernel address (`machine.rs`) | status 0 |
//! | `segv` | stores to address 8 | killed: 128 + 11 |
//! | `int80` | `int 0x80` | killed: 128 + 11 |
//! | `ud` | `ud2` | killed: 128 + 4 |
//!
//! Built for the host (as every workspace member is, for `cargo test`), it
//! is only a `main` that says where it runs.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod k42 {
    //! The native calls this program uses (see `kernel::syscall`).
    use core::arch::asm;

    /// Native calls: `NATIVE | nr`, nr as in the `sched` crate's table.
    pub const NATIVE: u64 = 0x4b42_0000;
    /// Kernel debugging calls (the console before there is a console
    /// server).
    pub const DEBUG: u64 = 0x4b42_1000;
    pub const EXIT: u64 = NATIVE | 10;
    pub const YIELD: u64 = NATIVE | 1;
    pub const CONSOLE_WRITE: u64 = DEBUG;
    pub const SET_FS_BASE: u64 = DEBUG | 1;
    pub const SET_GS_BASE: u64 = DEBUG | 2;
    pub const SET_ENTRY_POINT: u64 = NATIVE;
    pub const BLOCK: u64 = NATIVE | 2;
    pub const IPC_CALL: u64 = NATIVE | 4;
    pub const IPC_RETURN: u64 = NATIVE | 5;
    pub const EXPORT: u64 = NATIVE | 12;
    pub const GRANT: u64 = NATIVE | 13;
    pub const ASYNC_SEND: u64 = NATIVE | 6;
    pub const SOFT_INTERRUPT: u64 = NATIVE | 8;
    pub const CREATE_DISPATCHER: u64 = NATIVE | 9;
    pub const RESUME: u64 = NATIVE | 14;
    pub const TIMER: u64 = NATIVE | 7;
    pub const CLOCK: u64 = NATIVE | 18;
    pub const MAP_ANON: u64 = NATIVE | 15;
    pub const UNMAP: u64 = NATIVE | 16;
    pub const PROTECT: u64 = NATIVE | 17;
    /// Dispatcher pages: page k for the dispatcher on processor k.
    pub const DISPATCHER_VA: u64 = 0x7d00_0000_0000;
    pub const RING: u64 = 32;
    pub const MSG_WORDS: u64 = 5;

    pub fn syscall6(nr: u64, a: [u64; 6]) -> i64 {
        let r: i64;
        // SAFETY: as in `syscall2`.
        unsafe {
            asm!("syscall", inlateout("rax") nr as i64 => r, in("rdi") a[0], in("rsi") a[1],
                 in("rdx") a[2], in("r10") a[3], in("r8") a[4], in("r9") a[5],
                 lateout("rcx") _, lateout("r11") _, options(nostack))
        };
        r
    }

    /// The dispatcher page of processor `cpu`, as words.
    pub fn dispatcher_page(cpu: u64) -> *mut u64 {
        (DISPATCHER_VA + cpu * 4096) as *mut u64
    }

    /// Takes the pending soft-interrupt bits of processor `cpu`'s
    /// dispatcher.
    pub fn take_soft_bits(cpu: u64) -> u64 {
        // SAFETY: the dispatcher page is mapped read-write in every
        // process; word 0 holds the bits (the kernel only ORs into it).
        let p = unsafe { &*(dispatcher_page(cpu) as *const core::sync::atomic::AtomicU64) };
        p.swap(0, core::sync::atomic::Ordering::AcqRel)
    }

    /// The per-processor PPC register block and page.
    pub const PPC_VA: u64 = 0x7e00_0000_0000;
    pub const PPC_PAGE_VA: u64 = PPC_VA + 4096;

    pub fn syscall3(nr: u64, a: u64, b: u64, c: u64) -> (i64, u64) {
        let r: i64;
        let d: u64;
        // SAFETY: as in `syscall2`; rdx carries a second result.
        unsafe {
            asm!("syscall", inlateout("rax") nr as i64 => r, in("rdi") a, in("rsi") b,
                 inlateout("rdx") c => d, lateout("rcx") _, lateout("r11") _, options(nostack))
        };
        (r, d)
    }

    pub fn syscall2(nr: u64, a: u64, b: u64) -> i64 {
        let r: i64;
        // SAFETY: `syscall` clobbers rcx and r11 only; the kernel checks
        // every argument.
        unsafe {
            asm!("syscall", inlateout("rax") nr as i64 => r, in("rdi") a, in("rsi") b,
                 lateout("rcx") _, lateout("r11") _, options(nostack))
        };
        r
    }

    pub fn write(s: &[u8]) -> i64 {
        syscall2(CONSOLE_WRITE, s.as_ptr() as u64, s.len() as u64)
    }

    pub fn exit(status: u64) -> ! {
        syscall2(EXIT, status, 0);
        // The kernel never returns from exit.
        loop {
            core::hint::spin_loop();
        }
    }
}

#[cfg(target_os = "none")]
mod ppc {
    //! A PPC interface, its server and a `Transport` over the kernel.
    use super::k42;
    use ppc_idl::{
        CallInfo, Dispatch, Message, MethodId, ObjectHandle, PpcError, ProcessId, Rights,
        Transport, PPC_REGS,
    };

    /// What the tests call.
    #[ppc_idl::interface]
    pub trait Echo {
        /// Needs right 0b1.
        #[ppc(rights = 0b1)]
        fn add(&self, x: u64) -> u64;
        /// The round-trip floor.
        fn null(&self);
        /// Sums bytes passed in the PPC page.
        fn sum(&self, data: &[u8]) -> u64;
        /// The caller, as the kernel names it.
        fn whoami(&self, #[ppc(caller)] caller: ProcessId) -> u32;
        /// Needs right 0b10, which nobody is granted.
        #[ppc(rights = 0b10)]
        fn secret(&self) -> u64;
        /// Sums the bytes of memory the caller shared (`share`) with
        /// handle `handle`: data beyond the PPC page.
        fn sum_shared(&self, handle: u64) -> u64;
    }

    pub struct EchoImpl;

    impl Echo for EchoImpl {
        fn add(&self, x: u64) -> u64 {
            x + 1
        }
        fn null(&self) {}
        fn sum(&self, data: &[u8]) -> u64 {
            data.iter().map(|b| u64::from(*b)).sum()
        }
        fn whoami(&self, caller: ProcessId) -> u32 {
            caller.0
        }
        fn secret(&self) -> u64 {
            42
        }
        fn sum_shared(&self, handle: u64) -> u64 {
            crate::shm::sum_shared(handle)
        }
    }

    fn code(e: PpcError) -> u64 {
        match e {
            PpcError::NoRights => 1,
            PpcError::NoSuchMethod(_) => 2,
            PpcError::Overflow => 3,
            PpcError::Malformed => 4,
            PpcError::BadHandle => 5,
            PpcError::Transport => 6,
        }
    }

    fn error(code: u64) -> PpcError {
        match code {
            1 => PpcError::NoRights,
            2 => PpcError::NoSuchMethod(0),
            3 => PpcError::Overflow,
            4 => PpcError::Malformed,
            5 => PpcError::BadHandle,
            _ => PpcError::Transport,
        }
    }

    fn regs() -> *mut [u64; PPC_REGS] {
        k42::PPC_VA as *mut [u64; PPC_REGS]
    }

    fn page() -> *mut [u8; 4096] {
        k42::PPC_PAGE_VA as *mut [u8; 4096]
    }

    /// A handle as the kernel spells it.
    pub fn raw(h: ObjectHandle) -> u64 {
        (u64::from(h.server.0) << 32) | (u64::from(h.index) << 16) | u64::from(h.seq)
    }

    /// The kernel's PPC path as a `ppc-idl` transport.
    pub struct KernelTransport;

    impl Transport for KernelTransport {
        fn call(
            &self,
            handle: ObjectHandle,
            method: MethodId,
            req: &Message,
            reply: &mut Message,
        ) -> Result<(), PpcError> {
            // SAFETY: the PPC region is mapped read-write in every process,
            // one copy per processor; this program is single-threaded and
            // pinned, so nothing else uses it meanwhile.
            unsafe {
                *regs() = req.regs;
                (&mut *page())[..req.page_len].copy_from_slice(&req.page[..req.page_len]);
            }
            let (status, len) = k42::syscall3(
                k42::IPC_CALL,
                raw(handle),
                u64::from(method),
                req.page_len as u64,
            );
            match status {
                0 => {}
                -9 => return Err(PpcError::BadHandle),
                s if s < 0 => return Err(PpcError::Transport),
                s => return Err(error(s as u64)),
            }
            let len = (len as usize).min(4096);
            // SAFETY: as above; the kernel copied the server's reply here.
            unsafe {
                reply.regs = *regs();
                reply.page[..len].copy_from_slice(&(&mut *page())[..len]);
            }
            reply.page_len = len;
            Ok(())
        }

        fn send(&self, _: ObjectHandle, _: MethodId, _: &Message) -> Result<(), PpcError> {
            Err(PpcError::Transport) // async messages: not yet
        }
    }

    static SERVER: EchoServer<EchoImpl> = EchoServer(EchoImpl);
    static mut REQ: Message = Message::new();
    static mut REPLY: Message = Message::new();

    /// Where the kernel starts each call: a fresh activation on the PPC
    /// stack.
    pub extern "C" fn entry(caller: u64, method: u64, len: u64, rights: u64, _object: u64) -> ! {
        // SAFETY: one call at a time per dispatcher (the kernel refuses a
        // second while one is served), so the statics are ours.
        let (req, reply) = unsafe {
            (
                &mut *core::ptr::addr_of_mut!(REQ),
                &mut *core::ptr::addr_of_mut!(REPLY),
            )
        };
        let len = (len as usize).min(4096);
        // SAFETY: the kernel copied the request into the PPC region.
        unsafe {
            req.regs = *regs();
            req.page[..len].copy_from_slice(&(&mut *page())[..len]);
        }
        req.page_len = len;
        reply.page_len = 0;
        let call = CallInfo {
            method: method as MethodId,
            caller: ProcessId(caller as u32),
            rights: Rights(rights),
        };
        let status = match SERVER.dispatch(&call, req, reply) {
            Ok(()) => 0,
            Err(e) => code(e),
        };
        // SAFETY: as above: the reply goes back through the PPC region.
        unsafe {
            *regs() = reply.regs;
            (&mut *page())[..reply.page_len].copy_from_slice(&reply.page[..reply.page_len]);
        }
        k42::syscall3(k42::IPC_RETURN, status, reply.page_len as u64, 0);
        loop {
            core::hint::spin_loop(); // ipc_return does not come back
        }
    }
}

#[cfg(target_os = "none")]
mod shm;

#[cfg(target_os = "none")]
mod vfork;

#[cfg(target_os = "none")]
mod pfault;

#[cfg(target_os = "none")]
mod ipcret;

#[cfg(target_os = "none")]
mod machine;

#[cfg(target_os = "none")]
mod heap {
    //! A bump allocator over a static arena: enough for the thread
    //! library's tables and stacks in a test program (nothing is reused).
    use core::alloc::{GlobalAlloc, Layout};
    use core::sync::atomic::{AtomicUsize, Ordering};

    const ARENA: usize = 4 << 20;
    struct Bump;
    #[repr(align(4096))]
    struct Arena([u8; ARENA]);
    static mut MEM: Arena = Arena([0; ARENA]);
    static NEXT: AtomicUsize = AtomicUsize::new(0);

    // SAFETY: every allocation is a distinct, aligned range of the arena.
    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            // SAFETY: only the address is taken; the arena's bytes are
            // handed out once each below.
            let base = unsafe { core::ptr::addr_of_mut!(MEM.0) } as usize;
            let mut cur = NEXT.load(Ordering::Relaxed);
            loop {
                let start = (base + cur).next_multiple_of(l.align()) - base;
                let end = start + l.size();
                if end > ARENA {
                    return core::ptr::null_mut();
                }
                match NEXT.compare_exchange(cur, end, Ordering::AcqRel, Ordering::Relaxed) {
                    Ok(_) => return (base + start) as *mut u8,
                    Err(now) => cur = now,
                }
            }
        }
        unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
    }

    #[global_allocator]
    static ALLOC: Bump = Bump;
}

#[cfg(target_os = "none")]
mod threads {
    //! `threads H,C`: K42's user-level thread library on the native calls.
    extern crate alloc;
    use super::k42;
    use alloc::rc::Rc;
    use core::cell::Cell;
    use uthread::{Dispatcher, Platform, Remote, SoftInterrupts, Token, SOFT_TIMER};

    /// `uthread`'s platform: the kernel clock, the dispatcher's one kernel
    /// timer, `block` when idle, the dispatcher page's soft bits and
    /// message ring (a message's first word completes a thread's token).
    pub struct K42Platform {
        cpu: u64,
        remote: Cell<Option<*const Remote>>,
    }

    impl Platform for K42Platform {
        fn now(&self) -> u64 {
            k42::syscall2(k42::CLOCK, 0, 0) as u64
        }

        fn set_timer(&self, deadline: Option<u64>) {
            match deadline {
                Some(t) => k42::syscall2(k42::TIMER, 0, t),
                None => k42::syscall2(k42::TIMER, 2, 0),
            };
        }

        fn idle(&self, soft: &SoftInterrupts) {
            loop {
                let bits = k42::take_soft_bits(self.cpu);
                if bits & 2 != 0 {
                    soft.raise(SOFT_TIMER);
                }
                if bits & 1 != 0 {
                    if let Some(r) = self.remote.get() {
                        super::program::drain_ring(self.cpu, |m| {
                            if let Some(t) = Token::from_u64(m[1]) {
                                // SAFETY: the Remote outlives the run (set
                                // below, dropped after `run` returns).
                                let _ = unsafe { &*r }.complete(t);
                            }
                        });
                    }
                }
                if soft.is_pending() {
                    return;
                }
                k42::syscall2(k42::BLOCK, 0, 0);
            }
        }
    }

    pub fn run(args: &str) -> u64 {
        let mut it = args.split(',');
        let server = it
            .next()
            .and_then(|x| u64::from_str_radix(x, 16).ok())
            .unwrap_or(0);
        let cpu: u64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        // Replies come to an object of ours.
        let me = k42::syscall2(k42::EXPORT, 0, 0) as u64;
        k42::syscall3(k42::GRANT, me, u64::from(u32::MAX), 1);
        let d = Dispatcher::new(K42Platform {
            cpu,
            remote: Cell::new(None),
        });
        let remote = d.remote();
        let (ticks, waited, woke_at) = (
            Rc::new(Cell::new(0u64)),
            Rc::new(Cell::new(false)),
            Rc::new(Cell::new(0u64)),
        );
        let (t, w, at) = (ticks.clone(), waited.clone(), woke_at.clone());
        d.spawn(move |d| {
            // The "call": a request to the server, answered by message.
            let token = d.new_token();
            let r = k42::syscall6(k42::ASYNC_SEND, [server, cpu, me, cpu, token.as_u64(), 0]);
            if r == 0 && d.block_on_ppc(token).is_ok() {
                w.set(true);
                at.set(t.get());
            }
        })
        .unwrap();
        let (t2, slept) = (ticks.clone(), Rc::new(Cell::new(0u64)));
        let s2 = slept.clone();
        d.spawn(move |d| {
            // Keeps running while the other thread waits.
            for i in 0..20 {
                t2.set(t2.get() + 1);
                if i % 5 == 4 {
                    let t0 = d.platform().now();
                    d.sleep(2_000_000).unwrap(); // 2 ms, through the kernel timer
                    s2.set(s2.get() + (d.platform().now() - t0));
                } else {
                    d.yield_now().unwrap();
                }
            }
        })
        .unwrap();
        // Hand the platform the remote before running.
        d.platform().remote.set(Some(&remote as *const Remote));
        d.run().unwrap();
        say_line(ticks.get(), waited.get(), woke_at.get(), slept.get());
        u64::from(
            !(waited.get() && ticks.get() == 20 && woke_at.get() >= 1 && slept.get() >= 8_000_000),
        )
    }

    /// Thread create + run + exit, and yields between two threads, in
    /// cycles (RDTSC), on the kernel platform.
    pub fn bench() -> u64 {
        let rdtsc = || {
            // SAFETY: RDTSC is allowed in user mode.
            unsafe { core::arch::x86_64::_rdtsc() }
        };
        let d = Dispatcher::new(K42Platform {
            cpu: 0,
            remote: Cell::new(None),
        });
        const N: u64 = 200;
        let t0 = rdtsc();
        for _ in 0..N {
            d.spawn(|_| {}).unwrap();
            d.run().unwrap();
        }
        let create = (rdtsc() - t0) / N;
        const Y: u64 = 2000;
        for _ in 0..2 {
            d.spawn(|d| {
                for _ in 0..Y {
                    d.yield_now().unwrap();
                }
            })
            .unwrap();
        }
        let t0 = rdtsc();
        d.run().unwrap();
        let switch = (rdtsc() - t0) / (2 * Y);
        let mut buf = [0u8; 128];
        let mut o = Out {
            buf: &mut buf,
            len: 0,
        };
        let _ = core::fmt::Write::write_fmt(
            &mut o,
            format_args!(
                "kbench: uthread in QEMU cycles create+run+exit={create} yield={switch}\n"
            ),
        );
        let n = o.len;
        k42::write(&buf[..n]);
        0
    }

    fn say_line(ticks: u64, waited: bool, at: u64, slept: u64) {
        let mut buf = [0u8; 160];
        let mut o = Out {
            buf: &mut buf,
            len: 0,
        };
        let _ = core::fmt::Write::write_fmt(
            &mut o,
            format_args!("threads: other thread ran {ticks} steps, reply={waited} (arrived after {at} steps), slept {} ms\n", slept / 1_000_000),
        );
        let n = o.len;
        k42::write(&buf[..n]);
    }

    struct Out<'a> {
        buf: &'a mut [u8],
        len: usize,
    }

    impl core::fmt::Write for Out<'_> {
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
}

#[cfg(target_os = "none")]
mod program {
    use super::k42::{self, exit, write};
    use core::arch::{asm, global_asm};

    // The SysV entry: rsp points at argc, then argv[], NULL, envp[].
    global_asm!(
        ".global _start",
        "_start:",
        "mov rdi, rsp",
        "and rsp, -16",
        "call {main}",
        "ud2",
        main = sym start,
    );

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

    macro_rules! say {
        ($($t:tt)*) => {{
            let mut o = Out { buf: [0; 256], len: 0 };
            let _ = core::fmt::Write::write_fmt(&mut o, format_args!($($t)*));
            write(&o.buf[..o.len]);
        }};
    }

    /// # Safety
    /// Called once by `_start` with the initial stack pointer.
    unsafe extern "C" fn start(sp: *const u64) -> ! {
        // SAFETY: the kernel built a SysV stack: argc, then argc pointers
        // to NUL-terminated strings.
        let argc = unsafe { *sp } as usize;
        let arg = |i: usize| -> &'static [u8] {
            if i >= argc {
                return b"";
            }
            // SAFETY: as above.
            let p = unsafe { *sp.add(1 + i) } as *const u8;
            let mut n = 0;
            // SAFETY: NUL-terminated by the kernel.
            while unsafe { *p.add(n) } != 0 {
                n += 1;
            }
            // SAFETY: the n bytes just scanned.
            unsafe { core::slice::from_raw_parts(p, n) }
        };
        let case = core::str::from_utf8(arg(1)).unwrap_or("?");
        exit(run(case, argc, core::str::from_utf8(arg(2)).unwrap_or("")))
    }

    static mut BSS: [u8; 1 << 20] = [0; 1 << 20];

    #[inline(never)]
    fn deep(n: u64) -> u64 {
        let pad = core::hint::black_box([n; 64]);
        if n == 0 {
            pad[3]
        } else {
            deep(n - 1) + pad[7]
        }
    }

    fn run(case: &str, argc: usize, arg2: &str) -> u64 {
        match case {
            "hello" => {
                say!("hello from user space: argc={argc} case={case}\n");
                0
            }
            "exit" => arg2.parse().unwrap_or(255),
            "efault" => {
                let bad = k42::syscall2(k42::CONSOLE_WRITE, 0x10, 5);
                let kernel = k42::syscall2(k42::CONSOLE_WRITE, 0xffff_ffff_8000_0000, 5);
                let wrap = k42::syscall2(k42::CONSOLE_WRITE, u64::MAX - 2, 5);
                say!("efault: bad={bad} kernel={kernel} wrap={wrap}\n");
                u64::from(!(bad == -14 && kernel == -14 && wrap == -14))
            }
            "enosys" => {
                let r = k42::syscall2(0x4b42_0fff, 1, 2);
                say!("enosys: {r}\n");
                u64::from(r != -38)
            }
            "memory" => {
                // SAFETY: single-threaded program; the only access.
                let bss = unsafe { &mut *core::ptr::addr_of_mut!(BSS) };
                let mut sum = 0u64;
                for i in (0..bss.len()).step_by(4096) {
                    bss[i] = (i / 4096) as u8;
                }
                for i in (0..bss.len()).step_by(4096) {
                    sum += u64::from(bss[i]);
                }
                let d = deep(200);
                say!("memory: bss sum={sum} deep={d}\n");
                u64::from(sum != (0..256u64).sum::<u64>() || d != 20100)
            }
            "sse" => {
                let mut x = core::hint::black_box(1.5f64);
                for _ in 0..10 {
                    x = x * 2.0 + 0.25;
                    k42::syscall2(k42::YIELD, 0, 0);
                }
                let v: u64;
                // SAFETY: xmm7 is caller-saved scratch; the value must
                // survive the system call in between.
                unsafe {
                    asm!("movq xmm7, {x}", x = in(reg) 0x1234_5678_9abc_def0u64, out("xmm7") _);
                }
                k42::syscall2(k42::YIELD, 0, 0);
                // SAFETY: reads xmm7 back.
                unsafe { asm!("movq {v}, xmm7", v = out(reg) v) };
                say!("sse: x={x} xmm7={v:#x}\n");
                u64::from(x != 1791.75 || v != 0x1234_5678_9abc_def0)
            }
            "fsbase" => {
                static SLOT: [u64; 2] = [0x6b34_3221, 0x4b42_4b42];
                let r = k42::syscall2(k42::SET_FS_BASE, SLOT.as_ptr() as u64, 0);
                let v: u64;
                // SAFETY: fs now points at SLOT.
                unsafe { asm!("mov {v}, fs:[8]", v = out(reg) v) };
                static GSLOT: [u64; 2] = [0x1111, 0x6767_6767];
                let g = k42::syscall2(k42::SET_GS_BASE, GSLOT.as_ptr() as u64, 0);
                k42::syscall2(k42::YIELD, 0, 0);
                let w: u64;
                // SAFETY: gs now points at GSLOT.
                unsafe { asm!("mov {w}, gs:[8]", w = out(reg) w) };
                say!("fsbase: set={r} fs:[8]={v:#x} gs={g} gs:[8]={w:#x}\n");
                u64::from(r != 0 || v != 0x4b42_4b42 || g != 0 || w != 0x6767_6767)
            }
            "spin" => loop {
                core::hint::black_box(0u64);
            },
            "work" => {
                let n: u64 = arg2.parse().unwrap_or(1);
                let mut x = 0u64;
                for i in 0..n * 1_000_000 {
                    x = core::hint::black_box(x.wrapping_add(i));
                }
                u64::from(x != (0..n * 1_000_000).fold(0u64, |a, i| a.wrapping_add(i)))
            }
            "yield" => {
                let n: u64 = arg2.parse().unwrap_or(1);
                let mut acc = 0u64;
                for i in 0..n {
                    acc = core::hint::black_box(acc + i);
                    k42::syscall2(k42::YIELD, 0, 0);
                }
                u64::from(acc != n * n.saturating_sub(1) / 2)
            }
            "ppc-server" => {
                static mut STACK: [u8; 64 * 1024] = [0; 64 * 1024];
                let client: u64 = arg2.parse().unwrap_or(0);
                let top = (core::ptr::addr_of_mut!(STACK) as u64 + 64 * 1024) & !15;
                let entry = crate::ppc::entry as *const () as u64;
                let r = k42::syscall3(k42::SET_ENTRY_POINT, 4, entry, top).0;
                let h = k42::syscall2(k42::EXPORT, 0, 0);
                let g = k42::syscall3(k42::GRANT, h as u64, client, 0b1).0;
                say!("ppc-server: entry={r} handle={h:#x} grant={g}\n");
                loop {
                    k42::syscall2(k42::BLOCK, 0, 0);
                }
            }
            "ppc-client" | "ppc-bench" => ppc_client(case, argc, arg2),
            "async-recv" => async_recv(arg2),
            "reflect" => reflect(),
            "memcalls" => memcalls(),
            "sleep" => sleep(arg2.parse().unwrap_or(0)),
            "fuzz" => fuzz(arg2.parse().unwrap_or(1)),
            "upcall" => upcall(arg2.parse().unwrap_or(0)),
            "async-echo" => async_echo(arg2.parse().unwrap_or(0)),
            "trap" => trap(),
            "run-entry" => run_entry(),
            "threads" => crate::threads::run(arg2),
            "thread-bench" => crate::threads::bench(),
            "async-send" => async_send(arg2),
            "softirq" => softirq(arg2),
            "shm-fork" => crate::shm::fork_case(),
            "vfork" => crate::vfork::run(),
            "pfault" => crate::pfault::run(arg2),
            "pfault-plain" => crate::pfault::plain(arg2),
            "ipcret-server" => crate::ipcret::server(),
            "ipcret-client" => crate::ipcret::client(arg2),
            "machine" => crate::machine::run(),
            "shm-client" | "shm-bench" => crate::shm::client(case, arg2),
            "futex-pingpong" | "futex-bench" | "futex-alias" => crate::shm::pingpong(case, arg2),
            "futex-errors" => crate::shm::errors(),
            "futex-block" => crate::shm::block(),
            "segv" => {
                // SAFETY: deliberately not: the kernel must stop us.
                unsafe { core::ptr::write_volatile(core::ptr::dangling_mut::<u64>(), 1) };
                0
            }
            "int80" => {
                // SAFETY: deliberately not: the kernel must refuse it.
                unsafe { asm!("int 0x80") };
                0
            }
            "ud" => {
                // SAFETY: deliberately not.
                unsafe { asm!("ud2") };
                0
            }
            _ => {
                say!("native-tests: unknown case '{case}'\n");
                2
            }
        }
    }

    /// Takes the messages queued in processor `cpu`'s dispatcher page:
    /// (sender pid, four words) each.
    pub(crate) fn drain_ring(cpu: u64, mut f: impl FnMut([u64; 5])) {
        let page = k42::dispatcher_page(cpu);
        // SAFETY: words 1 and 2 are the ring's head (ours) and tail (the
        // kernel's); the ring starts at word 8.
        unsafe {
            let tail = core::ptr::read_volatile(page.add(2));
            let mut head = core::ptr::read_volatile(page.add(1));
            while head < tail {
                let m = page.add(8 + ((head % k42::RING) * k42::MSG_WORDS) as usize);
                let mut w = [0u64; 5];
                for (i, x) in w.iter_mut().enumerate() {
                    *x = core::ptr::read_volatile(m.add(i));
                }
                f(w);
                head += 1;
            }
            core::ptr::write_volatile(page.add(1), head);
        }
    }

    static TRAPS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
    static TRAP_INFO: [core::sync::atomic::AtomicU64; 3] =
        [const { core::sync::atomic::AtomicU64::new(0) }; 3];
    static RESUME_AT: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

    /// The trap entry: records (vector, error, cr2), skips the faulting
    /// instruction by resuming at `RESUME_AT`, re-enables, resumes.
    extern "C" fn on_trap(save: *mut u64, vector: u64, error: u64, cr2: u64) -> ! {
        use core::sync::atomic::Ordering::SeqCst;
        TRAPS.fetch_add(1, SeqCst);
        TRAP_INFO[0].store(vector, SeqCst);
        TRAP_INFO[1].store(error, SeqCst);
        TRAP_INFO[2].store(cr2, SeqCst);
        // SAFETY: the save area (22 words, rip at index 17) and our
        // dispatcher page's disabled flag (word 3 of page 0: we run on
        // processor 0 in the test).
        unsafe {
            *save.add(17) = RESUME_AT.load(SeqCst);
            core::ptr::write_volatile(k42::dispatcher_page(0).add(3), 0);
        }
        k42::syscall2(k42::RESUME, save as u64, 0);
        loop {
            core::hint::spin_loop();
        }
    }

    static RUNS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

    /// The run entry: counts, re-enables, resumes where the preemption hit.
    extern "C" fn on_run(save: u64, bits: u64) -> ! {
        RUNS.fetch_add(1 + bits, core::sync::atomic::Ordering::SeqCst);
        // SAFETY: word 3 of our dispatcher page (processor 0) is the
        // disabled flag.
        unsafe { core::ptr::write_volatile(k42::dispatcher_page(0).add(3), 0) };
        k42::syscall2(k42::RESUME, save, 0);
        loop {
            core::hint::spin_loop();
        }
    }

    fn run_entry() -> u64 {
        let r = k42::syscall3(k42::SET_ENTRY_POINT, 0, on_run as *const () as u64, 0).0;
        let mut spins = 0u64;
        while RUNS.load(core::sync::atomic::Ordering::SeqCst) < 3 {
            spins = core::hint::black_box(spins + 1);
        }
        say!(
            "run-entry: entry={r} restarts={} spins>0={}\n",
            RUNS.load(core::sync::atomic::Ordering::SeqCst),
            spins > 0
        );
        u64::from(r != 0)
    }

    fn trap() -> u64 {
        use core::sync::atomic::Ordering::SeqCst;
        let r = k42::syscall3(k42::SET_ENTRY_POINT, 2, on_trap as *const () as u64, 0).0;
        let after_load: u64;
        // SAFETY: the load from address 8 faults; the handler resumes at
        // label 2, whose address is taken first.
        unsafe {
            asm!("lea {a}, [rip + 2f]", "mov [rip + {slot}], {a}", "mov {t}, qword ptr [8]", "2:",
                 a = out(reg) after_load, t = out(reg) _, slot = sym RESUME_AT, options(nostack));
        }
        let first = (
            TRAPS.load(SeqCst),
            TRAP_INFO[0].load(SeqCst),
            TRAP_INFO[2].load(SeqCst),
        );
        // SAFETY: as above, with an invalid opcode.
        unsafe {
            asm!("lea {a}, [rip + 2f]", "mov [rip + {slot}], {a}", "ud2", "2:",
                 a = out(reg) _, slot = sym RESUME_AT, options(nostack));
        }
        let second = (TRAPS.load(SeqCst), TRAP_INFO[0].load(SeqCst));
        say!("trap: entry={r} first={first:?} second={second:?} resumed_at={after_load:#x}\n");
        u64::from(r != 0 || first != (1, 14, 8) || second != (2, 6))
    }

    /// `async-echo C`: a server of one-word requests by message.
    fn async_echo(cpu: u64) -> u64 {
        let h = k42::syscall2(k42::EXPORT, 0, 0);
        k42::syscall3(k42::GRANT, h as u64, u64::from(u32::MAX), 1);
        say!("async-echo: handle={h:x}\n");
        loop {
            k42::syscall2(k42::BLOCK, 0, 0);
            k42::take_soft_bits(cpu);
            drain_ring(cpu, |m| {
                // (sender, reply handle, reply processor, token, _)
                k42::syscall6(k42::ASYNC_SEND, [m[1], m[2], m[3], 0, 0, 0]);
            });
        }
    }

    /// `async-recv C,N`: exports an object anyone may message, then takes
    /// N messages from the ring of its dispatcher on processor C.
    fn async_recv(args: &str) -> u64 {
        let mut it = args.split(',');
        let cpu: u64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        let n: u64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(1);
        let h = k42::syscall2(k42::EXPORT, 0, 0);
        k42::syscall3(k42::GRANT, h as u64, u64::from(u32::MAX), 1);
        say!("async-recv: handle={h:x}\n");
        let page = k42::dispatcher_page(cpu);
        let (mut got, mut sum, mut wakeups) = (0u64, 0u64, 0u64);
        while got < n {
            k42::syscall2(k42::BLOCK, 0, 0);
            wakeups += 1;
            k42::take_soft_bits(cpu);
            // SAFETY: words 1 and 2 are the ring's head (ours) and tail
            // (the kernel's); the ring starts at word 8.
            unsafe {
                let tail = core::ptr::read_volatile(page.add(2));
                let mut head = core::ptr::read_volatile(page.add(1));
                while head < tail {
                    let m = page.add(8 + ((head % k42::RING) * k42::MSG_WORDS) as usize);
                    sum += core::ptr::read_volatile(m.add(1)) + core::ptr::read_volatile(m.add(4));
                    head += 1;
                    got += 1;
                }
                core::ptr::write_volatile(page.add(1), head);
            }
        }
        say!("async-recv: got={got} sum={sum} wakeups={wakeups}\n");
        0
    }

    /// `async-send H,C,N`: sends N messages (i, 0, 0, 1000 i) to the
    /// dispatcher on processor C of the process exporting H.
    fn async_send(args: &str) -> u64 {
        let mut it = args.split(',');
        let h = it
            .next()
            .and_then(|x| u64::from_str_radix(x, 16).ok())
            .unwrap_or(0);
        let cpu: u64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        let n: u64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(1);
        let mut full = 0;
        for i in 0..n {
            loop {
                match k42::syscall6(k42::ASYNC_SEND, [h, cpu, i, 0, 0, 1000 * i]) {
                    0 => break,
                    -11 => {
                        full += 1;
                        k42::syscall2(k42::YIELD, 0, 0);
                    }
                    e => {
                        say!("async-send: error {e}\n");
                        return 1;
                    }
                }
            }
        }
        let bad = k42::syscall6(k42::ASYNC_SEND, [h ^ 1, cpu, 0, 0, 0, 0]);
        say!("async-send: sent={n} ring_full={full} stale_handle={bad}\n");
        u64::from(bad != -9)
    }

    /// The "system library" of `reflect`: answers every reflected call
    /// with 1000 + its number, counting them.
    extern "C" fn on_syscall(save: *mut u64) -> ! {
        // SAFETY: the kernel passes the save area of our dispatcher page:
        // 22 words, rax at index 14.
        unsafe {
            let nr = *save.add(14);
            *save.add(14) = 1000 + nr;
        }
        REFLECTED.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        k42::syscall2(k42::RESUME, save as u64, 0);
        loop {
            core::hint::spin_loop(); // resume does not come back
        }
    }

    /// Throws random calls at the kernel. Numbers: near the native and
    /// debug bases, small (Linux-like) and anything; arguments: small
    /// integers, user addresses (mapped or not), kernel and non-canonical
    /// addresses, all-ones. `exit` and `block` are skipped so the run
    /// lasts; anything else goes, including calls that stop the program.
    fn fuzz(seed: u64) -> u64 {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut calls = 0u64;
        loop {
            let r = next();
            let nr = match r % 4 {
                0 => k42::NATIVE | (next() % 28),
                1 => k42::DEBUG | (next() % 8),
                2 => next() % 512,
                _ => next(),
            };
            if nr == k42::EXIT || nr == k42::BLOCK {
                continue; // these would only end the run early
            }
            let mut args = [0u64; 6];
            for a in &mut args {
                *a = match next() % 8 {
                    0 => next() % 16,
                    1 => 0x20_0000 + (next() % 0x10_0000),
                    2 => 0x7fff_f000_0000 - (next() % 0x10_0000),
                    3 => 0xffff_8000_0000_0000 + (next() % 0x1000_0000),
                    4 => 0x0000_8000_0000_0000 + next() % 0x1000,
                    5 => u64::MAX - next() % 16,
                    6 => k42::PPC_VA + next() % 8192,
                    _ => next(),
                };
            }
            k42::syscall6(nr, args);
            calls += 1;
            if calls.is_multiple_of(4096) {
                say!("fuzz: {calls} calls\n");
            }
        }
    }

    static UPCALLS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
    static UPCALL_BITS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
    static UPCALL_CPU: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

    /// The interrupt entry: records the bits, re-enables, resumes.
    extern "C" fn on_interrupt(save: u64, bits: u64) -> ! {
        use core::sync::atomic::Ordering::SeqCst;
        UPCALLS.fetch_add(1, SeqCst);
        UPCALL_BITS.fetch_or(bits, SeqCst);
        // SAFETY: word 3 of our dispatcher page is the disabled flag.
        unsafe {
            core::ptr::write_volatile(k42::dispatcher_page(UPCALL_CPU.load(SeqCst)).add(3), 0)
        };
        k42::syscall2(k42::RESUME, save, 0);
        loop {
            core::hint::spin_loop();
        }
    }

    /// `upcall C`: exports an object anyone may message, sets the interrupt
    /// entry, and spins (never blocking) until a message arrives by upcall.
    fn upcall(cpu: u64) -> u64 {
        use core::sync::atomic::Ordering::SeqCst;
        UPCALL_CPU.store(cpu, SeqCst);
        let h = k42::syscall2(k42::EXPORT, 0, 0);
        k42::syscall3(k42::GRANT, h as u64, u64::from(u32::MAX), 1);
        let r = k42::syscall3(k42::SET_ENTRY_POINT, 1, on_interrupt as *const () as u64, 0).0;
        let mut spins = 0u64;
        while UPCALLS.load(SeqCst) == 0 {
            spins = core::hint::black_box(spins + 1);
        }
        let bits = UPCALL_BITS.load(SeqCst);
        say!(
            "upcall: entry={r} upcalls={} bits={bits:#x} spun={}\n",
            UPCALLS.load(SeqCst),
            spins > 0
        );
        u64::from(r != 0 || bits & 1 == 0)
    }

    fn sleep(cpu: u64) -> u64 {
        let t0 = k42::syscall2(k42::CLOCK, 0, 0) as u64;
        let set = k42::syscall2(k42::TIMER, 1, 30_000_000);
        let mut bits = 0;
        let mut blocks = 0;
        while bits & 2 == 0 {
            k42::syscall2(k42::BLOCK, 0, 0);
            blocks += 1;
            bits |= k42::take_soft_bits(cpu);
        }
        let slept = k42::syscall2(k42::CLOCK, 0, 0) as u64 - t0;
        let cancel = k42::syscall2(k42::TIMER, 2, 0);
        let bad = k42::syscall2(k42::TIMER, 9, 0);
        say!(
            "sleep: set={set} slept_ms={} blocks={blocks} cancel={cancel} bad={bad}\n",
            slept / 1_000_000
        );
        u64::from(
            set != 0 || !(30_000_000..=500_000_000).contains(&slept) || cancel != 0 || bad != -22,
        )
    }

    fn memcalls() -> u64 {
        const VA: u64 = 0x5000_0000;
        let map = k42::syscall3(k42::MAP_ANON, VA, 4 * 4096, 3).0;
        let p = VA as *mut u64;
        // SAFETY: just mapped read-write.
        let first = unsafe {
            let z = core::ptr::read_volatile(p.add(512));
            core::ptr::write_volatile(p, 77);
            z
        };
        let overlap = k42::syscall3(k42::MAP_ANON, VA + 4096, 4096, 3).0;
        let bad_prot = k42::syscall3(k42::MAP_ANON, 0x6000_0000, 4096, 8).0;
        let unaligned = k42::syscall3(k42::MAP_ANON, 0x6000_0001, 4096, 3).0;
        let kernel = k42::syscall3(k42::MAP_ANON, 0xffff_8000_0000_0000, 4096, 3).0;
        let protect = k42::syscall3(k42::PROTECT, VA, 4 * 4096, 1).0;
        // SAFETY: still mapped, now read-only: reads are fine.
        let kept = unsafe { core::ptr::read_volatile(p) };
        let unmap = k42::syscall3(k42::UNMAP, VA, 4 * 4096, 0).0;
        let again = k42::syscall3(k42::MAP_ANON, VA, 4096, 3).0;
        // SAFETY: mapped again: fresh zero page.
        let fresh = unsafe { core::ptr::read_volatile(p) };
        say!("memcalls: map={map} first={first} overlap={overlap} bad_prot={bad_prot} unaligned={unaligned} kernel={kernel} protect={protect} kept={kept} unmap={unmap} again={again} fresh={fresh}\n");
        u64::from(
            map != 0
                || first != 0
                || overlap != -22
                || bad_prot != -22
                || unaligned != -22
                || kernel != -14
                || protect != 0
                || kept != 77
                || unmap != 0
                || again != 0
                || fresh != 0,
        )
    }

    static REFLECTED: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

    fn reflect() -> u64 {
        let r = k42::syscall3(k42::SET_ENTRY_POINT, 7, on_syscall as *const () as u64, 0).0;
        let mut results = [0i64; 3];
        let (mut rbx, mut r12) = (0x1111_2222u64, 0x3333_4444u64);
        for (i, nr) in [39u64, 1, 60].iter().enumerate() {
            let out: i64;
            // SAFETY: a Linux-numbered `syscall`: reflected to `on_syscall`.
            // rbx and r12 are callee-saved: they must come back unchanged.
            unsafe {
                asm!("xchg rbx, {b}", "syscall", "xchg rbx, {b}", b = inout(reg) rbx,
                     inlateout("rax") *nr as i64 => out, inout("r12") r12,
                     lateout("rcx") _, lateout("r11") _, options(nostack));
            }
            results[i] = out;
        }
        let native = k42::syscall2(0x4b42_0fff, 0, 0);
        let n = REFLECTED.load(core::sync::atomic::Ordering::Relaxed);
        say!("reflect: entry={r} results={results:?} reflected={n} native={native} rbx={rbx:#x} r12={r12:#x}\n");
        u64::from(
            r != 0
                || results != [1039, 1001, 1060]
                || n != 3
                || native != -38
                || rbx != 0x1111_2222
                || r12 != 0x3333_4444,
        )
    }

    static mut SECOND_STACK: [u8; 16 * 1024] = [0; 16 * 1024];

    /// The second dispatcher of `softirq`: waits for bit 0b100 from the
    /// first, answers with bit 0b1, ends.
    extern "C" fn second(cpu: u64) -> ! {
        let mut seen = 0;
        while seen & 0b100 == 0 {
            k42::syscall2(k42::BLOCK, 0, 0);
            seen |= k42::take_soft_bits(cpu);
        }
        k42::syscall2(k42::SOFT_INTERRUPT, 0, 0b1);
        k42::exit(0)
    }

    /// `softirq K`: the dispatcher on processor 0 starts a second one on
    /// processor K, and they exchange soft interrupts.
    fn softirq(arg: &str) -> u64 {
        let k: u64 = arg.parse().unwrap_or(1);
        let top = (core::ptr::addr_of_mut!(SECOND_STACK) as u64 + 16 * 1024) & !15;
        let again = k42::syscall3(k42::CREATE_DISPATCHER, 0, second as *const () as u64, top).0;
        let r = k42::syscall3(k42::CREATE_DISPATCHER, k, second as *const () as u64, top).0;
        if r != 0 {
            say!("softirq: create on {k}: {r}\n");
            return 1;
        }
        let s = k42::syscall2(k42::SOFT_INTERRUPT, k, 0b100);
        let mut seen = 0;
        while seen & 0b1 == 0 {
            k42::syscall2(k42::BLOCK, 0, 0);
            seen |= k42::take_soft_bits(0);
        }
        say!("softirq: second on {k} answered; send={s} create-again={again}\n");
        u64::from(s != 0 || again != -16)
    }

    fn ppc_client(case: &str, _argc: usize, handle: &str) -> u64 {
        use crate::ppc::{EchoClient, KernelTransport};
        use ppc_idl::{ObjectHandle, PpcError, ProcessId};
        let raw = u64::from_str_radix(handle.trim_start_matches("0x"), 16).unwrap_or(0);
        let h = ObjectHandle::new(
            ProcessId((raw >> 32) as u32),
            ((raw >> 16) & 0xffff) as u32,
            (raw & 0xffff) as u32,
        );
        let t = KernelTransport;
        let echo = EchoClient::new(&t, h);
        if case == "ppc-bench" {
            let data = [1u8; 4096];
            let rdtsc = || {
                // SAFETY: RDTSC is allowed in user mode (CR4.TSD clear).
                unsafe { core::arch::x86_64::_rdtsc() }
            };
            const N: u64 = 2000;
            let mut cycles = [0u64; 3];
            for (k, size) in [0usize, 64, 4064].iter().enumerate() {
                let t0 = rdtsc();
                for _ in 0..N {
                    let r = if *size == 0 {
                        echo.null().map(|_| 0)
                    } else {
                        echo.sum(&data[..*size])
                    };
                    if r.is_err() {
                        return 1;
                    }
                }
                cycles[k] = (rdtsc() - t0) / N;
            }
            // The floor: a system call that does nothing (an unknown
            // number, answered -ENOSYS without leaving the processor).
            let t0 = rdtsc();
            for _ in 0..N {
                k42::syscall2(0x4b42_0fff, 0, 0);
            }
            let syscall = (rdtsc() - t0) / N;
            say!(
                "kbench: ppc round trip cycles null={} args64={} args4k={} null_syscall={} null/syscall={}x\n",
                cycles[0],
                cycles[1],
                cycles[2],
                syscall,
                cycles[0] / syscall.max(1)
            );
            return 0;
        }
        let add = echo.add(41);
        let me = echo.whoami();
        let secret = echo.secret();
        let sum = echo.sum(&[7u8; 4000]);
        let stale = EchoClient::new(&t, ObjectHandle::new(h.server, h.index, h.seq + 1)).add(1);
        let nobody = EchoClient::new(&t, ObjectHandle::new(ProcessId(0xfff0), 0, 1)).add(1);
        say!("ppc-client: add={add:?} whoami={me:?} secret={secret:?} sum={sum:?} stale={stale:?} nobody={nobody:?}\n");
        let ok = add == Ok(42)
            && me.is_ok()
            && secret == Err(PpcError::NoRights)
            && sum == Ok(28000)
            && stale == Err(PpcError::BadHandle)
            && nobody == Err(PpcError::BadHandle);
        u64::from(!ok)
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo) -> ! {
        say!("native-tests panicked: {info}\n");
        exit(101)
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    println!("native-tests is a K42-rs user program: `cargo xtask test` runs it in QEMU");
}

//! # k42-syslib: `/lib/k42-syslib`, the system library executable
//!
//! The kernel loads this static executable (linked at `0x6f00_0000_0000`,
//! see `build.rs`) into every Linux process beside the program and starts
//! it at `_start` with the program's initial stack in `rsp`, the program's
//! entry in `rdi`, its `brk` start in `rsi`, the processor in `rdx` and
//! the handle of the system's name server in `r8` (0: none; the library
//! finds the file system there).
//! `_start` sets the library up ([`syslib::Syslib::start`]), registers
//! `k42_syslib_syscall_entry` as the process's system-call entry
//! (`set_entry_point(7, entry, 0)`) and jumps to the program with the
//! original stack, as if the kernel had started it.
//!
//! From then on every Linux `syscall` of the program is reflected: the
//! kernel saves its registers (a `TrapFrame`, 22 words) in this
//! processor's dispatcher page and enters `k42_syslib_syscall_entry` with
//! `rdi` = that save area, on the running thread's library stack
//! (`STACK` for the first thread; `syslib::threads`). The entry copies
//! the frame onto that stack, calls the library with the number and
//! arguments, stores the result in the copy's `rax` and calls
//! `resume(copy, number + 1)`: the kernel reloads the frame (and traces
//! the call's end with its result, an unimplemented call's `-ENOSYS`
//! included) and the program continues after its `syscall`.
//!
//! After an exec (`syslib::calls::execve`) the kernel also passes the
//! state the previous program's library handed over (the inherit blob,
//! on the new stack): its address in `r9` and its length in `r10` (both 0
//! for a program the kernel started). `_start` keeps them for `start`,
//! which gives the blob to [`syslib::State::inherit`] before the program
//! runs.
//!
//! The direct-branch path (paper §10): `_start` also publishes a vector at
//! [`syslib::abi::DIRECT_VECTOR`] whose entry, `direct`, a
//! program built for it calls like a function (`include/k42-syslib.h`):
//! the same table, no trap, no frame to save and restore.
//!
//! The library is built for `x86_64-unknown-none`, which uses no SSE or
//! x87 registers (soft float), so the program's vector and floating-point
//! registers survive a reflected call without being saved here.
//!
//! Built for the host, it is only a `main` that says what it is.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod k42 {
    //! The native calls the library makes, and the `Native` trait over
    //! them.
    use alloc::boxed::Box;
    use alloc::collections::BTreeMap;
    use alloc::vec::Vec;
    use core::arch::{asm, global_asm};
    use core::sync::atomic::{AtomicU8, Ordering};
    use syslib::{signal, Errno, Native};

    pub use syslib::abi::*;

    /// A native call with up to three arguments.
    pub fn call3(nr: u64, a: u64, b: u64, c: u64) -> i64 {
        let r: i64;
        // SAFETY: `syscall` clobbers rcx and r11 only; the kernel checks
        // every argument. Native numbers are never reflected.
        unsafe {
            asm!("syscall", inlateout("rax") nr as i64 => r, in("rdi") a, in("rsi") b,
                 in("rdx") c, lateout("rcx") _, lateout("r11") _, options(nostack))
        };
        r
    }

    /// A native call with six arguments (`rdi, rsi, rdx, r10, r8, r9`).
    pub fn call6(nr: u64, a: [u64; 6]) -> i64 {
        let r: i64;
        // SAFETY: as in `call3`; the kernel reads only what the arguments
        // point at, which the caller keeps alive across the call.
        unsafe {
            asm!("syscall", inlateout("rax") nr as i64 => r, in("rdi") a[0], in("rsi") a[1],
                 in("rdx") a[2], in("r10") a[3], in("r8") a[4], in("r9") a[5],
                 lateout("rcx") _, lateout("r11") _, options(nostack))
        };
        r
    }

    fn result(r: i64) -> Result<(), Errno> {
        if r < 0 {
            Err(Errno((-r) as u32))
        } else {
            Ok(())
        }
    }

    /// Ends the process.
    pub fn exit(status: u64) -> ! {
        call3(EXIT, status, 0, 0);
        loop {
            core::hint::spin_loop();
        }
    }

    /// CPUID `leaf` (eax, ebx, ecx, edx).
    fn cpuid(leaf: u32) -> [u32; 4] {
        let (a, b, c, d): (u32, u32, u32, u32);
        // SAFETY: CPUID has no side effects; rbx is reserved by LLVM, so
        // it is saved in another register around the instruction.
        unsafe {
            asm!("mov {t:r}, rbx", "cpuid", "xchg {t:r}, rbx", t = out(reg) b,
                 inlateout("eax") leaf => a, inlateout("ecx") 0 => c, out("edx") d,
                 options(nostack, preserves_flags))
        };
        [a, b, c, d]
    }

    /// 0: not asked yet, 1: no RDRAND, 2: RDRAND.
    static RDRAND: AtomicU8 = AtomicU8::new(0);

    /// This dispatcher's page (from the save area of the last entry).
    pub static PAGE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

    /// An FXSAVE area.
    #[repr(C, align(16))]
    struct Fxsave([u8; 512]);

    /// The kernel, as the library's `Native`, and the library contexts
    /// of the program's threads (`syslib::threads`).
    pub struct Kernel {
        /// Each thread's library context, by thread id (boxed: a
        /// suspended thread's saved stack pointer must not move while the
        /// map changes).
        contexts: BTreeMap<u32, Box<LibContext>>,
        /// Whether the run entry is registered (`thread_create`).
        run_entry: bool,
    }

    impl Kernel {
        /// No thread but the first, which runs on the library's static
        /// stack.
        pub fn new() -> Self {
            Kernel {
                contexts: BTreeMap::new(),
                run_entry: false,
            }
        }
    }

    /// Bytes of a thread's library stack.
    const THREAD_STACK: usize = 128 * 1024;

    /// Where a thread is suspended in the library: its stack pointer (the
    /// callee-saved registers and the return address are on its stack),
    /// the program's FPU/SSE registers of that thread, and its library
    /// stack (`None`: the first thread's, the static one).
    pub struct LibContext {
        sp: u64,
        fpu: Fxsave,
        stack: Option<Box<[u128]>>,
    }

    impl LibContext {
        /// The top of its library stack: where its entries start.
        fn top(&self) -> u64 {
            match &self.stack {
                Some(s) => s.as_ptr() as u64 + (s.len() * 16) as u64,
                None => super::entry::main_stack_top(),
            }
        }
    }

    // The register switch between library contexts: rdi = where to save
    // this context's stack pointer, rsi = the stack pointer to load. Only
    // the System V callee-saved registers need saving: the caller has
    // spilled the rest. A new context's stack holds zeros for them and
    // `k42_syslib_thread_trampoline` as the return address.
    global_asm!(
        ".global k42_syslib_switch",
        "k42_syslib_switch:",
        "push rbp",
        "push rbx",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "mov [rdi], rsp",
        "mov rsp, rsi",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbx",
        "pop rbp",
        "ret",
        ".global k42_syslib_thread_trampoline",
        "k42_syslib_thread_trampoline:",
        "and rsp, -16",
        "call {main}",
        "ud2",
        main = sym super::entry::thread_main,
    );

    extern "C" {
        fn k42_syslib_switch(save: *mut u64, load: u64);
        fn k42_syslib_thread_trampoline();
    }

    impl Native for Kernel {
        fn console_write(&mut self, bytes: &[u8]) {
            call3(CONSOLE_WRITE, bytes.as_ptr() as u64, bytes.len() as u64, 0);
        }

        fn kernel_log(&mut self, bytes: &[u8]) {
            call3(KERNEL_LOG, bytes.as_ptr() as u64, bytes.len() as u64, 0);
        }

        fn map_anon(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
            result(call3(MAP_ANON, addr, len, u64::from(prot)))
        }

        fn unmap(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
            result(call3(UNMAP, addr, len, 0))
        }

        fn protect(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
            result(call3(PROTECT, addr, len, u64::from(prot)))
        }

        fn set_fs_base(&mut self, base: u64) -> Result<(), Errno> {
            result(call3(SET_FS_BASE, base, 0, 0))
        }

        fn set_gs_base(&mut self, base: u64) -> Result<(), Errno> {
            result(call3(SET_GS_BASE, base, 0, 0))
        }

        fn read(&self, addr: u64, buf: &mut [u8]) {
            // SAFETY: the library checked the range against its map of
            // the process (`Layout::check`) or the kernel set it up (the
            // initial stack); `buf` is the library's own.
            unsafe {
                core::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), buf.len())
            };
        }

        fn write(&mut self, addr: u64, bytes: &[u8]) {
            // SAFETY: as in `read`; the range was checked writable.
            unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, bytes.len()) };
        }

        fn clock_ns(&self) -> Option<u64> {
            let r = call3(CLOCK, 0, 0, 0);
            (r >= 0).then_some(r as u64)
        }

        fn process_id(&self) -> Option<u32> {
            let r = call3(PROCESS_ID, 0, 0, 0);
            u32::try_from(r).ok()
        }

        fn machine(&self) -> Option<syslib::machine::Machine> {
            k42_rt::sys::machine().ok()
        }

        fn fork_process(&mut self) -> Result<u32, Errno> {
            let r = call3(FORK_PROCESS, 0, 0, 0);
            if r == 0 {
                // The child may run on another processor than the parent:
                // its page is known at its next entry (until then there is
                // nothing of its own to take there).
                PAGE.store(0, Ordering::Relaxed);
            }
            result(r).map(|()| r as u32)
        }

        fn wait_child(&mut self, pid: u32) -> Result<(u32, u64), Errno> {
            // Sign-extended: a negative pid is a process group.
            let r = call3(WAIT_CHILD, pid as i32 as i64 as u64, 0, 0);
            result(r).map(|()| (r as u32, (r as u64) >> 32))
        }

        fn block(&mut self) {
            call3(BLOCK, 0, 0, 0);
        }

        fn ppc_call(
            &mut self,
            handle: ppc_idl::ObjectHandle,
            method: ppc_idl::MethodId,
            req: &ppc_idl::Message,
            reply: &mut ppc_idl::Message,
        ) -> Result<(), ppc_idl::PpcError> {
            use ppc_idl::Transport;
            k42_rt::transport::KernelTransport::new().call(handle, method, req, reply)
        }

        fn exec(
            &mut self,
            path: &[u8],
            argv: u64,
            envp: u64,
            inherit: &[u8],
            image: Option<&[u8]>,
        ) -> Errno {
            let words = image.map(|i| [i.as_ptr() as u64, i.len() as u64]);
            let r = call6(
                EXEC,
                [
                    path.as_ptr() as u64,
                    argv,
                    envp,
                    inherit.as_ptr() as u64,
                    inherit.len() as u64,
                    words.as_ref().map_or(0, |w| w.as_ptr() as u64),
                ],
            );
            // Only a failed exec returns.
            Errno((r as u64).wrapping_neg() as u32)
        }

        fn exec_boot(
            &mut self,
            path: &[u8],
            argv: u64,
            envp: u64,
            inherit: &[u8],
            index: u32,
        ) -> Errno {
            // `IMAGE_BOOT` (kernel/src/syscall/exec.rs) and the index.
            let words = [u64::MAX, u64::from(index)];
            let r = call6(
                EXEC,
                [
                    path.as_ptr() as u64,
                    argv,
                    envp,
                    inherit.as_ptr() as u64,
                    inherit.len() as u64,
                    words.as_ptr() as u64,
                ],
            );
            Errno((r as u64).wrapping_neg() as u32)
        }

        fn map_shared(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
            result(call3(MAP_SHARED, addr, len, u64::from(prot)))
        }

        fn futex_wait(&mut self, addr: u64, expected: u32, timeout_ns: u64) -> Result<(), Errno> {
            result(call3(FUTEX_WAIT, addr, u64::from(expected), timeout_ns))
        }

        fn futex_wake(&mut self, addr: u64, n: u32) -> Result<u32, Errno> {
            let r = call3(FUTEX_WAKE, addr, u64::from(n), 0);
            result(r).map(|()| r as u32)
        }

        fn wait_child_options(&mut self, pid: u32, options: u64) -> Result<(u32, u64), Errno> {
            let r = call3(WAIT_CHILD, pid as i32 as i64 as u64, options, 0);
            result(r).map(|()| (r as u32, (r as u64) >> 32))
        }

        fn signal_send(&mut self, pid: i64, sig: u32, code: i32, value: u64) -> Result<(), Errno> {
            let a = [pid as u64, u64::from(sig), code as i64 as u64, value, 0, 0];
            result(call6(signal::nr::SIGNAL_SEND, a))
        }

        fn signal_take(&mut self, out: &mut [[u64; 4]]) -> Result<usize, Errno> {
            let r = call3(
                signal::nr::SIGNAL_TAKE,
                out.as_mut_ptr() as u64,
                out.len() as u64,
                0,
            );
            result(r).map(|()| r as usize)
        }

        fn soft_take(&mut self, bits: u64) -> u64 {
            let page = PAGE.load(Ordering::Relaxed);
            if page == 0 {
                return 0;
            }
            // SAFETY: the dispatcher page (set at each entry from the save
            // area the kernel passed) is mapped in every process; its
            // first word is the soft-interrupt bits, which the kernel
            // sets and the user clears.
            let word = unsafe { core::sync::atomic::AtomicU64::from_ptr(page as *mut u64) };
            word.fetch_and(!bits, Ordering::AcqRel) & bits
        }

        fn timer(&mut self, at: u64) {
            let (kind, t) = if at == 0 { (2, 0) } else { (0, at) };
            call3(signal::nr::TIMER, kind, t, 0);
        }

        fn process_group(&mut self, op: u64, pid: i64, pgid: i64) -> Result<u64, Errno> {
            let r = call3(signal::nr::PROCESS_GROUP, op, pid as u64, pgid as u64);
            result(r).map(|()| r as u64)
        }

        fn fpu_save(&mut self, addr: u64) {
            // SAFETY: the library checked the 512 bytes at `addr` (16-byte
            // aligned) writable. The library itself uses no FPU or SSE
            // registers, so they still hold the program's. The handler
            // then starts with a clean x87 and the default MXCSR.
            unsafe {
                asm!("fxsave64 [{a}]", "fninit", "push 0x1f80", "ldmxcsr [rsp]", "add rsp, 8",
                     a = in(reg) addr)
            };
        }

        fn fpu_restore(&mut self, addr: u64) {
            let mut area = Fxsave([0; 512]);
            self.read(addr, &mut area.0);
            // Reserved MXCSR bits would fault FXRSTOR: cleared.
            let mxcsr = u32::from_le_bytes([area.0[24], area.0[25], area.0[26], area.0[27]]);
            area.0[24..28].copy_from_slice(&(mxcsr & 0xffbf).to_le_bytes());
            // SAFETY: FXRSTOR64 reads the 16-aligned 512-byte copy.
            unsafe { asm!("fxrstor64 [{a}]", a = in(reg) area.0.as_ptr(), options(nostack)) };
        }

        fn map_handle(&mut self, handle: u64, addr: u64) -> Result<u64, Errno> {
            k42_rt::sys::map_handle(handle, addr).map_err(|e| Errno(e.0))
        }

        fn probe(&self, addr: u64, len: u64, write: bool) -> Result<(), Errno> {
            k42_rt::sys::probe(addr, len, write).map_err(|e| Errno(e.0))
        }

        fn thread_create(&mut self, tid: u32) -> Result<(), Errno> {
            if !self.run_entry {
                super::entry::register_run_entry();
                self.run_entry = true;
            }
            let mut words = Vec::new();
            words
                .try_reserve_exact(THREAD_STACK / 16)
                .map_err(|_| Errno::EAGAIN)?;
            words.resize(THREAD_STACK / 16, 0u128);
            let mut c = Box::new(LibContext {
                sp: 0,
                fpu: Fxsave([0; 512]),
                stack: Some(words.into_boxed_slice()),
            });
            // The first switch to it pops six zero registers and returns
            // into the trampoline.
            let sp = c.top() - 8 * 8;
            let trampoline = k42_syslib_thread_trampoline as *const () as u64;
            // SAFETY: `sp .. sp + 64` lies at the top of the stack just
            // allocated, which nothing else uses; FXSAVE64 only stores the
            // FPU/SSE registers (the program's: the library uses none)
            // into the 16-aligned area.
            unsafe {
                core::ptr::write_bytes(sp as *mut u64, 0, 7);
                ((sp + 48) as *mut u64).write(trampoline);
                asm!("fxsave64 [{a}]", a = in(reg) c.fpu.0.as_mut_ptr(), options(nostack));
            }
            c.sp = sp;
            self.contexts.insert(tid, c);
            Ok(())
        }

        fn thread_switch(&mut self, from: u32, to: u32) {
            let Some(next) = self.contexts.get(&to) else {
                let msg = b"[k42-syslib] switch to a thread without a context: killed\n";
                call3(KERNEL_LOG, msg.as_ptr() as u64, msg.len() as u64, 0);
                exit(128 + 6);
            };
            let (load, top) = (next.sp, next.top());
            let load_fpu = next.fpu.0.as_ptr();
            let me = self.contexts.entry(from).or_insert_with(|| {
                Box::new(LibContext {
                    sp: 0,
                    fpu: Fxsave([0; 512]),
                    stack: None,
                })
            });
            let save = &mut me.sp as *mut u64;
            let save_fpu = me.fpu.0.as_mut_ptr();
            super::entry::set_entry_stack(top);
            // SAFETY: both contexts are boxed in `contexts` and stay there
            // until `thread_free`, which the library calls only for ended
            // threads that are not running; `load` is a stack pointer that
            // `k42_syslib_switch` saved (or `thread_create` laid out), so
            // the switch returns into that context. The FPU areas are
            // 16-aligned 512-byte areas of the two contexts; FXRSTOR64 of
            // an area FXSAVE64 wrote cannot fault. Nothing here touches
            // `self` after the switch: when this context runs again the
            // other threads may have changed the map.
            unsafe {
                asm!("fxsave64 [{s}]", "fxrstor64 [{l}]", s = in(reg) save_fpu,
                     l = in(reg) load_fpu, options(nostack));
                k42_syslib_switch(save, load);
            }
        }

        fn thread_free(&mut self, tid: u32) {
            self.contexts.remove(&tid);
        }

        fn swap_entry_stack(&mut self, top: u64) -> u64 {
            if top == 0 {
                return super::entry::entry_stack();
            }
            let old = super::entry::entry_stack();
            super::entry::set_entry_stack(top);
            old
        }

        fn vfork_process(
            &mut self,
            frame: &[u64; frame::WORDS],
            ids_at: [u64; 2],
        ) -> Result<u32, Errno> {
            // The child's entries run on a library stack of their own (the
            // parent waits in the middle of this one) and find the library
            // free; the child may leave `PAGE` on another processor's page.
            let mut stack: Vec<u128> = Vec::new();
            stack
                .try_reserve_exact(THREAD_STACK / 16)
                .map_err(|_| Errno::EAGAIN)?;
            stack.resize(THREAD_STACK / 16, 0);
            let top = stack.as_ptr() as u64 + THREAD_STACK as u64;
            let old = self.swap_entry_stack(top);
            let page = PAGE.load(Ordering::Relaxed);
            super::entry::set_busy(false);
            let r = call3(
                syslib::calls::vfork::VFORK_PROCESS,
                frame.as_ptr() as u64,
                ids_at[0],
                ids_at[1],
            );
            super::entry::set_busy(true);
            PAGE.store(page, Ordering::Relaxed);
            self.swap_entry_stack(old);
            drop(stack);
            result(r).map(|()| r as u32)
        }

        fn console_read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
            let r = call3(CONSOLE_READ, buf.as_mut_ptr() as u64, buf.len() as u64, 0);
            result(r).map(|()| r as usize)
        }

        fn terminal(&mut self, op: u64, a: u64, b: u64) -> Result<u64, Errno> {
            let r = call3(TERMINAL, op, a, b);
            result(r).map(|()| r as u64)
        }

        fn terminal_settings(&mut self, save: bool, buf: &mut [u8; 36]) -> Result<bool, Errno> {
            use syslib::tty::op;
            let which = if save { op::SAVE } else { op::LOAD };
            let r = call3(TERMINAL, which, buf.as_mut_ptr() as u64, 0);
            result(r).map(|()| save || r > 0)
        }

        fn sleep_ns(&mut self, ns: u64) -> Result<(), Errno> {
            // A futex wait on a word nobody wakes: only its timeout (or a
            // soft interrupt) ends it.
            static NOBODY: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);
            match self.futex_wait(NOBODY.as_ptr() as u64, 0, ns.max(1)) {
                Err(Errno(e)) if e == linux_raw_sys::errno::ETIMEDOUT => Ok(()),
                Ok(()) => Ok(()),
                Err(e) => Err(e),
            }
        }

        fn cycles(&self) -> u64 {
            let (lo, hi): (u32, u32);
            // SAFETY: RDTSC reads a counter; user mode may (CR4.TSD clear).
            unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack)) };
            (u64::from(hi) << 32) | u64::from(lo)
        }

        fn cycles_hz(&self) -> Option<u64> {
            let max = cpuid(0)[0];
            if max >= 0x15 {
                let [den, num, crystal, _] = cpuid(0x15);
                if den != 0 && num != 0 && crystal != 0 {
                    return Some(u64::from(crystal) * u64::from(num) / u64::from(den));
                }
            }
            if max >= 0x16 {
                let mhz = cpuid(0x16)[0] & 0xffff;
                if mhz != 0 {
                    return Some(u64::from(mhz) * 1_000_000);
                }
            }
            None
        }

        fn hardware_random(&mut self) -> Option<u64> {
            if RDRAND.load(Ordering::Relaxed) == 0 {
                let has = cpuid(1)[2] & (1 << 30) != 0;
                RDRAND.store(if has { 2 } else { 1 }, Ordering::Relaxed);
            }
            if RDRAND.load(Ordering::Relaxed) != 2 {
                return None;
            }
            for _ in 0..10 {
                let (v, ok): (u64, u8);
                // SAFETY: the processor has RDRAND (CPUID.1:ECX[30]).
                unsafe {
                    asm!("rdrand {v}", "setc {ok}", v = out(reg) v, ok = out(reg_byte) ok, options(nomem, nostack))
                };
                if ok != 0 {
                    return Some(v);
                }
            }
            None
        }
    }
}

#[cfg(target_os = "none")]
mod entry {
    //! `_start`, the reflection entry and the library's one instance.
    use super::k42::{self, Kernel};
    use core::arch::{asm, global_asm};
    use core::cell::UnsafeCell;
    use core::mem::MaybeUninit;
    use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use syslib::abi::frame;
    use syslib::{Outcome, Startup, Syslib};

    /// The library's state: written once by `_start`, then used by one
    /// reflected call at a time (`BUSY`).
    ///
    /// With several threads (`syslib::threads`) a call may wait in the
    /// middle, suspended on its thread's library stack, while another
    /// thread's call runs: each holds a `&mut Syslib` made here, but only
    /// one runs at a time, and a call waits only inside
    /// `syslib::threads`, which reaches the switch through the whole
    /// `Ctx` (so the compiler assumes the state may have changed when the
    /// switch returns) and holds no reference into the state across it.
    struct Instance(UnsafeCell<MaybeUninit<Syslib<Kernel>>>);
    // SAFETY: access is serialised by `BUSY`: one dispatcher per process,
    // and its threads run in the library one at a time (see above).
    unsafe impl Sync for Instance {}
    static LIB: Instance = Instance(UnsafeCell::new(MaybeUninit::uninit()));
    static BUSY: AtomicBool = AtomicBool::new(true);
    /// The inherit blob's address and length (`r9`, `r10` at `_start`).
    static INHERIT: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
    /// Where the entries put their stack pointer: the top of the running
    /// thread's library stack (`STACK` for the first thread).
    static ENTRY_STACK: AtomicU64 = AtomicU64::new(0);

    /// The top of the first thread's library stack.
    pub fn main_stack_top() -> u64 {
        core::ptr::addr_of!(STACK) as u64 + STACK_BYTES as u64
    }

    /// Where the next entry's stack starts.
    pub fn entry_stack() -> u64 {
        ENTRY_STACK.load(Ordering::Relaxed)
    }

    /// Sets where the next entry's stack starts.
    pub fn set_entry_stack(top: u64) {
        ENTRY_STACK.store(top, Ordering::Relaxed);
    }

    /// Marks the library busy or free: a vfork parent frees it for its
    /// child's entries while it waits, and takes it back.
    pub fn set_busy(busy: bool) {
        BUSY.store(busy, Ordering::Release);
    }

    // The kernel starts the library here: rsp = the program's initial
    // stack, rdi = its entry, rsi = its brk start, rdx = the processor,
    // r8 = the name server's handle.
    global_asm!(
        ".global _start",
        "_start:",
        "mov [rip + {inherit}], r9",
        "mov [rip + {inherit} + 8], r10",
        "mov rcx, rsp",
        "and rsp, -16",
        "call {start}",
        "ud2",
        start = sym start,
        inherit = sym INHERIT,
    );

    /// The stack the library's entries run on (not the program's: a
    /// signal frame goes there, below the interrupted stack pointer, as
    /// on Linux, where the kernel has a stack of its own), for the first
    /// thread; other threads have their own (`Kernel::thread_create`).
    /// One per thread is enough: the entries do not nest (the dispatcher
    /// is disabled while the library runs).
    #[repr(C, align(16))]
    struct Stack([u8; STACK_BYTES]);
    const STACK_BYTES: usize = 256 * 1024;
    static mut STACK: Stack = Stack([0; STACK_BYTES]);

    // A reflected system call: rdi = the save area (the program's frame).
    // The kernel saved everything. The running thread's library stack
    // (`ENTRY_STACK`); `reflect` ends with `resume`.
    global_asm!(
        ".global k42_syslib_syscall_entry",
        "k42_syslib_syscall_entry:",
        "cld",
        "mov rsp, [rip + {top}]",
        "call {reflect}",
        "ud2",
        reflect = sym reflect,
        top = sym ENTRY_STACK,
    );

    // A soft interrupt reached the program in user mode (the kernel's
    // upcall): rdi = the save area (the program's frame), rsi = the bits.
    // A trap (exception) of the program: rdi = the save area, rsi = the
    // vector, rdx = the error code, rcx = CR2. Both run disabled and end
    // with `resume`, as the reflection entry.
    global_asm!(
        ".global k42_syslib_interrupt_entry",
        "k42_syslib_interrupt_entry:",
        "cld",
        "mov rsp, [rip + {top}]",
        "call {interrupt}",
        "ud2",
        ".global k42_syslib_trap_entry",
        "k42_syslib_trap_entry:",
        "cld",
        "mov rsp, [rip + {top}]",
        "call {trap}",
        "ud2",
        // The dispatcher has the processor again after a preemption (the
        // run entry, registered once the program has a second thread):
        // rdi = the save area (the preempted program's frame).
        ".global k42_syslib_run_entry",
        "k42_syslib_run_entry:",
        "cld",
        "mov rsp, [rip + {top}]",
        "call {run}",
        "ud2",
        interrupt = sym interrupt,
        trap = sym trap,
        run = sym run,
        top = sym ENTRY_STACK,
    );

    extern "C" {
        fn k42_syslib_syscall_entry();
        fn k42_syslib_interrupt_entry();
        fn k42_syslib_trap_entry();
        fn k42_syslib_run_entry();
    }

    /// Registers the run entry (time slices between the program's
    /// threads); done when the program first has two.
    pub fn register_run_entry() {
        k42::call3(
            k42::SET_ENTRY_POINT,
            RUN_ENTRY,
            k42_syslib_run_entry as *const () as u64,
            0,
        );
    }

    /// The run entry point's kind (`set_entry_point`).
    const RUN_ENTRY: u64 = 0;

    extern "C" fn start(entry: u64, brk_start: u64, cpu: u64, rsp: u64, names: u64) -> ! {
        // The descriptor table and paths live in the runtime's heap.
        k42_rt::heap::init();
        set_entry_stack(main_stack_top());
        let lib = Syslib::start(
            Kernel::new(),
            Startup {
                rsp,
                entry,
                brk_start,
                cpu,
                names,
            },
        );
        // SAFETY: nothing else runs yet (`BUSY` is set from the start).
        let lib = unsafe { (*LIB.0.get()).write(lib) };
        inherit(lib);
        // Signals sent while the process exec'd this program.
        syslib::signal::take(&mut syslib::Ctx {
            st: &mut lib.state,
            native: &mut lib.native,
        });
        publish_vector(lib);
        BUSY.store(false, Ordering::Release);
        let r = k42::call3(
            k42::SET_ENTRY_POINT,
            k42::SYSCALL_ENTRY,
            k42_syslib_syscall_entry as *const () as u64,
            0,
        );
        // Signals: soft interrupts while the program runs, its exceptions.
        let r =
            r | k42::call3(
                k42::SET_ENTRY_POINT,
                syslib::signal::nr::INTERRUPT_ENTRY,
                k42_syslib_interrupt_entry as *const () as u64,
                0,
            ) | k42::call3(
                k42::SET_ENTRY_POINT,
                syslib::signal::nr::TRAP_ENTRY,
                k42_syslib_trap_entry as *const () as u64,
                0,
            );
        if r != 0 {
            let msg = b"[k42-syslib] the kernel refused the system-call entry point\n";
            k42::call3(k42::CONSOLE_WRITE, msg.as_ptr() as u64, msg.len() as u64, 0);
            k42::exit(127);
        }
        // SAFETY: to the program's entry with its initial stack, as the
        // kernel would start it: rdx = 0 (no exit handler), the other
        // registers cleared.
        unsafe {
            asm!(
                "mov rsp, {sp}",
                "xor eax, eax", "xor ebx, ebx", "xor ecx, ecx", "xor edx, edx",
                "xor esi, esi", "xor edi, edi", "xor ebp, ebp",
                "xor r8d, r8d", "xor r9d, r9d", "xor r10d, r10d", "xor r11d, r11d",
                "xor r12d, r12d", "xor r13d, r13d", "xor r14d, r14d",
                "jmp r15",
                sp = in(reg) rsp,
                in("r15") entry,
                options(noreturn),
            )
        }
    }

    /// Takes over the state the previous program's library handed over
    /// (after an exec).
    fn inherit(lib: &mut Syslib<Kernel>) {
        use syslib::Native;
        let at = INHERIT[0].load(Ordering::Relaxed);
        let len = INHERIT[1].load(Ordering::Relaxed);
        if at == 0 {
            return;
        }
        let mut buf = [0u8; syslib::calls::execve::INHERIT_MAX];
        let Some(blob) = buf.get_mut(..len as usize) else {
            let why = format_args!("inherited state of {len} bytes: dropped");
            return syslib::log(&mut lib.native, why);
        };
        lib.native.read(at, blob);
        let mut ctx = syslib::Ctx {
            st: &mut lib.state,
            native: &mut lib.native,
        };
        if let Err(e) = syslib::calls::execve::take_over(&mut ctx, blob) {
            let why = format_args!("inherited state refused ({e:?})");
            syslib::log(&mut lib.native, why);
        }
    }

    /// Maps the direct-branch vector (read-only once written); without it
    /// programs simply keep trapping.
    fn publish_vector(lib: &mut Syslib<Kernel>) {
        use syslib::abi::{DIRECT_MAGIC, DIRECT_VECTOR, DIRECT_VERSION};
        use syslib::mem::{PAGE, PROT_READ, PROT_WRITE};
        use syslib::Native;
        if lib
            .native
            .map_anon(DIRECT_VECTOR, PAGE, PROT_READ | PROT_WRITE)
            .is_err()
        {
            syslib::log(
                &mut lib.native,
                format_args!("no direct-branch vector: the map failed"),
            );
            return;
        }
        let words = [DIRECT_MAGIC, DIRECT_VERSION, direct as *const () as u64];
        for (i, w) in words.iter().enumerate() {
            lib.native
                .write(DIRECT_VECTOR + 8 * i as u64, &w.to_le_bytes());
        }
        let _ = lib.native.protect(DIRECT_VECTOR, PAGE, PROT_READ);
    }

    /// The direct-branch entry: a Linux call as a function call (SysV:
    /// the number and six arguments; the seventh comes on the stack).
    extern "C" fn direct(nr: u64, a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> u64 {
        if BUSY.swap(true, Ordering::Acquire) {
            return syslib::Errno::EAGAIN.to_return();
        }
        // SAFETY: initialised by `start` before the vector was published;
        // `BUSY` makes this the only reference.
        let lib = unsafe { (*LIB.0.get()).assume_init_mut() };
        let outcome = lib.handle(nr, [a, b, c, d, e, f]);
        BUSY.store(false, Ordering::Release);
        match outcome {
            Outcome::Return(v) => v,
            Outcome::Exit(status) => k42::exit(u64::from(status)),
        }
    }

    type Frame = [u64; frame::WORDS];

    /// Continues the program from `frame` (the kernel's `resume`); `call`:
    /// the number + 1 of the reflected call whose result `frame` holds
    /// (for the kernel's trace), 0 if none.
    fn resume(frame: *const Frame, call: u64) -> ! {
        k42::call3(k42::RESUME, frame as u64, call, 0);
        let msg = b"[k42-syslib] resume refused the frame: killed\n";
        k42::call3(k42::KERNEL_LOG, msg.as_ptr() as u64, msg.len() as u64, 0);
        k42::exit(128 + 11)
    }

    /// What the three entries share: unless a call is already inside the
    /// library (`busy` handles that, on the save area), copies the frame
    /// the kernel saved at `save` onto this thread's library stack (the
    /// save area is the next entry's once this thread waits), runs `body`
    /// on the library and the copy, ends the process if it says so, and
    /// resumes the copy.
    fn enter(
        save: *mut Frame,
        call: bool,
        busy: impl FnOnce(&mut Frame),
        body: impl FnOnce(&mut Syslib<Kernel>, &mut Frame) -> Option<u8>,
    ) -> ! {
        if BUSY.swap(true, Ordering::Acquire) {
            // SAFETY: the kernel passes this processor's save area, in
            // the dispatcher page mapped in every process.
            busy(unsafe { &mut *save });
            resume(save, 0);
        }
        k42::PAGE.store(save as u64 & !0xfff, Ordering::Relaxed);
        // SAFETY: as above; the kernel wrote the whole frame.
        let mut frame: Frame = unsafe { *save };
        let call = if call { frame[frame::RAX] + 1 } else { 0 };
        // SAFETY: initialised by `start` before the entries were
        // registered; `BUSY` makes this the only running reference (see
        // `Instance`).
        let lib = unsafe { (*LIB.0.get()).assume_init_mut() };
        let end = body(lib, &mut frame);
        BUSY.store(false, Ordering::Release);
        if let Some(status) = end {
            k42::exit(u64::from(status));
        }
        resume(&frame, call)
    }

    /// A new thread's first moment, on its own library stack (the
    /// trampoline of `Kernel::thread_create` calls it): the library gives
    /// the program frame it starts from.
    pub extern "C" fn thread_main() -> ! {
        // SAFETY: a thread starts only from a switch made inside the
        // library, which holds `BUSY` for it (see `Instance`).
        let lib = unsafe { (*LIB.0.get()).assume_init_mut() };
        let frame = lib.thread_started();
        BUSY.store(false, Ordering::Release);
        resume(&frame, 0)
    }

    extern "C" fn reflect(save: *mut Frame) -> ! {
        enter(
            save,
            true,
            // A Linux call from inside the library (a bug): refuse it.
            |f| f[frame::RAX] = syslib::Errno::EAGAIN.to_return(),
            |lib, f| lib.handle_frame(f),
        )
    }

    extern "C" fn interrupt(save: *mut Frame, _bits: u64) -> ! {
        enter(
            save,
            false,
            // In the library's direct-branch path: the signals wait in the
            // page and the kernel for the next call.
            |_| {},
            |lib, f| lib.interrupt(f),
        )
    }

    extern "C" fn run(save: *mut Frame) -> ! {
        enter(
            save,
            false,
            // Preempted in the library's direct-branch path: it goes on.
            |_| {},
            |lib, f| lib.preempted(f),
        )
    }

    extern "C" fn trap(save: *mut Frame, vector: u64, error: u64, cr2: u64) -> ! {
        enter(
            save,
            false,
            |_| {
                // A fault in the library itself (its direct-branch path).
                let msg = b"[k42-syslib] an exception inside the library: killed\n";
                k42::call3(k42::KERNEL_LOG, msg.as_ptr() as u64, msg.len() as u64, 0);
                k42::exit(128 + 11);
            },
            |lib, f| lib.trap(f, vector, error, cr2),
        )
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    println!(
        "k42-syslib: the Linux system library of K42-rs; it runs in K42-rs Linux processes only"
    );
}

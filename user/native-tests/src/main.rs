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
//! | `fsbase` | sets the FS base with the native call, reads through `fs:` | status 0 |
//! | `spin` | loops forever (for the scheduler's fairness tests) | never ends |
//! | `work N` | N million loop iterations, then exits | status 0 |
//! | `yield N` | yields N times, checking its registers survive | status 0 |
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
                say!("fsbase: set={r} fs:[8]={v:#x}\n");
                u64::from(r != 0 || v != 0x4b42_4b42)
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

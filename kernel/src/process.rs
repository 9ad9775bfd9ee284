//! Programs: the initramfs, loading an ELF executable into a new address
//! space, and running it to its end.
//!
//! The boot loader's first module is the initramfs, a cpio "newc" archive
//! (`cargo xtask` builds it: `/bin/native-tests` today, busybox and the
//! system library with the Linux personality). [`spawn_and_wait`] reads an
//! executable from it with `elf_loader` (static or static-PIE; malformed
//! files are refused with the loader's message), maps each segment as an
//! anonymous region (written, then given its final protection), builds
//! the SysV initial stack below [`STACK_TOP`], and runs the program on this
//! processor in user mode until it exits or is stopped by a fault.
//!
//! This is the single-dispatcher precursor of K42's process creation: the
//! program runs on the processor that started it, to completion; the
//! dispatcher scheduler, several processes per processor and servers come
//! next (issue 8).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use ::mm::{MapOptions, MmError, Prot};
use elf_loader::{LoadOptions, Memory, MemoryError, Segment, StackParams};
use spin::Once;

use crate::arch::usermode::{self, UserContext};
use crate::mm::user::{new_space, Activation, Space};
use crate::sync::IrqMutex;

/// Top of the initial user stack.
pub const STACK_TOP: u64 = 0x7fff_f000_0000;
/// Size of the user stack region (faulted in on demand).
pub const STACK_SIZE: u64 = 1 << 20;

static INITRAMFS: Once<(u64, u64)> = Once::new();

/// Records where the boot loader put the initramfs (physical start, length).
pub fn set_initramfs(start: u64, len: u64) {
    INITRAMFS.call_once(|| (start, len));
}

/// The initramfs archive, if the boot loader gave one.
pub fn initramfs() -> Option<&'static [u8]> {
    let &(start, len) = INITRAMFS.get()?;
    let p = crate::mm::phys_to_virt(start) as *const u8;
    // SAFETY: the module's frames are reserved at boot (never allocated)
    // and lie in the direct map; nothing writes them.
    Some(unsafe { core::slice::from_raw_parts(p, len as usize) })
}

/// Why a program could not start.
#[derive(Debug)]
pub enum SpawnError {
    /// No initramfs, or no such file in it.
    NotFound(String),
    /// The archive is damaged.
    Archive(cpio::Error),
    /// The file is not an executable this kernel runs.
    Elf(elf_loader::Error),
    /// The arguments do not fit the initial stack.
    Stack(elf_loader::StackError),
    /// Setting up its memory failed.
    Memory(MmError),
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::NotFound(p) => write!(f, "{p}: no such file in the initramfs"),
            SpawnError::Archive(e) => write!(f, "initramfs: {e}"),
            SpawnError::Elf(e) => write!(f, "not a runnable executable: {e}"),
            SpawnError::Stack(e) => write!(f, "arguments too large for the stack: {e:?}"),
            SpawnError::Memory(e) => write!(f, "cannot set up its memory: {e}"),
        }
    }
}

impl From<MmError> for SpawnError {
    fn from(e: MmError) -> Self {
        SpawnError::Memory(e)
    }
}

/// `elf_loader`'s view of a new address space: each segment an anonymous
/// region, written through the HAT's software walk before anything runs.
struct SpaceMemory<'a>(&'a Space);

fn prot(p: elf_loader::Prot) -> Prot {
    Prot {
        read: p.read,
        write: p.write,
        exec: p.execute,
    }
}

impl Memory for SpaceMemory<'_> {
    fn map(&mut self, s: &Segment) -> Result<(), MemoryError> {
        self.0
            .map_anon(
                s.page_start(),
                s.page_end() - s.page_start(),
                Prot::RW,
                MapOptions::default(),
            )
            .map_err(|e| match e {
                MmError::OutOfMemory => MemoryError::NoMemory,
                _ => MemoryError::BadAddress(s.page_start()),
            })
    }

    fn write(&mut self, vaddr: u64, bytes: &[u8]) -> Result<(), MemoryError> {
        self.0
            .write(vaddr, bytes)
            .map_err(|_| MemoryError::BadAddress(vaddr))
    }

    fn protect(&mut self, s: &Segment) -> Result<(), MemoryError> {
        self.0
            .protect(s.page_start(), s.page_end() - s.page_start(), prot(s.prot))
            .map_err(|_| MemoryError::BadAddress(s.page_start()))
    }
}

/// Loads `image` into a new address space with `argv`; returns the space
/// and the initial context.
pub fn load(image: &[u8], argv: &[&[u8]]) -> Result<(Space, UserContext), SpawnError> {
    let space = new_space()?;
    match setup(&space, image, argv) {
        Ok(ctx) => Ok((space, ctx)),
        Err(e) => {
            space.destroy()?;
            Err(e)
        }
    }
}

fn setup(space: &Space, image: &[u8], argv: &[&[u8]]) -> Result<UserContext, SpawnError> {
    let plan = elf_loader::load(image, &LoadOptions::default(), &mut SpaceMemory(space))
        .map_err(SpawnError::Elf)?;
    Ok(setup_rest(space, &plan, &Args::new(argv))?.0)
}

/// The environment of a program the kernel starts.
pub const DEFAULT_ENV: &[&[u8]] = &[b"HOME=/"];

/// What a new program starts with besides its image.
#[derive(Clone, Copy, Debug)]
pub struct Args<'a> {
    /// Its arguments.
    pub argv: &'a [&'a [u8]],
    /// Its environment.
    pub envp: &'a [&'a [u8]],
    /// `AT_EXECFN` (the first argument if `None`).
    pub execfn: Option<&'a [u8]>,
    /// The absolute path of the executable itself (a script's
    /// interpreter), for `/proc/self/exe`: aux entry [`AT_K42_EXE`]
    /// (none if `None`).
    pub exe: Option<&'a [u8]>,
    /// The system library's state a Linux program inherits across exec
    /// (`syscall::exec`), copied to the top of the new stack (empty: none).
    pub inherit: &'a [u8],
}

/// An auxiliary-vector entry of K42-rs: the address of the executable's
/// absolute path (NUL-terminated, at the top of the stack). Linux has no
/// such number; C libraries skip types they do not know.
pub const AT_K42_EXE: u64 = 0x4b42;

/// An auxiliary-vector entry of K42-rs: Unix time in nanoseconds at boot,
/// the zero of the kernel's clock (`time::epoch_ns`), for the system
/// library's `CLOCK_REALTIME`.
pub const AT_K42_EPOCH: u64 = 0x4b43;

impl<'a> Args<'a> {
    /// `argv` with [`DEFAULT_ENV`] and nothing inherited.
    pub fn new(argv: &'a [&'a [u8]]) -> Self {
        Args {
            argv,
            envp: DEFAULT_ENV,
            execfn: None,
            exe: None,
            inherit: &[],
        }
    }
}

/// Most bytes of the initial stack's strings, pointers and inherited
/// state (half the stack region).
pub const MAX_INITIAL_STACK: u64 = STACK_SIZE / 2;

/// The stack, the PPC region and the dispatcher pages of a space whose
/// program `plan` is loaded; the context at its entry and where the
/// inherited state went (0: none).
fn setup_rest(
    space: &Space,
    plan: &elf_loader::LoadPlan,
    args: &Args<'_>,
) -> Result<(UserContext, u64), SpawnError> {
    space.map_anon(
        STACK_TOP - STACK_SIZE,
        STACK_SIZE,
        Prot::RW,
        MapOptions::default(),
    )?;
    // The PPC register block and page: one per processor (`crate::ppc`).
    let per_cpu = MapOptions {
        kind: ::mm::RegionKind::PerCpu,
        ..MapOptions::default()
    };
    space.map_anon(
        crate::ppc::PPC_VA,
        crate::ppc::PPC_REGION,
        Prot::RW,
        per_cpu,
    )?;
    // The dispatcher pages (`crate::ppc::page`), one per processor.
    space.map_anon(
        crate::ppc::DISPATCHER_VA,
        crate::ppc::DISPATCHER_REGION,
        Prot::RW,
        MapOptions::default(),
    )?;
    // The executable's path and the inherited state at the very top,
    // the SysV stack below them.
    let mut top = STACK_TOP;
    let mut put = |bytes: &[u8], nul: bool| -> Result<u64, SpawnError> {
        top = (top - bytes.len() as u64 - u64::from(nul)) & !15;
        space.write(top, bytes)?;
        if nul {
            space.write(top + bytes.len() as u64, &[0])?;
        }
        Ok(top)
    };
    let mut extra = alloc::vec![(AT_K42_EPOCH, crate::time::epoch_ns())];
    if let Some(exe) = args.exe {
        extra.push((AT_K42_EXE, put(exe, true)?));
    }
    let inherit = if args.inherit.is_empty() {
        0
    } else {
        put(args.inherit, false)?
    };
    let stack_top = top;
    let params = StackParams {
        argv: args.argv,
        envp: args.envp,
        random: seed(),
        execfn: args.execfn.or(args.argv.first().copied()),
        extra: &extra,
        ..Default::default()
    };
    let mut size = 4096;
    let initial = loop {
        let mut stack = alloc::vec![0u8; size];
        match elf_loader::build_stack(&mut stack, stack_top, &plan.aux, &params) {
            Ok(initial) => {
                space.write(stack_top - size as u64, &stack)?;
                break initial;
            }
            Err(elf_loader::StackError::TooSmall { needed })
                if needed > size as u64
                    && needed + (STACK_TOP - stack_top) <= MAX_INITIAL_STACK =>
            {
                size = needed.next_multiple_of(4096) as usize;
            }
            Err(e) => return Err(SpawnError::Stack(e)),
        }
    };
    Ok((UserContext::new(plan.entry, initial.rsp), inherit))
}

/// Where the system library of Linux processes lives in the initramfs.
pub const SYSLIB: &str = "/lib/k42-syslib";

/// Loads the Linux executable `image` and the system library into a new
/// address space. The context starts in the library (its ELF entry) with
/// the program's initial stack, `rdi` = the program's entry, `rsi` = its
/// `brk` start, `rdx` = `cpu`, `r8` = the system name server's handle (0:
/// none; [`crate::services`]); the library registers its system-call entry
/// (reflection, `syscall::reflect`) and jumps to the program.
pub fn load_linux(
    image: &[u8],
    argv: &[&[u8]],
    cpu: usize,
) -> Result<(Space, UserContext), SpawnError> {
    load_linux_with(image, &Args::new(argv), cpu)
}

/// [`load_linux`] with an environment and inherited library state (exec,
/// `syscall::exec`): the state lies at the top of the stack, `r9` = its
/// address, `r10` = its length (both 0 when there is none).
pub fn load_linux_with(
    image: &[u8],
    args: &Args<'_>,
    cpu: usize,
) -> Result<(Space, UserContext), SpawnError> {
    let archive = initramfs().ok_or_else(|| SpawnError::NotFound(SYSLIB.into()))?;
    let lib = cpio::find(archive, SYSLIB)
        .map_err(SpawnError::Archive)?
        .ok_or_else(|| SpawnError::NotFound(SYSLIB.into()))?
        .data;
    let space = new_space()?;
    let setup = || -> Result<UserContext, SpawnError> {
        let plan = elf_loader::load(image, &LoadOptions::default(), &mut SpaceMemory(&space))
            .map_err(SpawnError::Elf)?;
        let (mut ctx, inherit) = setup_rest(&space, &plan, args)?;
        let lib_plan = elf_loader::load(lib, &LoadOptions::default(), &mut SpaceMemory(&space))
            .map_err(SpawnError::Elf)?;
        ctx.frame.rip = lib_plan.entry;
        ctx.frame.rdi = plan.entry;
        ctx.frame.rsi = plan.brk_start;
        ctx.frame.rdx = cpu as u64;
        ctx.frame.r9 = inherit;
        ctx.frame.r10 = args.inherit.len() as u64;
        ctx.frame.r8 = crate::services::names();
        Ok(ctx)
    };
    match setup() {
        Ok(ctx) => Ok((space, ctx)),
        Err(e) => {
            space.destroy()?;
            Err(e)
        }
    }
}

/// Which personality a new process gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Personality {
    /// A native K42-rs program: its own system calls only.
    Native,
    /// A Linux program: loaded with the system library, which receives
    /// its reflected system calls.
    Linux,
}

/// The bytes of initramfs file `path`.
pub fn program(path: &str) -> Result<&'static [u8], SpawnError> {
    Ok(program_at(path)?.0)
}

/// Symbolic links followed in one lookup.
pub const MAX_SYMLINKS: usize = 8;

/// The bytes of initramfs file `path` and the path they are at: symbolic
/// links are followed ([`MAX_SYMLINKS`]; a relative target from the
/// link's directory), as busybox's applet links (`/bin/sh`) need.
pub fn program_at(path: &str) -> Result<(&'static [u8], String), SpawnError> {
    let not_found = || SpawnError::NotFound(path.into());
    let archive = initramfs().ok_or_else(not_found)?;
    let mut at = String::from(path);
    for _ in 0..=MAX_SYMLINKS {
        let entry = cpio::find(archive, &at)
            .map_err(SpawnError::Archive)?
            .ok_or_else(not_found)?;
        if entry.kind() != cpio::Kind::Symlink {
            return Ok((entry.data, at));
        }
        let target = core::str::from_utf8(entry.data).map_err(|_| not_found())?;
        at = match (target.starts_with('/'), at.rsplit_once('/')) {
            (false, Some((dir, _))) => alloc::format!("{dir}/{target}"),
            _ => String::from(target),
        };
    }
    Err(not_found())
}

/// The scheduling parameters of a process started by [`start`]: time
/// sharing, weight 100, pinned to its processor.
pub fn default_params() -> sched::Params {
    sched::Params::new(
        sched::Class::TimeSharing,
        sched::Weight::new(100).expect("100 is a valid weight"),
    )
    .pinned()
}

/// Starts initramfs program `path` with `argv` as process `pid`: one
/// dispatcher on processor `cpu` with `params`, runnable; the caller's
/// run loop runs it.
pub fn start_with(
    path: &str,
    argv: &[&[u8]],
    personality: Personality,
    pid: u32,
    cpu: usize,
    params: sched::Params,
) -> Result<alloc::sync::Arc<crate::dispatch::Dispatcher>, SpawnError> {
    let (image, at) = program_at(path)?;
    let (space, ctx) = match personality {
        Personality::Native => load(image, argv)?,
        Personality::Linux => {
            let args = Args {
                exe: Some(at.as_bytes()),
                ..Args::new(argv)
            };
            load_linux_with(image, &args, cpu)?
        }
    };
    let p = crate::dispatch::new_process(space, pid);
    crate::dispatch::create(&p, ctx, cpu, params).map_err(|_| {
        crate::dispatch::discard(&p);
        SpawnError::Memory(MmError::OutOfMemory)
    })
}

/// [`start_with`] a fresh process id, on this processor, with
/// [`default_params`].
pub fn start(
    path: &str,
    argv: &[&[u8]],
    personality: Personality,
) -> Result<alloc::sync::Arc<crate::dispatch::Dispatcher>, SpawnError> {
    let cpu = crate::arch::percpu::current_id();
    start_with(
        path,
        argv,
        personality,
        crate::dispatch::alloc_pid(),
        cpu,
        default_params(),
    )
}

/// Runs `path` as a process on this processor until it ends; returns its
/// exit status.
pub fn start_and_wait(
    path: &str,
    argv: &[&[u8]],
    personality: Personality,
) -> Result<u64, SpawnError> {
    let d = start(path, argv, personality)?;
    crate::dispatch::run_loop(&|| d.status().is_some());
    Ok(d.status().expect("ended"))
}

/// Runs the Linux program `path` from the initramfs, with the system
/// library, as a process of its own on this processor until it ends;
/// returns its exit status.
pub fn spawn_linux_and_wait(path: &str, argv: &[&[u8]]) -> Result<u64, SpawnError> {
    start_and_wait(path, argv, Personality::Linux)
}

/// `AT_RANDOM` bytes: TSC-derived (not cryptographic; there is no entropy
/// source yet).
fn seed() -> [u8; 16] {
    let a = crate::arch::cpu::rdtsc().wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let b = a.rotate_left(29) ^ 0x4b42_4b42_4b42_4b42;
    let mut r = [0u8; 16];
    r[..8].copy_from_slice(&a.to_le_bytes());
    r[8..].copy_from_slice(&b.to_le_bytes());
    r
}

/// Programs run, all processors.
pub static RUNS: AtomicU64 = AtomicU64::new(0);

/// Runs `/path` from the initramfs with `argv` on this processor until it
/// ends; returns its exit status (128 + signal number if a fault stopped
/// it, as a shell reports it).
pub fn spawn_and_wait(path: &str, argv: &[&[u8]]) -> Result<u64, SpawnError> {
    run_image(program(path)?, argv)
}

/// Runs an executable image (already in memory) to its end.
pub fn run_image(image: &[u8], argv: &[&[u8]]) -> Result<u64, SpawnError> {
    let (space, mut ctx) = load(image, argv)?;
    let status = {
        let _on = Activation::new(&space);
        usermode::run(&mut ctx)
    };
    RUNS.fetch_add(1, Ordering::Relaxed);
    space.destroy()?;
    Ok(status)
}

/// Console output of user programs, kept per processor while a test
/// captures it.
static CAPTURE: IrqMutex<Vec<Option<String>>> = IrqMutex::new(Vec::new());

/// Starts keeping this processor's user console output.
pub fn capture() {
    let mut c = CAPTURE.lock();
    let me = crate::arch::percpu::current_id();
    if c.len() <= me {
        c.resize(me + 1, None);
    }
    c[me] = Some(String::new());
}

/// Stops keeping it; returns what was written.
pub fn take_captured() -> String {
    let mut c = CAPTURE.lock();
    let me = crate::arch::percpu::current_id();
    c.get_mut(me).and_then(Option::take).unwrap_or_default()
}

/// Called by the console call with what a program wrote: whether it was
/// kept (then it is not printed as well).
pub fn captured(text: &str) -> bool {
    let mut c = CAPTURE.lock();
    let me = crate::arch::percpu::current_id();
    if let Some(Some(s)) = c.get_mut(me) {
        s.push_str(text);
        true
    } else {
        false
    }
}

ktest::ktest! {
    /// The initramfs is there and holds the test program.
    fn user_initramfs_has_the_test_program() {
        let archive = initramfs().expect("an initramfs module");
        let e = cpio::find(archive, "/bin/native-tests").unwrap().expect("/bin/native-tests");
        assert!(e.data.starts_with(b"\x7fELF"));
    }

    /// A user program runs, prints through a system call, sees its
    /// arguments and exits with its status.
    fn user_program_runs_and_exits() {
        capture();
        let status = spawn_and_wait("/bin/native-tests", &[b"native-tests", b"hello"]).unwrap();
        let out = take_captured();
        assert_eq!(status, 0);
        assert_eq!(out, "hello from user space: argc=2 case=hello\n");
        let status = spawn_and_wait("/bin/native-tests", &[b"native-tests", b"exit", b"42"]).unwrap();
        assert_eq!(status, 42);
    }

    /// Bad pointers in system calls are EFAULT; unknown calls ENOSYS.
    fn user_bad_pointers_and_unknown_calls_are_errors() {
        for case in ["efault", "enosys"] {
            capture();
            let status = spawn_and_wait("/bin/native-tests", &[b"native-tests", case.as_bytes()]).unwrap();
            let out = take_captured();
            assert_eq!(status, 0, "{case}: {out}");
        }
    }

    /// Demand paging of .bss and stack, SSE registers across system
    /// calls, and the FS base.
    fn user_memory_sse_and_fs_base() {
        for case in ["memory", "sse", "fsbase"] {
            capture();
            let status = spawn_and_wait("/bin/native-tests", &[b"native-tests", case.as_bytes()]).unwrap();
            let out = take_captured();
            assert_eq!(status, 0, "{case}: {out}");
        }
    }

    /// Faults in user mode stop the program, not the kernel; `int 0x80`
    /// is refused.
    fn user_faults_stop_the_program() {
        for (case, status) in [("segv", 128 + 11), ("int80", 128 + 11), ("ud", 128 + 4)] {
            let got = spawn_and_wait("/bin/native-tests", &[b"native-tests", case.as_bytes()]).unwrap();
            assert_eq!(got, status, "{case}");
        }
    }

    /// Running a program returns every frame and page table it used.
    fn user_program_leaves_nothing_behind() {
        use crate::mm::user::{usage, usage_back_to};
        let base = usage();
        for case in ["hello", "memory", "segv"] {
            spawn_and_wait("/bin/native-tests", &[b"native-tests", case.as_bytes()]).unwrap();
            assert_eq!(usage_back_to(base), base, "after {case}");
        }
    }

    /// Without the system library in the initramfs, a Linux program is
    /// refused with an error naming it (with it, `linux_tests` run them).
    fn user_linux_program_needs_the_system_library() {
        let archive = initramfs().unwrap();
        if cpio::find(archive, SYSLIB).unwrap().is_some() {
            crate::println!("    (the system library is present)");
            return;
        }
        match spawn_linux_and_wait("/bin/native-tests", &[b"x"]) {
            Err(SpawnError::NotFound(p)) => assert_eq!(p, SYSLIB),
            other => panic!("{other:?}"),
        }
        assert!(matches!(load_linux(b"junk", &[b"x"], 0), Err(SpawnError::NotFound(_))));
    }

    /// Malformed executables are refused with an error.
    fn user_malformed_elf_is_refused() {
        let archive = initramfs().unwrap();
        let good = cpio::find(archive, "/bin/native-tests").unwrap().unwrap().data;
        let mut bad = good.to_vec();
        bad[4] = 1; // ELFCLASS32
        assert!(matches!(run_image(&bad, &[b"x"]), Err(SpawnError::Elf(_))));
        assert!(matches!(run_image(&good[..100], &[b"x"]), Err(SpawnError::Elf(_))));
        assert!(matches!(run_image(b"#!/bin/sh\n", &[b"x"]), Err(SpawnError::Elf(_))));
        assert!(matches!(spawn_and_wait("/bin/nope", &[b"x"]), Err(SpawnError::NotFound(_))));
    }

    /// Every processor runs a program at the same time.
    fn user_programs_on_every_processor() {
        let ok = AtomicU64::new(0);
        let body = || {
            let was = crate::arch::cpu::interrupts_enabled();
            crate::arch::cpu::enable_interrupts();
            let s = spawn_and_wait("/bin/native-tests", &[b"native-tests", b"memory"]).unwrap();
            if s == 0 {
                ok.fetch_add(1, Ordering::SeqCst);
            }
            if !was {
                crate::arch::cpu::disable_interrupts();
            }
        };
        crate::ipi::run_concurrently(&body, body);
        assert_eq!(ok.load(Ordering::SeqCst), crate::arch::percpu::online() as u64);
    }
}

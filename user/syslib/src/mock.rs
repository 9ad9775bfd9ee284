//! A mock of the native layer for the host tests: a sparse memory with
//! per-page protection that **panics** when the library reads, writes,
//! maps over or unmaps memory it should not have (so a missing pointer
//! check fails a test instead of passing silently), a console that keeps
//! what was written, and a counter for the time-stamp counter.

use crate::mem::{PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, STACK_SIZE, STACK_TOP};
use crate::{Errno, Native, Startup};
use ppc_idl::{CallInfo, Dispatch, Message, MethodId, ObjectHandle, PpcError, ProcessId, Rights};
use std::boxed::Box;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::vec::Vec;

/// One native call the library made (for tests to look at).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `map_anon(addr, len, prot)`.
    Map(u64, u64, u32),
    /// `unmap(addr, len)`.
    Unmap(u64, u64),
    /// `protect(addr, len, prot)`.
    Protect(u64, u64, u32),
    /// `map_shared(addr, len, prot)`.
    MapShared(u64, u64, u32),
    /// `futex_wait(addr, expected, timeout_ns)`.
    FutexWait(u64, u32, u64),
    /// `futex_wake(addr, n)`.
    FutexWake(u64, u32),
    /// `map_handle(handle, addr)`.
    MapHandle(u64, u64),
}

/// The mock kernel.
pub struct MockNative {
    pages: BTreeMap<u64, (Box<[u8; PAGE as usize]>, u32)>,
    /// Everything written to the console.
    pub console: Vec<u8>,
    /// Each console write.
    pub writes: Vec<Vec<u8>>,
    /// The memory calls, in order.
    pub ops: Vec<Op>,
    /// The FS base set last.
    pub fs_base: u64,
    /// The GS base set last.
    pub gs_base: u64,
    /// Returned by `cycles`, then advanced by `tick`.
    pub tsc: Cell<u64>,
    /// Added to `tsc` at every `cycles` call.
    pub tick: u64,
    /// What `clock_ns` says.
    pub kernel_clock: Option<u64>,
    /// What `cycles_hz` says.
    pub hz: Option<u64>,
    /// What `hardware_random` returns (then incremented), if any.
    pub rdrand: Option<u64>,
    /// Make the next `map_anon` fail with `ENOMEM`.
    pub fail_map: bool,
    /// Each `exec` asked for: path (with its NUL), argv, envp, the
    /// inherited state (the image, if one was given, is in `images`).
    pub execs: Vec<(Vec<u8>, u64, u64, Vec<u8>)>,
    /// The image each `exec` was given.
    pub images: Vec<Option<Vec<u8>>>,
    /// What `exec` fails with.
    pub exec_error: Errno,
    /// Servers behind `ppc_call`: (object handle, the server's dispatch).
    pub servers: Vec<(ObjectHandle, Box<dyn Dispatch>)>,
    /// The name server's handle handed to the library (0: none).
    pub names: u64,
    /// How many sleepers `futex_wake` finds.
    pub futex_sleepers: u32,
    /// Signals sent and queued, soft bits, the timer.
    pub sig: MockSignals,
    /// Where `fpu_save` saved (it writes 0x5a bytes).
    pub fpu_saves: Vec<u64>,
    /// Where `fpu_restore` loaded from.
    pub fpu_restores: Vec<u64>,
    /// The console as a controlling terminal.
    pub terminal: MockTerminal,
    /// What the console's keyboard will type.
    pub typed: std::collections::VecDeque<u8>,
    /// Whether more may be typed once `typed` is empty (else the console
    /// has no input: `ENODEV`).
    pub keyboard: bool,
    /// Nanoseconds slept.
    pub slept: u64,
    /// Threads given a library context (`thread_create`).
    pub threads_made: Vec<u32>,
    /// What the kernel's `machine` says (`None`: no such call).
    pub machine: Option<crate::machine::Machine>,
}

/// The mock's name server object (process 2, object 0).
pub const NAMES: u64 = (2 << 32) | 1;
/// The mock's file server object (process 3, object 0).
pub const FILES: u64 = (3 << 32) | 1;
/// The file server's clock: a second later at every reading.
fn mock_clock() -> u64 {
    static NOW: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1 << 60);
    NOW.fetch_add(1_000_000_000, std::sync::atomic::Ordering::Relaxed)
}

/// The process id the mock's PPCs come from.
pub const CALLER: u32 = 1;

/// Program layout the mock builds (a small non-PIE static executable).
pub const TEXT: u64 = 0x40_0000;
/// Its data segment.
pub const DATA: u64 = 0x40_2000;
/// Its entry point.
pub const ENTRY: u64 = 0x40_1000;
/// The page after its data and bss.
pub const BRK_START: u64 = 0x40_5000;

impl Default for MockNative {
    fn default() -> Self {
        Self::new()
    }
}

impl MockNative {
    /// An empty address space.
    pub fn new() -> Self {
        MockNative {
            pages: BTreeMap::new(),
            console: Vec::new(),
            writes: Vec::new(),
            ops: Vec::new(),
            fs_base: 0,
            gs_base: 0,
            tsc: Cell::new(1_000_000),
            tick: 0,
            kernel_clock: None,
            hz: Some(2_000_000_000),
            rdrand: None,
            fail_map: false,
            execs: Vec::new(),
            images: Vec::new(),
            exec_error: Errno::ENOENT,
            servers: Vec::new(),
            names: 0,
            futex_sleepers: 0,
            sig: MockSignals::default(),
            fpu_saves: Vec::new(),
            fpu_restores: Vec::new(),
            terminal: MockTerminal::default(),
            typed: std::collections::VecDeque::new(),
            keyboard: false,
            slept: 0,
            threads_made: Vec::new(),
            machine: None,
        }
    }

    /// Adds the system services, as the kernel's `services` starts them:
    /// a name server with a `ramfs` (1 MiB) registered, both real
    /// (`name-server` and `ramfs` crates), reached through `ppc_call`
    /// with every right. Linux processes started afterwards get the name
    /// server's handle.
    pub fn with_files(mut self) -> Self {
        use k42_interfaces::{FileSystemServer, NameService, NameServiceServer};
        let names = name_server::Names::new();
        names
            .register(ppc_idl::ProcessId(3), "ramfs", k42_rt::from_raw(FILES))
            .expect("register ramfs");
        self.servers
            .push((k42_rt::from_raw(NAMES), Box::new(NameServiceServer(names))));
        self.servers.push((
            k42_rt::from_raw(FILES),
            Box::new(FileSystemServer(
                ramfs::Ramfs::new(1 << 20, mock_clock)
                    .with_bell(&BELL)
                    .with_store(&STORE),
            )),
        ));
        self.names = NAMES;
        self
    }

    /// Maps pages as the kernel's loader would (not recorded in `ops`).
    pub fn premap(&mut self, addr: u64, len: u64, prot: u32) {
        for p in (addr..addr + len).step_by(PAGE as usize) {
            self.pages.insert(p, (Box::new([0; PAGE as usize]), prot));
        }
    }

    /// Writes bytes regardless of protection (a test setting memory up).
    pub fn poke(&mut self, addr: u64, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            let a = addr + i as u64;
            let page = self
                .pages
                .get_mut(&(a & !(PAGE - 1)))
                .expect("poke: unmapped");
            page.0[(a % PAGE) as usize] = *b;
        }
    }

    /// Reads a u32 regardless of protection.
    pub fn peek_u32(&self, addr: u64) -> u32 {
        u32::from_le_bytes(self.peek(addr, 4).try_into().expect("4 bytes"))
    }

    /// Reads bytes regardless of protection (a test looking).
    pub fn peek(&self, addr: u64, len: usize) -> Vec<u8> {
        (0..len as u64)
            .map(|i| {
                let a = addr + i;
                self.pages
                    .get(&(a & !(PAGE - 1)))
                    .expect("peek: unmapped")
                    .0[(a % PAGE) as usize]
            })
            .collect()
    }

    /// The protection of the page holding `addr`, if mapped.
    pub fn prot(&self, addr: u64) -> Option<u32> {
        self.pages.get(&(addr & !(PAGE - 1))).map(|p| p.1)
    }

    /// What the console got, as text.
    pub fn console_text(&self) -> std::string::String {
        std::string::String::from_utf8_lossy(&self.console).into_owned()
    }

    /// Builds a Linux process as the kernel does: a text and a data
    /// segment with their program headers, the stack with `argv`, `envp`
    /// and the auxiliary vector. Returns what the kernel passes the
    /// library.
    pub fn linux_process(&mut self, argv: &[&[u8]], envp: &[&[u8]]) -> Startup {
        self.premap(TEXT, 2 * PAGE, PROT_READ | PROT_EXEC);
        self.premap(DATA, 3 * PAGE, PROT_READ | PROT_WRITE);
        let ph = |kind: u32, flags: u32, vaddr: u64, memsz: u64| {
            let mut h = [0u8; 56];
            h[0..4].copy_from_slice(&kind.to_le_bytes());
            h[4..8].copy_from_slice(&flags.to_le_bytes());
            h[16..24].copy_from_slice(&vaddr.to_le_bytes());
            h[24..32].copy_from_slice(&vaddr.to_le_bytes());
            h[40..48].copy_from_slice(&memsz.to_le_bytes());
            h
        };
        let phdr = TEXT + 64;
        self.poke(phdr, &ph(1, 5, TEXT, 0x1800));
        self.poke(phdr + 56, &ph(1, 6, DATA, 0x2100));
        self.poke(phdr + 112, &ph(0x6474_e551, 6, 0, 0));
        self.premap(STACK_TOP - STACK_SIZE, STACK_SIZE, PROT_READ | PROT_WRITE);
        let mut sp = STACK_TOP;
        let mut push_str = |m: &mut Self, s: &[u8]| {
            sp -= s.len() as u64 + 1;
            m.poke(sp, s);
            m.poke(sp + s.len() as u64, &[0]);
            sp
        };
        let argp: Vec<u64> = argv.iter().map(|s| push_str(self, s)).collect();
        let envpp: Vec<u64> = envp.iter().map(|s| push_str(self, s)).collect();
        let random = push_str(self, b"0123456789abcdef");
        let aux = [
            (3u64, phdr),
            (5, 3),
            (6, PAGE),
            (9, ENTRY),
            (25, random),
            (0, 0),
        ];
        let mut words: Vec<u64> = std::vec![argv.len() as u64];
        words.extend(&argp);
        words.push(0);
        words.extend(&envpp);
        words.push(0);
        for (k, v) in aux {
            words.extend([k, v]);
        }
        let rsp = (random - 8 * words.len() as u64) & !15;
        for (i, w) in words.iter().enumerate() {
            self.poke(rsp + 8 * i as u64, &w.to_le_bytes());
        }
        Startup {
            rsp,
            entry: ENTRY,
            brk_start: BRK_START,
            cpu: 0,
            names: self.names,
        }
    }
}

impl Native for MockNative {
    fn console_write(&mut self, bytes: &[u8]) {
        self.console.extend_from_slice(bytes);
        self.writes.push(bytes.to_vec());
    }

    fn map_anon(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        assert!(
            addr.is_multiple_of(PAGE) && len.is_multiple_of(PAGE) && len > 0,
            "map_anon({addr:#x}, {len:#x}): not page aligned"
        );
        assert!(prot & !7 == 0, "map_anon: bad prot {prot:#x}");
        if std::mem::take(&mut self.fail_map) {
            return Err(Errno::ENOMEM);
        }
        for p in (addr..addr + len).step_by(PAGE as usize) {
            assert!(
                !self.pages.contains_key(&p),
                "map_anon over the mapped page {p:#x}"
            );
        }
        self.premap(addr, len, prot);
        self.ops.push(Op::Map(addr, len, prot));
        Ok(())
    }

    fn unmap(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        assert!(
            addr.is_multiple_of(PAGE) && len.is_multiple_of(PAGE),
            "unmap: not page aligned"
        );
        for p in (addr..addr + len).step_by(PAGE as usize) {
            assert!(
                self.pages.remove(&p).is_some(),
                "unmap of the unmapped page {p:#x}"
            );
        }
        self.ops.push(Op::Unmap(addr, len));
        Ok(())
    }

    fn protect(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        assert!(
            addr.is_multiple_of(PAGE) && len.is_multiple_of(PAGE),
            "protect: not page aligned"
        );
        for p in (addr..addr + len).step_by(PAGE as usize) {
            self.pages
                .get_mut(&p)
                .expect("protect of an unmapped page")
                .1 = prot;
        }
        self.ops.push(Op::Protect(addr, len, prot));
        Ok(())
    }

    fn set_fs_base(&mut self, base: u64) -> Result<(), Errno> {
        self.fs_base = base;
        Ok(())
    }

    fn set_gs_base(&mut self, base: u64) -> Result<(), Errno> {
        self.gs_base = base;
        Ok(())
    }

    fn read(&self, addr: u64, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr + i as u64;
            let page = self.pages.get(&(a & !(PAGE - 1)));
            let page = page.unwrap_or_else(|| panic!("the library read the unmapped {a:#x}"));
            assert!(
                page.1 & PROT_READ != 0,
                "the library read the unreadable {a:#x}"
            );
            *b = page.0[(a % PAGE) as usize];
        }
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            let a = addr + i as u64;
            let page = self.pages.get_mut(&(a & !(PAGE - 1)));
            let page = page.unwrap_or_else(|| panic!("the library wrote the unmapped {a:#x}"));
            assert!(
                page.1 & PROT_WRITE != 0,
                "the library wrote the read-only {a:#x}"
            );
            page.0[(a % PAGE) as usize] = *b;
        }
    }

    fn clock_ns(&self) -> Option<u64> {
        self.kernel_clock
    }

    fn machine(&self) -> Option<crate::machine::Machine> {
        self.machine
    }

    fn cycles(&self) -> u64 {
        let t = self.tsc.get();
        self.tsc.set(t + self.tick);
        t
    }

    fn cycles_hz(&self) -> Option<u64> {
        self.hz
    }

    fn hardware_random(&mut self) -> Option<u64> {
        let r = self.rdrand?;
        self.rdrand = Some(r + 1);
        Some(r)
    }

    fn ppc_call(
        &mut self,
        handle: ObjectHandle,
        method: MethodId,
        req: &Message,
        reply: &mut Message,
    ) -> Result<(), PpcError> {
        let (_, server) = self
            .servers
            .iter()
            .find(|(h, _)| *h == handle)
            .ok_or(PpcError::BadHandle)?;
        let info = CallInfo {
            method,
            caller: ProcessId(CALLER),
            rights: Rights(u64::MAX),
        };
        server.dispatch(&info, req, reply)
    }

    fn console_read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        let t = &self.terminal;
        if t.controlling && t.fg != t.pgid {
            return Err(Errno(linux_raw_sys::errno::EIO));
        }
        let mut n = 0;
        while n < buf.len() {
            let Some(b) = self.typed.pop_front() else {
                break;
            };
            buf[n] = b;
            n += 1;
        }
        if n == 0 && !self.keyboard {
            return Err(Errno::ENODEV);
        }
        Ok(n)
    }

    fn terminal_settings(&mut self, save: bool, buf: &mut [u8; 36]) -> Result<bool, Errno> {
        let t = &mut self.terminal;
        if !t.controlling {
            return Err(Errno::ENOTTY);
        }
        match (save, t.settings) {
            (true, _) => t.settings = Some(*buf),
            (false, Some(s)) => *buf = s,
            (false, None) => return Ok(false),
        }
        Ok(true)
    }

    fn terminal(&mut self, op: u64, a: u64, b: u64) -> Result<u64, Errno> {
        use crate::tty::op;
        let t = &mut self.terminal;
        t.calls.push((op, a, b));
        match op {
            op::ACQUIRE => {
                if !t.controlling {
                    (t.controlling, t.fg) = (true, t.pgid);
                }
                return Ok(0);
            }
            _ if !t.controlling => return Err(Errno::ENOTTY),
            _ => {}
        }
        match op {
            op::FOREGROUND => Ok(u64::from(t.fg)),
            op::SIGNALS if t.fg != t.pgid && b == 0 => Err(Errno(linux_raw_sys::errno::EIO)),
            op::SIGNALS => Ok(0),
            op::SET_FOREGROUND => {
                let g = u32::try_from(a as i64).map_err(|_| Errno::EINVAL)?;
                if g != t.pgid && !t.groups.contains(&g) {
                    return Err(Errno::EPERM);
                }
                if t.fg != t.pgid && b == 0 {
                    return Err(Errno(linux_raw_sys::errno::EIO));
                }
                t.fg = g;
                Ok(0)
            }
            op::RELEASE => {
                t.controlling = false;
                Ok(0)
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn sleep_ns(&mut self, ns: u64) -> Result<(), Errno> {
        self.slept += ns;
        // Nobody types while the test sleeps: the keyboard goes away
        // after a second, so a test cannot hang.
        if self.slept >= 1_000_000_000 {
            self.keyboard = false;
        }
        Ok(())
    }

    fn exec(
        &mut self,
        path: &[u8],
        argv: u64,
        envp: u64,
        inherit: &[u8],
        image: Option<&[u8]>,
    ) -> Errno {
        self.execs
            .push((path.to_vec(), argv, envp, inherit.to_vec()));
        self.images.push(image.map(<[u8]>::to_vec));
        self.exec_error
    }

    fn map_shared(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        self.map_anon(addr, len, prot)?;
        self.ops.pop();
        self.ops.push(Op::MapShared(addr, len, prot));
        Ok(())
    }

    /// One thread, so nobody else wakes it: a wait with a timeout times
    /// out, one without returns as if woken (a spurious wake-up, which
    /// callers must take).
    fn futex_wait(&mut self, addr: u64, expected: u32, timeout_ns: u64) -> Result<(), Errno> {
        let mut word = [0u8; 4];
        self.read(addr, &mut word);
        self.ops.push(Op::FutexWait(addr, expected, timeout_ns));
        if u32::from_le_bytes(word) != expected {
            Err(Errno::EAGAIN)
        } else if timeout_ns != 0 {
            Err(Errno(linux_raw_sys::errno::ETIMEDOUT))
        } else {
            Ok(())
        }
    }

    fn futex_wake(&mut self, addr: u64, n: u32) -> Result<u32, Errno> {
        self.ops.push(Op::FutexWake(addr, n));
        Ok(n.min(self.futex_sleepers))
    }

    /// Signals to this process (pid [`CALLER`], or its group 0) are
    /// queued as the kernel would; any other pid is `ESRCH`.
    fn signal_send(&mut self, pid: i64, sig: u32, code: i32, value: u64) -> Result<(), Errno> {
        self.sig.sent.push((pid, sig, code, value));
        if pid != i64::from(CALLER) && pid != 0 {
            return Err(Errno::ESRCH);
        }
        if sig != 0 {
            let who = u64::from(CALLER) | (u64::from(code as u32) << 32);
            self.sig.queued.push_back([u64::from(sig), who, value, 0]);
            self.sig.soft |= crate::signal::SOFT_SIGNAL;
        }
        Ok(())
    }

    fn signal_take(&mut self, out: &mut [[u64; 4]]) -> Result<usize, Errno> {
        let mut n = 0;
        while n < out.len() {
            let Some(q) = self.sig.queued.pop_front() else {
                break;
            };
            out[n] = q;
            n += 1;
        }
        Ok(n)
    }

    fn soft_take(&mut self, bits: u64) -> u64 {
        let got = self.sig.soft & bits;
        self.sig.soft &= !bits;
        got
    }

    fn timer(&mut self, at: u64) {
        self.sig.timer = at;
    }

    fn fpu_save(&mut self, addr: u64) {
        self.write(addr, &[0x5a; crate::signal::FPU_BYTES as usize]);
        self.fpu_saves.push(addr);
    }

    fn fpu_restore(&mut self, addr: u64) {
        self.fpu_restores.push(addr);
    }

    /// Recorded; the mock cannot switch stacks, so a test never lets a
    /// thread wait while another is ready.
    fn thread_create(&mut self, tid: u32) -> Result<(), Errno> {
        self.threads_made.push(tid);
        Ok(())
    }

    /// The mock file server's doorbell ([`MockBell`]): a read-only page
    /// of zeros (nobody rings it here: a wait on it returns at once).
    fn map_handle(&mut self, handle: u64, addr: u64) -> Result<u64, Errno> {
        if let Some(s) = STORE.share_of(handle) {
            // A file's pages ([`STORE`]), as they are now: the mock has no
            // memory shared between two places.
            self.premap(addr, s.len, s.how & 7);
            for off in (0..s.len).step_by(PAGE as usize) {
                let bytes = STORE.peek(s.window, s.offset + off, PAGE as usize);
                if let (Some(b), Some(page)) = (bytes, self.pages.get_mut(&(addr + off))) {
                    page.0.copy_from_slice(&b);
                }
            }
            self.ops.push(Op::MapHandle(handle, addr));
            return Ok(s.len);
        }
        if handle != MockBell::HANDLE {
            return Err(Errno::EBADF);
        }
        self.premap(addr, PAGE, PROT_READ);
        self.ops.push(Op::MapHandle(handle, addr));
        Ok(PAGE)
    }
}

/// The mock file server's doorbell: counts its rings; its page is the
/// mock's [`Native::map_handle`] of [`MockBell::HANDLE`].
pub struct MockBell(pub std::sync::atomic::AtomicU64);

impl MockBell {
    /// The handle `share` gives.
    pub const HANDLE: u64 = 0xbe11;
}

impl ramfs::Bell for MockBell {
    fn ring(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    fn share(&self, _: ProcessId) -> Result<u64, k42_rt::Errno> {
        Ok(Self::HANDLE)
    }
}

/// The doorbell of every mock file server.
pub static BELL: MockBell = MockBell(std::sync::atomic::AtomicU64::new(0));

/// Where every mock file server keeps mapped files.
pub static STORE: ramfs::MemStore = ramfs::MemStore::new();

/// The mock kernel's console terminal (`kernel::syscall::terminal`): the
/// mock process leads its session; its group is `pgid`.
pub struct MockTerminal {
    /// Whether the console is the process's controlling terminal.
    pub controlling: bool,
    /// The foreground group.
    pub fg: u32,
    /// The process's group.
    pub pgid: u32,
    /// The session's other groups (`tcsetpgrp` may choose them).
    pub groups: Vec<u32>,
    /// Every call (op, a, b).
    pub calls: Vec<(u64, u64, u64)>,
    /// The session's `termios` (`terminal_settings`).
    pub settings: Option<[u8; 36]>,
}

impl Default for MockTerminal {
    fn default() -> Self {
        MockTerminal {
            controlling: false,
            fg: CALLER,
            pgid: CALLER,
            groups: Vec::new(),
            calls: Vec::new(),
            settings: None,
        }
    }
}

/// The mock kernel's side of signals.
#[derive(Default)]
pub struct MockSignals {
    /// Every `signal_send` (pid, sig, code, value).
    pub sent: Vec<(i64, u32, i32, u64)>,
    /// Queued for this process, as `signal_take` returns them.
    pub queued: std::collections::VecDeque<[u64; 4]>,
    /// The dispatcher page's soft-interrupt bits.
    pub soft: u64,
    /// The dispatcher timer's deadline (0: none).
    pub timer: u64,
}

/// Test helpers.
#[cfg(test)]
pub mod t {
    use super::*;
    use crate::{Outcome, Syslib};

    /// A started library over a fresh mock process.
    pub fn lib() -> Syslib<MockNative> {
        let mut n = MockNative::new();
        let s = n.linux_process(&[b"prog", b"arg"], &[b"HOME=/"]);
        Syslib::start(n, s)
    }

    /// The same, with the system services (an empty file system).
    pub fn lib_with_files() -> Syslib<MockNative> {
        let mut n = MockNative::new().with_files();
        let s = n.linux_process(&[b"prog", b"arg"], &[b"HOME=/"]);
        Syslib::start(n, s)
    }

    /// Calls `nr` and returns `rax` as a signed value.
    pub fn call(l: &mut Syslib<MockNative>, nr: u32, args: &[u64]) -> i64 {
        let mut a = [0u64; 6];
        a[..args.len()].copy_from_slice(args);
        match l.handle(u64::from(nr), a) {
            Outcome::Return(v) => v as i64,
            Outcome::Exit(s) => panic!("unexpected exit {s}"),
        }
    }

    /// `-errno`.
    pub fn err(e: Errno) -> i64 {
        -i64::from(e.0)
    }

    /// A fresh read-write anonymous mapping of `pages` pages.
    pub fn scratch(l: &mut Syslib<MockNative>, pages: u64) -> u64 {
        use linux_raw_sys::general as g;
        let r = call(
            l,
            g::__NR_mmap,
            &[
                0,
                pages * PAGE,
                3,
                u64::from(g::MAP_PRIVATE | g::MAP_ANONYMOUS),
                u64::MAX,
                0,
            ],
        );
        assert!(r > 0, "mmap: {r}");
        r as u64
    }
}

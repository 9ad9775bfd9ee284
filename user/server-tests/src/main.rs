//! # server-tests: a client of the first K42-rs servers
//!
//! Run by the kernel's `server_tests` after it has started `name-server`,
//! `console-server` and `ramfs` on the same processor:
//! `server-tests CASE NAMES CPU`, `NAMES` the name server's handle (hex),
//! `CPU` the processor the servers run on.
//!
//! | case | is | checks |
//! |------|----|--------|
//! | `client` | granted register (name server), write + admin (ramfs) | names, both console objects, async messages, files: create, write and read at the description's offset, hold and close, list, symlink, rename, remove; bad handles and descriptions |
//! | `stranger` | granted nothing beyond the defaults | lookups and reads work; register, create, write, chmod fail with `EACCES`; a made-up description is `EBADF` |
//! | `gone` | run after ramfs ended | a call to it is `EBADF`; the others still serve |
//! | `bench` | as `client` | cycles per PPC through each server (`kbench:` line) |
//!
//! Each prints one line per check that fails and a summary line, and exits
//! with the number of failed checks.
#![cfg_attr(target_os = "none", no_std, no_main)]

k42_rt::entry!(program::main);

#[cfg(target_os = "none")]
mod program {
    use k42_interfaces::flags::{O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR};
    use k42_interfaces::{
        dirent, kind, ConsoleClient, FileSystemClient, NameServiceClient, AT_CURRENT, SEEK_CUR,
        SEEK_SET,
    };
    use k42_rt::errno::flatten;
    use k42_rt::sys::{self, Deadline, Prot};
    use k42_rt::transport::KernelTransport;
    use k42_rt::{dispatcher, println, Args, Errno};
    use ppc_idl::{ObjectHandle, PpcError, ProcessId};

    struct Checks {
        failed: u64,
        passed: u64,
    }

    impl Checks {
        fn check(&mut self, ok: bool, what: core::fmt::Arguments<'_>) {
            if ok {
                self.passed += 1;
            } else {
                self.failed += 1;
                println!("server-tests: FAILED: {what}");
            }
        }
    }

    macro_rules! check {
        ($c:expr, $ok:expr, $($t:tt)*) => { $c.check($ok, format_args!($($t)*)) };
    }

    pub fn main(args: Args) -> u64 {
        let case = args.get_str(1).unwrap_or("");
        let Some(names) = args.get_u64(2).map(k42_rt::from_raw) else {
            println!("server-tests: usage: server-tests CASE NAMES-HANDLE");
            return 255;
        };
        // Async messages go to the servers' processor, ours.
        let cpu = args.get_u64(3).unwrap_or(0);
        let t = KernelTransport::on(cpu);
        let names = NameServiceClient::new(&t, names);
        let mut c = Checks {
            failed: 0,
            passed: 0,
        };
        let lookup = |n: &str| flatten(names.lookup(n));
        let (Ok(con), Ok(log), Ok(fs)) = (lookup("console"), lookup("log"), lookup("ramfs")) else {
            println!("server-tests: the servers are not all registered");
            return 254;
        };
        let console = ConsoleClient::new(&t, con);
        let log = ConsoleClient::new(&t, log);
        let fs = FileSystemClient::new(&t, fs);
        match case {
            "client" => client(&mut c, &t, cpu, &names, &console, &log, &fs),
            "stranger" => stranger(&mut c, &names, &console, &fs),
            "bench" => bench(&names, &console, &fs),
            "gone" => gone(&mut c, &names, &console, &fs),
            _ => {
                println!("server-tests: unknown case '{case}'");
                return 253;
            }
        }
        println!(
            "server-tests: {case}: {} passed, {} failed",
            c.passed, c.failed
        );
        c.failed
    }

    fn client(
        c: &mut Checks,
        t: &KernelTransport,
        cpu: u64,
        names: &NameServiceClient<'_>,
        console: &ConsoleClient<'_>,
        log: &ConsoleClient<'_>,
        fs: &FileSystemClient<'_>,
    ) {
        // Names: register, look up, unregister one's own; not another's.
        let con = console.handle();
        check!(
            c,
            flatten(names.register("alias", con)).is_ok(),
            "register alias"
        );
        check!(c, flatten(names.lookup("alias")) == Ok(con), "lookup alias");
        let mut buf = [0u8; 256];
        let listed = flatten(names.list(0, &mut buf));
        check!(c, matches!(listed, Ok((4, _))), "list: {listed:?}");
        check!(
            c,
            flatten(names.unregister("alias")).is_ok(),
            "unregister alias"
        );
        check!(
            c,
            flatten(names.lookup("alias")) == Err(Errno::ENOENT),
            "alias gone"
        );
        let theirs = flatten(names.unregister("console"));
        check!(
            c,
            theirs == Err(Errno::EPERM),
            "unregister another's name: {theirs:?}"
        );
        let bad = flatten(names.register("a/b", con));
        check!(c, bad == Err(Errno::EINVAL), "bad name: {bad:?}");

        // The console server, both objects of one process (counted from
        // here: an earlier client may have written).
        let (w0, b0) = console.stats().unwrap_or_default();
        let (lw0, lb0) = log.stats().unwrap_or_default();
        let msg = b"server-tests: hello through the console server\n";
        check!(
            c,
            flatten(console.write(msg)) == Ok(msg.len() as u32),
            "console write"
        );
        check!(
            c,
            flatten(log.write(b"a line in the log\n")) == Ok(18),
            "log write"
        );
        check!(
            c,
            console.stats() == Ok((w0 + 1, b0 + msg.len() as u64)),
            "console stats: {:?}",
            console.stats()
        );
        check!(c, log.stats() == Ok((lw0 + 1, lb0 + 18)), "log stats");
        check!(
            c,
            flatten(console.read(&mut buf)) == Err(Errno::EAGAIN),
            "no input yet"
        );
        // Async messages: queued in the server's dispatcher page, taken
        // when it next runs (before it serves the next call).
        let (n0, s0) = log.notes().unwrap_or_default();
        let sent = (1..=40u64).all(|i| log.note(i).is_ok());
        check!(c, sent, "40 async notes (more than the ring holds)");
        let notes = log.notes();
        check!(
            c,
            notes == Ok((n0 + 40, s0 + 820)),
            "notes arrived: {notes:?}"
        );
        check!(
            c,
            console.notes() == Ok((0, 0)),
            "notes went to the log object only"
        );

        // Native calls through k42-rt's typed wrappers: the clock, a
        // timer (its soft interrupt wakes us), anonymous memory.
        let t0 = sys::clock().unwrap_or(0);
        check!(
            c,
            sys::set_timer(Deadline::After(2_000_000)).is_ok(),
            "set a timer"
        );
        let mut fired = false;
        for _ in 0..10_000 {
            let _ = sys::block();
            if dispatcher::take_soft_bits(cpu) & dispatcher::SOFT_TIMER != 0 {
                fired = true;
                break;
            }
        }
        let waited = sys::clock().unwrap_or(0).saturating_sub(t0);
        check!(
            c,
            fired && waited >= 2_000_000,
            "timer fired after {waited} ns"
        );
        const AT: u64 = 0x5000_0000_0000;
        check!(
            c,
            sys::map_anon(AT, 16384, Prot::READ_WRITE).is_ok(),
            "map_anon"
        );
        let p = (AT + 8192) as *mut u64;
        // SAFETY: just mapped read-write, page aligned, and ours alone.
        let v = unsafe {
            p.write_volatile(0x4b42);
            p.read_volatile()
        };
        check!(c, v == 0x4b42, "anonymous memory holds a value");
        check!(c, sys::unmap(AT, 16384).is_ok(), "unmap");
        let odd = sys::map_anon(AT + 1, 4096, Prot::READ_WRITE);
        check!(c, odd == Err(Errno::EINVAL), "unaligned map_anon: {odd:?}");

        // Files: create, write across a page at the description's offset,
        // read back, share the description, list, link, rename, remove.
        check!(c, flatten(fs.mkdir("/dir", 0o755)).is_ok(), "mkdir");
        let fd = flatten(fs.create("/dir/file", O_CREAT | O_EXCL | O_RDWR, 0o644));
        check!(c, fd.is_ok(), "create: {fd:?}");
        let fd = fd.unwrap_or(u64::MAX);
        let mut data = [0u8; 4096];
        for (i, b) in data.iter_mut().enumerate() {
            *b = (i * 7 % 251) as u8;
        }
        let w1 = flatten(fs.write(fd, AT_CURRENT, &data));
        let w2 = flatten(fs.write(fd, AT_CURRENT, &data[..904]));
        check!(c, (w1, w2) == (Ok(4096), Ok(904)), "writes: {w1:?} {w2:?}");
        let at = flatten(fs.seek(fd, 0, SEEK_CUR));
        check!(c, at == Ok(5000), "the offset advanced: {at:?}");
        let st = flatten(fs.fstat(fd));
        check!(
            c,
            st.map(|s| (s.size, s.kind, s.nlink)) == Ok((5000, kind::FILE, 1)),
            "fstat: {st:?}"
        );
        let mut back = [0u8; 4096];
        let r1 = flatten(fs.read(fd, 0, &mut back));
        check!(
            c,
            r1 == Ok(4096) && back == data,
            "read back page 1: {r1:?}"
        );
        let _ = fs.seek(fd, 4096, SEEK_SET);
        let r2 = flatten(fs.read(fd, AT_CURRENT, &mut back));
        check!(
            c,
            r2 == Ok(904) && back[..904] == data[..904],
            "read back the rest: {r2:?}"
        );
        check!(
            c,
            flatten(fs.read(fd, AT_CURRENT, &mut back)) == Ok(0),
            "read at the end"
        );
        // A second reference (what dup and fork take): one close leaves
        // the description open.
        check!(c, flatten(fs.hold(fd)).is_ok(), "hold");
        check!(c, flatten(fs.close(fd)).is_ok(), "close one reference");
        check!(
            c,
            flatten(fs.seek(fd, 0, SEEK_CUR)) == Ok(5000),
            "still open, same offset"
        );
        check!(c, flatten(fs.close(fd)).is_ok(), "close");
        check!(c, flatten(fs.close(fd)) == Err(Errno::EBADF), "close twice");
        let again = flatten(fs.create("/dir/file", O_CREAT | O_EXCL | O_RDWR, 0));
        check!(c, again == Err(Errno::EEXIST), "O_EXCL: {again:?}");
        check!(
            c,
            flatten(fs.symlink("file", "/dir/link")).is_ok(),
            "symlink"
        );
        let mut list = [0u8; 512];
        let d = flatten(fs.open("/dir", O_RDONLY | O_DIRECTORY)).unwrap_or(u64::MAX);
        let rd = flatten(fs.getdents(d, &mut list));
        let listed = rd.map(|(_, len)| {
            dirent::iter(&list[..len as usize])
                .map(|(_, k, n)| (k, n))
                .eq([
                    (kind::DIR, "."),
                    (kind::DIR, ".."),
                    (kind::FILE, "file"),
                    (kind::SYMLINK, "link"),
                ])
        });
        check!(c, listed == Ok(true), "getdents: {rd:?}");
        let _ = fs.close(d);
        let mut target = [0u8; 16];
        let rl = flatten(fs.readlink("/dir/link", &mut target));
        check!(
            c,
            rl == Ok(4) && &target[..4] == b"file",
            "readlink: {rl:?}"
        );
        check!(
            c,
            flatten(fs.rename("/dir/file", "/dir/renamed")).is_ok(),
            "rename"
        );
        check!(
            c,
            flatten(fs.stat("/dir/file")) == Err(Errno::ENOENT),
            "old name gone"
        );
        check!(
            c,
            flatten(fs.stat("/dir/renamed")).map(|s| s.size) == Ok(5000),
            "new name"
        );
        check!(
            c,
            flatten(fs.chmod("/dir/renamed", 0o600)).is_ok(),
            "chmod (admin)"
        );
        check!(
            c,
            flatten(fs.rmdir("/dir")) == Err(Errno::ENOTEMPTY),
            "rmdir non-empty"
        );
        check!(c, flatten(fs.unlink("/dir/renamed")).is_ok(), "unlink");
        check!(
            c,
            flatten(fs.unlink("/dir/link")).is_ok(),
            "unlink the link"
        );
        check!(c, flatten(fs.rmdir("/dir")).is_ok(), "rmdir");
        check!(
            c,
            flatten(fs.stat("/dir")) == Err(Errno::ENOENT),
            "all gone"
        );
        let d = flatten(fs.open("/", O_RDONLY | O_DIRECTORY));
        check!(c, d.is_ok(), "open / as a directory");
        let d = d.unwrap_or(0);
        check!(
            c,
            flatten(fs.read(d, 0, &mut back)) == Err(Errno::EISDIR),
            "read a dir"
        );
        let _ = fs.close(d);

        // Bad handles and file handles fail cleanly.
        check!(
            c,
            flatten(fs.read(42 | 0x1234 << 32, 0, &mut back)) == Err(Errno::EBADF),
            "made-up description"
        );
        let h = console.handle();
        let stale = ConsoleClient::new(t, ObjectHandle::new(h.server, h.index, h.seq + 1));
        check!(
            c,
            stale.stats() == Err(PpcError::BadHandle),
            "stale handle: {:?}",
            stale.stats()
        );
        let unexported = ConsoleClient::new(t, ObjectHandle::new(h.server, 9, 1));
        check!(
            c,
            unexported.stats() == Err(PpcError::BadHandle),
            "unexported index"
        );
        let nobody = ConsoleClient::new(t, ObjectHandle::new(ProcessId(0xfff0), 0, 1));
        check!(
            c,
            nobody.stats() == Err(PpcError::BadHandle),
            "no such process"
        );
        let wide = ConsoleClient::new(t, ObjectHandle::new(h.server, 0x1_0000, 1));
        check!(
            c,
            wide.stats() == Err(PpcError::BadHandle),
            "index beyond 16 bits"
        );
    }

    fn stranger(
        c: &mut Checks,
        names: &NameServiceClient<'_>,
        console: &ConsoleClient<'_>,
        fs: &FileSystemClient<'_>,
    ) {
        let reg = names.register("mine", console.handle());
        check!(
            c,
            reg == Err(PpcError::NoRights),
            "register without the right: {reg:?}"
        );
        check!(c, flatten(reg) == Err(Errno::EACCES), "... is EACCES");
        let cr = flatten(fs.create("/x", O_CREAT | O_RDWR, 0o644));
        check!(c, cr == Err(Errno::EACCES), "create without write: {cr:?}");
        check!(
            c,
            flatten(fs.mkdir("/y", 0o755)) == Err(Errno::EACCES),
            "mkdir without write"
        );
        check!(
            c,
            flatten(fs.chmod("/", 0o700)) == Err(Errno::EACCES),
            "chmod without admin"
        );
        let d = flatten(fs.open("/", O_RDONLY));
        check!(c, d.is_ok(), "reading is for everyone: {d:?}");
        let d = d.unwrap_or(0);
        let w = flatten(fs.write(d, AT_CURRENT, b"x"));
        check!(c, w == Err(Errno::EACCES), "write without the right: {w:?}");
        let mut b = [0u8; 8];
        let bad = flatten(fs.read(7 | 0x5a5a << 32, 0, &mut b));
        check!(
            c,
            bad == Err(Errno::EBADF),
            "a made-up description: {bad:?}"
        );
        let _ = fs.close(d);
        check!(
            c,
            flatten(console.write(b"server-tests: a stranger may write\n")).is_ok(),
            "console"
        );
    }

    /// After ramfs has ended: its name still resolves, but its handle
    /// names a dead object (`EBADF`); the other servers still serve.
    fn gone(
        c: &mut Checks,
        names: &NameServiceClient<'_>,
        console: &ConsoleClient<'_>,
        fs: &FileSystemClient<'_>,
    ) {
        let st = fs.stat("/");
        check!(
            c,
            st == Err(PpcError::BadHandle),
            "a call to a dead server: {st:?}"
        );
        check!(c, flatten(st) == Err(Errno::EBADF), "... is EBADF");
        check!(
            c,
            flatten(names.lookup("console")) == Ok(console.handle()),
            "names still serve"
        );
        check!(c, console.stats().is_ok(), "the console still serves");
    }

    fn bench(
        names: &NameServiceClient<'_>,
        console: &ConsoleClient<'_>,
        fs: &FileSystemClient<'_>,
    ) {
        const N: u64 = 500;
        let time = |f: &mut dyn FnMut() -> bool| -> u64 {
            let t0 = k42_rt::sys::rdtsc();
            for _ in 0..N {
                if !f() {
                    return u64::MAX;
                }
            }
            (k42_rt::sys::rdtsc() - t0) / N
        };
        let fd = flatten(fs.create("/bench", O_CREAT | O_RDWR, 0o644)).unwrap_or(u64::MAX);
        let page = [5u8; 4096];
        let mut back = [0u8; 4096];
        let stats = time(&mut || console.stats().is_ok());
        let lookup = time(&mut || names.lookup("ramfs").is_ok());
        let write = time(&mut || flatten(fs.write(fd, 0, &page)) == Ok(4096));
        let read = time(&mut || flatten(fs.read(fd, 0, &mut back)) == Ok(4096));
        let stat = time(&mut || flatten(fs.stat("/bench")).is_ok());
        let t0 = k42_rt::sys::rdtsc();
        for _ in 0..N {
            sys::syscall3(0x4b42_0fff, 0, 0, 0);
        }
        let null = ((k42_rt::sys::rdtsc() - t0) / N).max(1);
        println!(
            "kbench: server PPC cycles console.stats={stats} names.lookup={lookup} ramfs.write4k={write} ramfs.read4k={read} ramfs.stat={stat} null_syscall={null} stats/syscall={}x read4k/syscall={}x",
            stats / null,
            read / null
        );
    }
}

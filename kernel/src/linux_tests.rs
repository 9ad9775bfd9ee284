//! In-QEMU tests of the Linux personality (issue 9): unmodified static
//! Linux programs (C, `musl-gcc -static`, from `tests/linux-hello`) run
//! with the system library `/lib/k42-syslib` (`user/syslib`), which the
//! kernel loads beside them; their Linux system calls are reflected to it.
//! Each test checks what the program printed (through the library's
//! `write`/`writev` on the console) and its exit status.
//!
//! Without `musl-gcc` on the build machine xtask leaves the programs out;
//! the tests then say so and pass.

use alloc::string::String;

use crate::process::{capture, initramfs, spawn_linux_and_wait, take_captured};

/// Runs `/bin/<name>` with `args`; its status and output, or `None` (with
/// a note) when the initramfs does not have it.
fn run(name: &str, args: &[&str]) -> Option<(u64, String)> {
    let path = alloc::format!("/bin/{name}");
    let archive = initramfs().expect("an initramfs");
    if cpio::find(archive, &path).ok().flatten().is_none() {
        crate::println!("    ({path} is not in the initramfs: built without musl-gcc; skipped)");
        return None;
    }
    let mut argv: alloc::vec::Vec<&[u8]> = alloc::vec![name.as_bytes()];
    argv.extend(args.iter().map(|a| a.as_bytes()));
    capture();
    let status = spawn_linux_and_wait(&path, &argv);
    let out = take_captured();
    let status = status.unwrap_or_else(|e| panic!("{path}: {e}\n{out}"));
    Some((status, out))
}

/// Passes a program's `kbench:` lines on to the console (its output was
/// captured, not printed).
fn pass_on_kbench(out: &str) {
    for line in out.lines().filter(|l| l.starts_with("kbench:")) {
        crate::println!("{line}");
    }
}

/// [`run`] with a fresh set of system services, so the program has an
/// empty file system.
fn run_with_files(name: &str, args: &[&str]) -> Option<(u64, String)> {
    crate::services::with_system(|| run(name, args)).unwrap_or_else(|e| panic!("{e}"))
}

ktest::ktest! {
    /// No Linux system call, whatever its number and arguments, brings the
    /// kernel down: `tests/linux-hello/fuzz.c` throws random calls at the
    /// system library (and through it at the kernel and the servers) for a
    /// few seconds of guest time (`fuzz.seconds=N`, 5 by default; `cargo
    /// xtask test` also runs a minute), each run stopped after half a
    /// second or when it dies. Afterwards the services still serve a file
    /// program and no frame is left behind.
    fn linux_fuzz_system_calls() {
        use crate::dispatch;
        let path = "/bin/linux-fuzz";
        if crate::process::program(path).is_err() {
            crate::println!("    ({path} is not in the initramfs: built without musl-gcc; skipped)");
            return;
        }
        let secs = crate::cmdline().get_u64("fuzz.seconds").unwrap_or(5);
        let base = crate::mm::user::usage();
        let now = crate::time::now_ns;
        let (runs, died) = crate::services::with_system(|| {
            let end = now() + secs * 1_000_000_000;
            let (mut runs, mut died) = (0u64, 0u64);
            while now() < end {
                runs += 1;
                let seed = alloc::format!("{runs}");
                capture();
                let d = crate::process::start(path, &[b"linux-fuzz", seed.as_bytes()], crate::process::Personality::Linux)
                    .unwrap_or_else(|e| panic!("{path}: {e}"));
                let stop = now() + 500_000_000;
                dispatch::run_loop(&|| d.status().is_some() || now() >= stop);
                if d.status().is_some() {
                    died += 1;
                }
                dispatch::kill_process(&d.process, 0);
                let _ = take_captured();
            }
            let after = run("linux-files", &[]).expect("linux-files is there too");
            assert_eq!(after.0, 0, "the services still serve files: {}", after.1);
            (runs, died)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        crate::println!("    {runs} fuzz runs, {died} ended by the program's own fault or call before the deadline");
        assert!(runs > 0);
        assert_eq!(crate::mm::user::usage_back_to(base), base, "nothing left behind");
    }
}

ktest::ktest! {
    /// Files through the system library and the file server (ramfs, by
    /// PPC from the library): every check of `tests/linux-hello/files.c`
    /// (offsets shared by dup and fork, O_APPEND, stat, directories,
    /// getdents, links, unlink while open, /dev, /proc, the errors).
    fn linux_files() {
        let base = crate::mm::user::usage();
        let Some((status, out)) = run_with_files("linux-files", &[]) else { return };
        assert!(!out.contains("FAILED"), "{out}");
        assert_eq!(out.lines().filter(|l| l.ends_with(": ok")).count(), 36, "{out}");
        assert_eq!(status, 0, "{out}");
        assert_eq!(crate::mm::user::usage_back_to(base), base);
    }

    /// The console as a terminal: typed lines (a carriage return, an
    /// erased character) reach the program through the library's line
    /// discipline, echoed; when nothing more can be typed it reads end of
    /// file.
    fn linux_console_input() {
        crate::syscall::console_read::push_input(b"hello\rworx\x7fld\n");
        let Some((status, out)) = run("linux-stdin", &[]) else { return };
        assert_eq!(
            out,
            "hello\nworx\x08 \x08ld\ngot: HELLO\ngot: WORLD\n2 lines, then end of file\n"
        );
        assert_eq!(status, 0);
    }

    /// Hello world: musl's start-up, printf, exit status; no call the
    /// library does not know (it would log it).
    fn linux_hello_world() {
        let Some((status, out)) = run("linux-hello", &[]) else { return };
        assert_eq!(out, "hello from Linux on K42-rs\n");
        assert_eq!(status, 7);
    }

    /// fork (copy-on-write: the child's store stays its own), _exit and
    /// waitpid with the child's exit code.
    fn linux_fork_and_wait() {
        let Some((status, out)) = run("linux-fork", &[]) else { return };
        assert_eq!(
            out,
            "before fork\nchild: shared=42\nparent: waited for the child, exited=1 code=3, shared=41\n"
        );
        assert_eq!(status, 0);
    }

    /// vfork and posix_spawn (`syscall::vfork`, the library's
    /// `calls::vfork`): the child's store reaches the parent, which ran
    /// only after the child ended (a signal the child sent it is handled
    /// after that); the child has its own pid and the parent's as its
    /// parent; posix_spawn with a file action runs the program and
    /// collects its status, a missing file is ENOENT. A child that
    /// SIGKILLs its waiting parent ends it and goes on alone. Every frame
    /// comes back.
    fn linux_vfork_and_posix_spawn() {
        use crate::mm::user::{usage, usage_back_to};
        let base = usage();
        let Some((status, out)) = run_with_files("linux-vfork", &[]) else { return };
        assert_eq!(
            out,
            "child's store seen: 2, the signal handled after the child: yes, status 3\n\
             child's getpid: the child's, its getppid: the parent, the parent's getpid after: its own\n\
             posix_spawn: ok, status 5\n\
             posix_spawn of a missing file: ENOENT\n"
        );
        assert_eq!(status, 0, "{out}");
        let killed = crate::services::with_system(|| {
            let r = run("linux-vfork", &["kill-parent"]);
            // The child outlives its parent: run it to its end.
            let parent = r.as_ref().and_then(|(_, out)| {
                out.lines().next()?.strip_prefix("parent ")?.parse::<u64>().ok()
            });
            if let Some(parent) = parent {
                let end = crate::time::now_ns() + 2_000_000_000;
                crate::dispatch::run_loop(&|| {
                    crate::time::now_ns() >= end
                        || !crate::dispatch::processes().iter().any(|p| {
                            p.parent.load(core::sync::atomic::Ordering::Relaxed) == parent
                        })
                });
            }
            r
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let Some((status, out)) = killed else { return };
        assert_eq!(status, 128 + 9, "{out}");
        assert!(!out.contains("ran on"), "{out}");
        assert_eq!(usage_back_to(base), base, "nothing left behind");
    }

    /// execve (`syscall::exec`, the library's `calls::execve`): failed
    /// execs return their error and the program goes on; a forked child
    /// execs and its parent collects the new program's status (also with
    /// a NULL argv, which arrives as `[""]`); `#!` scripts in the
    /// initramfs and in the file server run their interpreter with
    /// Linux's argv; files without execute permission are EACCES; the
    /// program re-executes itself with new argv and envp, keeping its pid,
    /// its blocked signals and ignored ones (caught ones reset), its
    /// descriptors (close-on-exec ones closed), working directory and
    /// umask, and ends with the new image's status. Every frame comes
    /// back.
    fn linux_exec() {
        use crate::mm::user::{usage, usage_back_to};
        let base = usage();
        let Some((status, out)) = run_with_files("linux-exec", &[]) else { return };
        assert_eq!(
            out,
            "missing file: -1 ENOENT\n\
             not an executable: -1 ENOEXEC\n\
             a directory: -1 EACCES\n\
             a file as a directory: -1 ENOTDIR\n\
             bad path pointer: -1 EFAULT\n\
             bad argv pointer: -1 EFAULT\n\
             bad argv string: -1 EFAULT\n\
             an argument over 128 KiB: -1 E2BIG\n\
             still running after the failed execs\n\
             forked child runs the new program: hello (/proc/self/exe is the program: yes)\n\
             forked child's status: 9\n\
             forked child runs the new program: through a symbolic link \
             (/proc/self/exe is the program: yes)\n\
             linked child's status: 9\n\
             exec'd without argv: argc=1 argv[0]=[]\n\
             no-argv child's status: 6\n\
             interpreter argv: [/bin/linux-exec] [script-arg] [/bin/linux-exec-script] [x] [y]\n\
             script's status: 4\n\
             a file without execute permission: -1 EACCES\n\
             a file neither ELF nor script: -1 ENOEXEC\n\
             interpreter argv: [/bin/linux-exec] [script-arg] [./s.sh] [x]\n\
             file system script's status: 4\n\
             exec'd: argc=5 [child] [<pid>] [with space] []\n\
             env A=1\nenv B=two words\nenv EMPTY=\n\
             same pid: yes\n\
             SIGUSR2 still blocked: yes\n\
             SIGUSR1 reset to default: yes\n\
             SIGPIPE still ignored: yes\n\
             descriptor 10 kept, at its offset: yes\n\
             working directory kept: yes\n\
             close-on-exec descriptor 11 closed: yes\n\
             umask kept: yes\n\
             /proc/self/exe is the program: yes\n"
        );
        assert_eq!(status, 5, "{out}");
        assert_eq!(usage_back_to(base), base, "nothing left behind");
    }

    /// The exec benchmark runs (20 execs of itself, 20 fork + exec + exit
    /// + wait rounds; `cargo xtask bench` runs it longer) and returns
    /// every frame.
    fn linux_exec_benchmark_runs() {
        use crate::mm::user::{usage, usage_back_to};
        let base = usage();
        let Some((status, out)) = run("linux-exec", &["bench", "20"]) else { return };
        assert_eq!(status, 0, "{out}");
        pass_on_kbench(&out);
        for what in ["cycles/exec=", "cycles/spawn="] {
            let line = out.lines().find(|l| l.contains(what)).unwrap_or_else(|| panic!("{what}: {out}"));
            let cycles: u64 = line.rsplit('=').next().and_then(|v| v.parse().ok()).unwrap_or(0);
            assert!(cycles > 0, "{line}");
        }
        assert_eq!(usage_back_to(base), base, "nothing left behind");
    }

    /// A program the kernel starts through a symbolic link
    /// (`/bin/linux-exec-link`, as busybox's applets are started): the
    /// link is followed, and `/proc/self/exe` names the program itself.
    fn linux_start_through_a_link() {
        let Some((status, out)) = run_with_files("linux-exec-link", &["exe"]) else { return };
        assert_eq!((status, out.as_str()), (0, "exe /bin/linux-exec\n"));
    }

    /// A process killed while it execs itself over and over (at whatever
    /// point of an exec the kill finds it: a new image half started, its
    /// library not yet registered; with several processors, killed from
    /// another one while it runs, in the middle of an exec call too)
    /// leaves nothing behind.
    fn linux_exec_killed_midway() {
        use crate::dispatch::{alloc_pid, kill_process, run_loop, run_loop_everywhere};
        use crate::mm::user::{usage, usage_back_to};
        use crate::process::{default_params, start_with, Personality};
        use crate::time::now_ns;
        use core::sync::atomic::Ordering;
        const PATH: &str = "/bin/linux-exec";
        if cpio::find(initramfs().expect("an initramfs"), PATH).ok().flatten().is_none() {
            return;
        }
        let argv: [&[u8]; 3] = [b"linux-exec", b"bench", b"100000"];
        let start = |cpu| {
            start_with(PATH, &argv, Personality::Linux, alloc_pid(), cpu, default_params())
        };
        let base = usage();
        let here = crate::arch::percpu::current_id();
        let other = (here + 1) % crate::arch::percpu::online();
        capture();
        for ms in [1, 7, 13, 29, 41] {
            // Killed between two of its runs, here.
            let d = start(here).unwrap();
            let end = now_ns() + ms * 1_000_000;
            run_loop(&|| d.status().is_some() || now_ns() >= end);
            assert_eq!(d.status(), None, "still execing after {ms} ms");
            kill_process(&d.process, 0);
            assert_eq!(d.status(), Some(0), "killed");
            assert_eq!(usage_back_to(base), base, "nothing left behind after {ms} ms");
            if other == here {
                continue;
            }
            // Killed from this processor while it runs on another.
            let d = start(other).unwrap();
            let end = now_ns() + ms * 1_000_000;
            let killed = core::sync::atomic::AtomicBool::new(false);
            run_loop_everywhere(&|| {
                let mine = crate::arch::percpu::current_id() == here;
                if mine && now_ns() >= end && !killed.swap(true, Ordering::SeqCst) {
                    kill_process(&d.process, 0);
                }
                d.status().is_some()
            });
            assert_eq!(d.status(), Some(0), "killed on processor {other}");
            assert_eq!(usage_back_to(base), base, "nothing left behind after {ms} ms on {other}");
        }
        take_captured();
    }

    /// argv, the environment and the auxiliary vector reach `main`.
    fn linux_arguments_and_environment() {
        let Some((status, out)) = run("linux-args", &["one", "two words"]) else { return };
        assert_eq!(status, 0, "{out}");
        assert_eq!(
            out,
            "argc=3\nargv[0]=linux-args\nargv[1]=one\nargv[2]=two words\nenv HOME=/\n\
             HOME=/\nAT_PAGESZ=4096\nAT_RANDOM present\n"
        );
    }

    /// malloc: many small blocks (brk), megabytes (mmap), realloc.
    fn linux_malloc_of_megabytes() {
        let Some((status, out)) = run("linux-malloc", &[]) else { return };
        assert_eq!(status, 0, "{out}");
        assert_eq!(
            out,
            "small blocks: 0 bad\nround 0: 4 x 1 MiB ok\nround 1: 4 x 2 MiB ok\n\
             realloc: kept across realloc\nmalloc done\n"
        );
    }

    /// writev to the console: gathering, an empty vector, a bad buffer
    /// (a partial write, as Linux does), a bad descriptor.
    fn linux_writev() {
        let Some((status, out)) = run("linux-writev", &[]) else { return };
        assert_eq!(status, 0, "{out}");
        assert_eq!(
            out,
            "one two\nwritev: 8\nempty: 0\none bad buffer: 4 No error information\nbad fd: -1 EBADF\n"
        );
    }

    /// The other start-up calls, EFAULT for bad pointers, ENOSYS for a call
    /// that does not exist (the library logs it once, to the kernel log:
    /// not into the program's output).
    fn linux_start_up_calls() {
        let Some((status, out)) = run("linux-calls", &[]) else { return };
        assert_eq!(status, 0, "{out}");
        let mut checks = 0;
        for line in out.lines() {
            assert!(line.ends_with(": yes"), "{line}\n{out}");
            checks += 1;
        }
        assert_eq!(checks, 17, "{out}");
        assert!(!out.contains("[k42-syslib]"), "diagnostics stay out of the output: {out}");
    }

    /// The reflection benchmark runs and finds a reflected call dearer
    /// than a native one and than the direct branch into the library (`cargo xtask bench` runs it at full length).
    fn linux_reflection_benchmark_runs() {
        let Some((status, out)) = run("linux-reflect-bench", &["200"]) else { return };
        assert_eq!(status, 0, "{out}");
        let cycles = |what: &str| -> u64 {
            let line = out.lines().find(|l| l.contains(what)).unwrap_or_else(|| panic!("{what}: {out}"));
            line.rsplit('=').next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{line}"))
        };
        assert!(cycles("reflected getpid") > cycles("native clock"), "{out}");
        // The direct branch into the library (no trap) is faster.
        assert!(cycles("direct getpid") < cycles("reflected getpid"), "{out}");
    }

    /// A Linux process returns every frame and page table it used, the
    /// library's included.
    fn linux_program_leaves_nothing_behind() {
        use crate::mm::user::{usage, usage_back_to};
        let base = usage();
        for name in ["linux-hello", "linux-malloc"] {
            if run(name, &[]).is_none() {
                return;
            }
            assert_eq!(usage_back_to(base), base, "after {name}");
        }
    }
}

ktest::kbench! {
    /// exec in cycles: of itself, and fork + exec + exit + wait (the
    /// program prints the `kbench:` lines).
    fn linux_exec_cost() {
        if let Some((status, out)) = run("linux-exec", &["bench", "200"]) {
            assert_eq!(status, 0, "{out}");
            pass_on_kbench(&out);
        }
    }

    /// vfork against fork (each child exits at once), and posix_spawn
    /// against fork + execve, in cycles per round (the program prints the
    /// `kbench:` lines).
    fn linux_vfork_cost() {
        if let Some((status, out)) = run_with_files("linux-vfork", &["bench", "50"]) {
            assert_eq!(status, 0, "{out}");
            pass_on_kbench(&out);
        }
    }

    /// Trap reflection against a native call, in cycles per call (the
    /// program prints the `kbench:` lines).
    fn linux_reflection_cost() {
        if let Some((status, out)) = run("linux-reflect-bench", &[]) {
            assert_eq!(status, 0, "{out}");
            pass_on_kbench(&out);
        }
    }
}

ktest::ktest! {
    /// Signals (`tests/linux-hello/signals.c`, the same checks pass on
    /// Linux): handlers for kill of itself and from a child (with siginfo,
    /// the mask during the handler and after sigreturn), a blocked signal
    /// deferred until unblocked, SIGSEGV with its address and code left
    /// by siglongjmp, default actions ending children with
    /// WIFSIGNALED statuses, SIGKILL of spinning and pausing children, a
    /// handler reaching a child spinning in user mode (interrupt upcall),
    /// SIGCHLD, SIGALRM from alarm and setitimer, stop and continue
    /// (WUNTRACED, WCONTINUED), process groups and kill(-pgid). Every
    /// frame comes back.
    fn linux_signals() {
        let base = crate::mm::user::usage();
        let Some((status, out)) = run("linux-signals", &[]) else { return };
        assert!(!out.contains("FAILED"), "status {status}: {out}");
        assert!(out.ends_with("signals: 33 ok, 0 failed\n"), "status {status}: {out}");
        assert_eq!(status, 0, "{out}");
        assert_eq!(crate::mm::user::usage_back_to(base), base);
    }
}

ktest::ktest! {
    /// Busybox's shell on the file server: the boot image's files are
    /// ramfs's (`ls` of `/bin`, `cat` of a boot file), a command runs by
    /// exec of a boot file (its index to the kernel, not its bytes), an
    /// error status comes back to the shell.
    fn linux_busybox_shell() {
        let base = crate::mm::user::usage();
        let script = "echo hi; cd /bin && ls -1; cat /etc/passwd; /bin/true && echo true ran; \
                      ls /no/such; echo status=$?";
        let Some((status, out)) = run_with_files("busybox", &["sh", "-c", script]) else {
            return;
        };
        assert!(out.starts_with("hi\n"), "{out}");
        for name in ["busybox", "sh", "ls", "native-tests", "k42-syslib"] {
            let listed = out.lines().any(|l| l == name);
            assert_eq!(listed, name != "k42-syslib", "{name} in /bin: {out}");
        }
        assert!(out.lines().count() > 100, "the applet links: {out}");
        assert!(out.contains("\nroot:x:0:0:root:/root:/bin/sh\n"), "{out}");
        assert!(out.contains("\ntrue ran\n"), "{out}");
        assert!(out.ends_with("status=1\n"), "{out}");
        assert_eq!(status, 0, "{out}");
        assert_eq!(crate::mm::user::usage_back_to(base), base);
    }
}

ktest::ktest! {
    /// Pipes, FIFOs and poll/select (`tests/linux-hello/pipes.c`, the
    /// same 44 checks pass on Linux): data both ways with a forked child,
    /// end of file, EPIPE and SIGPIPE, a writer blocked on a full pipe
    /// until the reader drains it (on the file server's doorbell),
    /// O_NONBLOCK, poll and select timing out and woken by a child's
    /// write, a FIFO whose opens wait for each other, and a three-stage
    /// chain through execve.
    fn linux_pipes() {
        let base = crate::mm::user::usage();
        let Some((status, out)) = run_with_files("linux-pipes", &[]) else { return };
        assert!(!out.contains("FAILED"), "status {status}: {out}");
        assert_eq!(out.lines().filter(|l| l.ends_with(": ok")).count(), 44, "{out}");
        assert!(out.ends_with("pipes: 0 failed\n"), "{out}");
        assert_eq!(status, 0, "{out}");
        assert_eq!(crate::mm::user::usage_back_to(base), base);
    }

    /// File mappings (`mmap` of ramfs files, K42's Region over the file's
    /// FCM: the file server keeps a mapped file in its shared memory and
    /// the kernel maps those pages into each mapper): every check of
    /// `tests/linux-hello/mmap.c` (shared stores seen by `read` and
    /// other mappings, `write` seen by them, copy-on-write private views,
    /// fork, a second process's own mapping, SIGBUS past the end after a
    /// truncation, SIGSEGV for a protection fault, an unlinked file still
    /// mapped, 5000 maps without leaking a handle, the errors, a boot
    /// file), and every frame back once the program and its services end.
    fn linux_mmap_files() {
        let base = crate::mm::user::usage();
        let Some((status, out)) = run_with_files("linux-mmap", &[]) else { return };
        assert!(!out.contains("FAILED"), "status {status}: {out}");
        assert_eq!(out.lines().filter(|l| l.ends_with(": ok")).count(), 35, "{out}");
        assert!(out.ends_with("mmap: 0 failed\n"), "{out}");
        assert_eq!(status, 0, "{out}");
        assert_eq!(crate::mm::user::usage_back_to(base), base);
    }

    /// POSIX threads (clone with `CLONE_THREAD`, the library's user-level
    /// threads, `user/syslib/src/threads.rs`): every check of
    /// `tests/linux-hello/threads.c` (a mutex counter across eight
    /// threads, a condition-variable ping-pong, a thread blocked on a pipe
    /// and one sleeping while the others run, timed waits, thread-local
    /// storage, fork from a thread, a signal while threads wait, a
    /// spinning thread preempted through the library's run entry, two
    /// hundred threads made and joined), and nothing left behind.
    fn linux_threads() {
        let base = crate::mm::user::usage();
        let Some((status, out)) = run_with_files("linux-threads", &[]) else { return };
        assert!(!out.contains("FAILED"), "status {status}: {out}");
        assert_eq!(out.lines().filter(|l| l.ends_with(": ok")).count(), 12, "{out}");
        assert!(out.ends_with("threads: 0 failed\n"), "{out}");
        assert_eq!(status, 0, "{out}");
        assert_eq!(crate::mm::user::usage_back_to(base), base);
    }
}

ktest::ktest! {
    /// Job control on the console (issue 9, the shell): an interactive
    /// busybox `sh -i` with the console as its controlling terminal
    /// (`terminal::start_on_console`) runs `sleep 100` in a group of its
    /// own that it puts in the foreground; a `^C` typed while nobody reads
    /// the console (the shell waits in `wait4`) is the kernel's to see: it
    /// sends that group `SIGINT`, and the prompt comes back at once with
    /// `$?` 130. `^Z` stops a foreground job and `fg` continues it. A
    /// background job: `jobs`, `kill %1` (143), `wait`. `stty` in one
    /// process sets the terminal for the next (the session's settings).
    /// The shell's end (after "You have stopped jobs.") hangs the console
    /// up, which ends the job it left stopped.
    fn linux_busybox_job_control() {
        use crate::syscall::{console_read::push_input, terminal};
        use crate::time::now_ns;
        let base = crate::mm::user::usage();
        if cpio::find(initramfs().expect("an initramfs"), "/bin/busybox").ok().flatten().is_none() {
            crate::println!("    (/bin/busybox is not in the initramfs; skipped)");
            return;
        }
        const S: u64 = 1_000_000_000;
        let (status, out, took) = crate::services::with_system(|| {
            capture();
            let d = terminal::start_on_console("/bin/busybox", &[b"sh", b"-i"])
                .unwrap_or_else(|e| panic!("busybox: {e}"));
            let shell = d.process.pid;
            // Runs the shell (and its jobs) until `cond`, the shell's end
            // or `secs` of guest time: whether `cond` came true.
            let run = |secs: u64, cond: &dyn Fn() -> bool| {
                let end = now_ns() + secs * S;
                crate::dispatch::run_loop(&|| cond() || d.status().is_some() || now_ns() >= end);
                cond()
            };
            let job = || terminal::foreground().is_some_and(|g| g != shell);
            let prompt = || terminal::foreground() == Some(shell);
            // The output so far (shown at each step: the harness wants a
            // line at least every 30 s).
            let out = core::cell::RefCell::new(String::new());
            let shown = core::cell::Cell::new(0);
            let step = |what: &str, ok: bool| {
                out.borrow_mut().push_str(&take_captured());
                capture();
                let all = out.borrow();
                crate::println!("    {what}: {ok} {:?}", &all[shown.get()..]);
                shown.set(all.len());
                assert!(ok, "{what}: {all}");
            };
            // Runs until the output has `text` (20 s at most).
            let seen = |text: &str| {
                let end = now_ns() + 20 * S;
                loop {
                    let slice = now_ns() + S / 10;
                    crate::dispatch::run_loop(&|| now_ns() >= slice);
                    out.borrow_mut().push_str(&take_captured());
                    capture();
                    if out.borrow().contains(text) || now_ns() >= end {
                        return out.borrow().contains(text);
                    }
                }
            };
            let mut took = alloc::vec::Vec::new();
            for (line, key) in [("sleep 100\n", "\x03echo status=$?\n"), ("sleep 100\n", "\x1a")] {
                push_input(line.as_bytes());
                step("a job in the foreground", run(20, &job));
                // Let it get to its sleep (a human is slower still).
                run(1, &|| false);
                let t = now_ns();
                push_input(key.as_bytes());
                step("the prompt back", run(20, &prompt));
                took.push(now_ns() - t);
            }
            push_input(b"jobs\nfg\n");
            step("fg", run(20, &job));
            run(1, &|| false);
            push_input(b"\x03echo fg status=$?\n");
            step("^C", run(20, &prompt));
            // The job resets the signals the interactive shell ignores
            // (SIGTERM) before a `kill %1` can reach it: a second later.
            // Then a job left stopped, which the hang-up at the shell's end
            // ends. (The shell must find its next line typed whenever it
            // reads: an empty keyboard is the end of its input.)
            // `stty` in one process sets the terminal for the next one.
            push_input(b"stty -echo; echo -echo $(stty -a | grep -c ' -echo '); stty echo\n");
            push_input(b"sleep 100 &\njobs; sleep 1; kill %1; wait %1; echo killed=$?; sleep 100\n");
            step("kill %1", seen("killed=1"));
            step("a job in the foreground", run(20, &job));
            run(1, &|| false);
            // With a stopped job the first `exit` only warns.
            push_input(b"\x1asleep 1 & wait $!; echo waited=$?; exit 3\nexit 3\n");
            step("exit", run(20, &|| d.status().is_some()));
            let status = d.status();
            if status.is_none() {
                crate::dispatch::kill_process(&d.process, 0);
            }
            terminal::hang_up(shell);
            let session = || {
                crate::dispatch::processes()
                    .iter()
                    .any(|p| p.sid.load(core::sync::atomic::Ordering::Relaxed) == shell)
            };
            let end = now_ns() + 10 * S;
            crate::dispatch::run_loop(&|| !session() || now_ns() >= end);
            step("the stopped job ended by the hang-up", !session());
            let out = out.take() + &take_captured();
            (status, out, took)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let ms: alloc::vec::Vec<u64> = took.iter().map(|t| t / 1_000_000).collect();
        crate::println!("    ^C and ^Z: back at the prompt after {ms:?} ms");
        assert_eq!(status, Some(3), "{out}");
        assert!(out.contains("^C"), "echoed: {out}");
        assert!(out.contains("\nstatus=130\n"), "{out}");
        assert!(out.contains("^Z"), "echoed: {out}");
        assert!(out.contains("Stopped"), "{out}");
        assert!(out.contains("\nfg status=130\n"), "{out}");
        assert!(out.contains("Running") && out.contains("sleep 100"), "jobs: {out}");
        assert!(out.contains("\nkilled=143\n"), "{out}");
        assert!(out.contains("\nwaited=0\n"), "{out}");
        assert!(out.contains("You have stopped jobs."), "{out}");
        assert!(out.contains("\n-echo 1\n"), "stty -a saw stty -echo: {out}");
        assert!(took.iter().all(|t| *t < 5 * S), "{took:?}");
        assert_eq!(terminal::foreground(), None, "hung up");
        assert_eq!(crate::mm::user::usage_back_to(base), base);
    }
}

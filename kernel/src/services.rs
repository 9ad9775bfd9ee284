//! The system services: the user-level servers a Linux process (or any
//! other) finds through the system's name server.
//!
//! K42 put its system services in server processes reached by PPC (paper
//! §3, notes §7); the kernel only starts them. [`Servers::start_on`]
//! starts the three first servers from the initramfs, in order: the
//! `name-server` (told which processes may register names), then
//! `console-server` and `ramfs`, which register themselves with it by PPC
//! while starting. Each serves on the processors it is given (a PPC stays
//! on the caller's processor).
//!
//! [`start_system`] starts one such set for the whole system, with file
//! writes allowed to everyone, and publishes its name server: the Linux
//! loader hands that handle ([`names`]) to every new system library, which
//! looks `ramfs` up there for the process's files. The monitor starts it
//! at boot; the difftest runner and the Linux tests start a fresh one per
//! program ([`with_system`]), so every program sees an empty file system.
//!
//! ```ignore
//! services::with_system(|| {
//!     let d = process::start("/bin/linux-files", &[b"linux-files"], Personality::Linux)?;
//!     dispatch::run_loop(&|| d.status().is_some());
//!     Ok(())
//! })
//! ```

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::dispatch::{self, Dispatcher};
use crate::process::SpawnError;

/// The system name server's object handle (0: no system services).
static NAMES: AtomicU64 = AtomicU64::new(0);

/// The handle of the system's name server, for a new system library (0:
/// none started).
pub fn names() -> u64 {
    NAMES.load(Ordering::Acquire)
}

/// Starts `/bin/<name>` from the initramfs as process `pid`, pinned to
/// processor `cpu`, with `argv` (`argv[0]` is `name`).
pub fn start_program(
    name: &str,
    pid: u32,
    cpu: usize,
    args: &[&str],
) -> Result<Arc<Dispatcher>, SpawnError> {
    use crate::process::{default_params, start_with, Personality};
    let path = format!("/bin/{name}");
    let mut argv: Vec<&[u8]> = Vec::from([name.as_bytes()]);
    argv.extend(args.iter().map(|a| a.as_bytes()));
    start_with(
        &path,
        &argv,
        Personality::Native,
        pid,
        cpu,
        default_params(),
    )
}

fn blocked(d: &Dispatcher) -> bool {
    matches!(dispatch::smp().info(d.id), Ok((_, i)) if i.state == sched::State::Blocked)
}

/// The three servers, started and waiting for calls.
pub struct Servers {
    /// The name server.
    pub names: Arc<Dispatcher>,
    /// The console server.
    pub console: Arc<Dispatcher>,
    /// The file server.
    pub ramfs: Arc<Dispatcher>,
    /// The name server's object, as programs take it on their command
    /// line (hex).
    pub names_handle: String,
}

/// Why the servers did not start: which one, and what it said.
#[derive(Debug)]
pub struct StartError(pub String);

impl core::fmt::Display for StartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Servers {
    /// Starts them on this processor; `client` may register names, write
    /// and administer ramfs. Returns them and their start-up output.
    /// Panics if they do not start (a test's set-up).
    pub fn start(client: u32) -> (Servers, String) {
        Self::start_on(&format!("{client}"), &[client], &[]).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts them on this processor and on processors `more`: processes
    /// `writers` (comma-separated ids, or `*` for everyone) may write and
    /// administer ramfs, and `registrars` may register names besides the
    /// servers. Returns them and their start-up output.
    pub fn start_on(
        writers: &str,
        registrars: &[u32],
        more: &[usize],
    ) -> Result<(Servers, String), StartError> {
        let cpu = crate::arch::percpu::current_id();
        let mut c = format!("{cpu}");
        for m in more {
            c.push_str(&format!(",{m}"));
        }
        let (npid, cpid, rpid) = (
            dispatch::alloc_pid(),
            dispatch::alloc_pid(),
            dispatch::alloc_pid(),
        );
        let mut allowed = format!("{cpid},{rpid}");
        for r in registrars {
            allowed.push_str(&format!(",{r}"));
        }
        let failed = |what: &str, e: &dyn core::fmt::Display| StartError(format!("{what}: {e}"));
        crate::process::capture();
        let names = start_program("name-server", npid, cpu, &[&c, &allowed])
            .map_err(|e| failed("name-server", &e))?;
        crate::ppc::run_until_blocked(&names);
        if names.status().is_some() {
            dispatch::kill_process(&names.process, 0);
            let out = crate::process::take_captured();
            return Err(StartError(format!("the name server ended: {out}")));
        }
        let names_handle = format!("{:#x}", crate::ppc::handle(npid, 0, 1));
        // A server is up when it waits for calls and the name server is
        // not in the middle of its registration PPC.
        let settled = |d: &Dispatcher| {
            d.status().is_some()
                || (blocked(d) && blocked(&names) && names.serving.load(Ordering::Acquire) == 0)
        };
        let mut started = Vec::from([names.clone()]);
        let mut next =
            |name: &str, pid: u32, args: &[&str]| match start_program(name, pid, cpu, args) {
                Ok(d) => {
                    dispatch::run_loop(&|| settled(&d));
                    started.push(d.clone());
                    Ok(d)
                }
                Err(e) => Err(failed(name, &e)),
            };
        let up = next("console-server", cpid, &[&c, &names_handle]).and_then(|console| {
            next("ramfs", rpid, &[&c, &names_handle, writers, writers]).map(|r| (console, r))
        });
        let out = crate::process::take_captured();
        let stopped = started.iter().any(|d| d.status().is_some());
        match up {
            Ok((console, ramfs)) if !stopped => Ok((
                Servers {
                    names,
                    console,
                    ramfs,
                    names_handle,
                },
                out,
            )),
            other => {
                for d in &started {
                    dispatch::kill_process(&d.process, 0);
                }
                Err(match other {
                    Err(e) => e,
                    Ok(_) => StartError(format!("a server ended while starting: {out}")),
                })
            }
        }
    }

    /// The name server's handle as a number.
    pub fn names_raw(&self) -> u64 {
        crate::ppc::handle(self.names.process.pid, 0, 1)
    }

    /// Stops them (their dispatchers on other processors too) and checks
    /// that each served to the end.
    pub fn stop(self) {
        for d in [&self.ramfs, &self.console, &self.names] {
            dispatch::kill_process(&d.process, 0);
            assert_eq!(d.status(), Some(0), "served to the end");
        }
    }
}

/// Starts the system services on every processor (files writable by
/// everyone) and publishes their name server to new Linux processes.
pub fn start_system() -> Result<Servers, StartError> {
    let me = crate::arch::percpu::current_id();
    let more: Vec<usize> = (0..crate::arch::percpu::online())
        .filter(|&c| c != me)
        .collect();
    let (s, _) = Servers::start_on("*", &[], &more)?;
    NAMES.store(s.names_raw(), Ordering::Release);
    Ok(s)
}

/// Stops the system services [`start_system`] started.
pub fn stop_system(s: Servers) {
    NAMES.store(0, Ordering::Release);
    s.stop();
}

/// Runs `f` with a fresh set of system services, stopped afterwards.
pub fn with_system<T>(f: impl FnOnce() -> T) -> Result<T, StartError> {
    let s = start_system()?;
    let r = f();
    stop_system(s);
    Ok(r)
}

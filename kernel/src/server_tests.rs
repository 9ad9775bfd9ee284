//! In-QEMU tests of the first user-level servers (issue 8, point 6):
//! `name-server`, `console-server` and `ramfs` from the initramfs, each a
//! process of its own built on `k42-rt`'s server framework, and the client
//! `server-tests` calling them through the stubs `ppc-idl` generates from
//! `k42-interfaces`.
//!
//! Everything runs on the test's processor (a PPC is same-processor, and a
//! server serves on one processor for now). The servers start in order:
//! the name server first (it is told which processes may register names),
//! then the console server and ramfs, which register themselves with it by
//! PPC while starting; then a granted client and a stranger run their
//! checks, and the servers are stopped.

use alloc::format;

use crate::dispatch;
use crate::services::{start_program, Servers};

/// The test client's calls.
trait Client {
    fn run_client(&self, pid: u32, case: &str) -> (u64, alloc::string::String);
    fn run_client_on(&self, cpu: usize, pid: u32, case: &str) -> (u64, alloc::string::String);
}

impl Client for Servers {
    /// Runs `server-tests <case>` as process `pid` on this processor to
    /// its end: its status and output.
    fn run_client(&self, pid: u32, case: &str) -> (u64, alloc::string::String) {
        let cpu = crate::arch::percpu::current_id();
        crate::process::capture();
        let d = start_program(
            "server-tests",
            pid,
            cpu,
            &[case, &self.names_handle, &format!("{cpu}")],
        )
        .expect("server-tests starts");
        dispatch::run_loop(&|| d.status().is_some());
        (d.status().unwrap(), crate::process::take_captured())
    }

    /// The same on processor `cpu`, with every processor running its
    /// dispatchers (the output is captured there: the console call keeps
    /// it per processor).
    fn run_client_on(&self, cpu: usize, pid: u32, case: &str) -> (u64, alloc::string::String) {
        crate::ipi::run_on(cpu, &|| crate::process::capture());
        let d = start_program(
            "server-tests",
            pid,
            cpu,
            &[case, &self.names_handle, &format!("{cpu}")],
        )
        .expect("server-tests starts");
        dispatch::run_loop_everywhere(&|| d.status().is_some());
        let out = spin::Mutex::new(alloc::string::String::new());
        crate::ipi::run_on(cpu, &|| *out.lock() = crate::process::take_captured());
        (d.status().unwrap(), out.into_inner())
    }
}

ktest::ktest! {
    /// The name server, the console server (two objects in one process)
    /// and ramfs start from the initramfs and register; a granted client
    /// looks names up and registers its own, writes through both console
    /// objects, creates, writes, reads back, lists, renames and removes
    /// files through open file descriptions (offsets, hold and close), a
    /// symlink; bad object handles and made-up descriptions fail cleanly.
    /// Nothing is left behind.
    fn servers_serve_a_granted_client() {
        use crate::mm::user::{usage, usage_back_to};
        let base = usage();
        let client = dispatch::alloc_pid();
        let (servers, up) = Servers::start(client);
        assert!(up.contains("name-server: serving"), "{up}");
        assert!(up.contains("console-server: serving console and log"), "{up}");
        assert!(up.contains("ramfs: serving"), "{up}");
        let (status, out) = servers.run_client(client, "client");
        assert_eq!(status, 0, "{out}");
        assert!(out.contains("server-tests: client: 54 passed, 0 failed"), "{out}");
        assert!(out.contains("server-tests: hello through the console server\n"), "{out}");
        assert!(out.contains("[log] a line in the log\n"), "{out}");
        servers.stop();
        assert_eq!(usage_back_to(base), base, "the four processes left nothing behind");
    }

    /// A process granted only the defaults may look names up, read files
    /// and write to the console; registering a name, creating, writing and
    /// chmod fail with EACCES (the generated dispatch's NoRights), and the
    /// servers keep serving the granted client afterwards. Once ramfs has
    /// ended, a call to it is EBADF and the other servers still serve.
    fn servers_refuse_a_client_without_rights() {
        let client = dispatch::alloc_pid();
        let (servers, _) = Servers::start(client);
        let (status, out) = servers.run_client(dispatch::alloc_pid(), "stranger");
        assert_eq!(status, 0, "{out}");
        assert!(out.contains("server-tests: stranger: 9 passed, 0 failed"), "{out}");
        assert!(out.contains("a stranger may write"), "{out}");
        let (status, out) = servers.run_client(client, "client");
        assert_eq!(status, 0, "still serving: {out}");
        // A server that ended: calls to it fail cleanly.
        dispatch::kill(&servers.ramfs, 0);
        let (status, out) = servers.run_client(client, "gone");
        assert_eq!(status, 0, "{out}");
        assert!(out.contains("server-tests: gone: 4 passed, 0 failed"), "{out}");
        servers.stop();
    }
}

ktest::ktest! {
    /// Servers on two processors: each has a second dispatcher (its own
    /// PPC stack, found through its GS base) on the last processor, where
    /// a client runs its checks; PPCs stay on that processor.
    fn servers_serve_clients_on_other_processors() {
        let n = crate::arch::percpu::online();
        let me = crate::arch::percpu::current_id();
        let Some(other) = (0..n).rev().find(|&c| c != me) else {
            crate::println!("    (needs two processors)");
            return;
        };
        use crate::mm::user::{usage, usage_back_to};
        let base = usage();
        let client = dispatch::alloc_pid();
        let (servers, _) = Servers::start_on(&format!("{client}"), &[client], &[other]).unwrap();
        let (status, out) = servers.run_client_on(other, client, "client");
        assert_eq!(status, 0, "{out}");
        assert!(out.contains("server-tests: client: 54 passed, 0 failed"), "{out}");
        assert!(out.contains("[log] a line in the log\n"), "served on processor {other}: {out}");
        // And the first processor still serves.
        let (status, out) = servers.run_client(client, "client");
        assert_eq!(status, 0, "{out}");
        servers.stop();
        assert_eq!(usage_back_to(base), base, "both dispatchers of each server are gone");
    }
}

ktest::kbench! {
    /// PPC round trips through the servers, in cycles (the client prints
    /// the `kbench:` line): console stats (a near-null call), a name
    /// lookup, 4 KiB written to and read from ramfs, a stat, and a null
    /// system call for the ratio.
    fn server_round_trips() {
        let client = dispatch::alloc_pid();
        let (servers, _) = Servers::start(client);
        let (status, out) = servers.run_client(client, "bench");
        assert_eq!(status, 0, "{out}");
        // The client's output was captured: pass its figures on.
        for line in out.lines().filter(|l| l.starts_with("kbench:")) {
            crate::println!("{line}");
        }
        servers.stop();
    }
}

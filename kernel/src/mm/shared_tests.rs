//! In-kernel tests of memory shared between processes (`map_shared`,
//! `share`, `map_handle`, `syscall::shared`), run by `/bin/native-tests`
//! cases, and the kbench of a 64 KiB PPC through a shared buffer.

use crate::dispatch;
use crate::mm::user::{usage, usage_back_to};
use crate::ppc::{run_client, start, start_echo_server};

ktest::ktest! {
    /// Fork keeps `map_shared` memory shared: the parent and its child
    /// see each other's stores there, not in private memory; afterwards
    /// no frame or page table is left.
    fn shm_fork_child_and_parent_share_a_mapping() {
        let base = usage();
        let pid = dispatch::alloc_pid();
        crate::process::capture();
        let d = start(pid, crate::arch::percpu::current_id(), "shm-fork", "");
        dispatch::run_loop(&|| d.status().is_some());
        let out = crate::process::take_captured();
        assert_eq!(d.status(), Some(0), "{out}");
        assert!(out.contains("saw_child_store=true private=0 child_status=0"), "{out}");
        drop(d);
        assert_eq!(usage_back_to(base), base, "nothing left behind");
    }

    /// A client shares a 64 KiB buffer with a PPC server, which maps it
    /// and sums it; a later store is seen without a copy; private memory
    /// and odd ranges cannot be shared, an unknown handle is EBADF, a
    /// process without the grant cannot map it; with both processes gone
    /// the accounting is back to its baseline and the handles are gone.
    fn shm_server_reads_a_buffer_a_client_shared() {
        let base = usage();
        let handles = crate::syscall::shared::live();
        let client = dispatch::alloc_pid();
        let (server, h) = start_echo_server(client);
        crate::process::capture();
        let status = run_client(client, "shm-client", h);
        let out = crate::process::take_captured();
        assert_eq!(status, 0, "{out}");
        assert!(out.contains("sum=Ok(196603)"), "{out}");
        dispatch::kill_process(&server.process, 0);
        drop(server);
        assert_eq!(usage_back_to(base), base, "both processes left nothing behind");
        assert_eq!(crate::syscall::shared::live(), handles, "their handles went with them");
    }
}

ktest::kbench! {
    /// A PPC carrying 64 KiB: through a buffer shared once with the
    /// server, against 17 calls through the 4 KiB PPC page (the user
    /// program prints the `kbench:` line).
    fn shm_ppc_64k_shared_vs_page() {
        let client = dispatch::alloc_pid();
        let (server, h) = start_echo_server(client);
        assert_eq!(run_client(client, "shm-bench", h), 0);
        dispatch::kill_process(&server.process, 0);
    }
}

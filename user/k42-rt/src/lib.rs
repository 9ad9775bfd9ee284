//! # k42-rt: the runtime of native K42-rs programs
//!
//! Every native K42-rs program (a server, a test client) is a `no_std`
//! static executable for `x86_64-unknown-none`, loaded by the kernel from
//! the initramfs. This crate is what such a program links against instead
//! of a C library. It owns
//!
//! * the **entry**: [`entry!`] defines `_start` (the SysV initial stack:
//!   argc, argv), sets up the heap and calls `fn main(args: Args) -> u64`,
//!   whose value is the exit status; a panic prints its message and exits
//!   with 101;
//! * **typed native calls** (`sys`): one wrapper per kernel call
//!   (`0x4b42_0000 | n`, the `sched` crate's native set plus `export` and
//!   `grant`, the memory calls and the clock; the debugging calls
//!   `0x4b42_1000 | n`), each returning `Result<_, Errno>` with Linux
//!   error numbers ([`Errno`]); `handoff` and `set_sched_params` have no
//!   wrapper because the kernel does not serve them yet; records a call
//!   fills and the host can test, such as [`machine::Machine`] (the
//!   processors and memory `sys::machine` reports), have modules of their
//!   own;
//! * `print!` / `println!` over the kernel's console call (the console
//!   *server* uses the same call; clients go through the server);
//! * `transport::KernelTransport`: the `ppc-idl`
//!   [`Transport`](ppc_idl::Transport) over `ipc_call`, so every generated
//!   client stub reaches a server in another process;
//! * the **server framework** (`server`): K42's PPC server side (notes
//!   §7). A server exports objects (each a `ppc-idl`
//!   [`Dispatch`](ppc_idl::Dispatch), several per process), grants rights
//!   on them to processes, and blocks; the kernel starts a fresh
//!   activation at the framework's entry point for each call, which copies
//!   the request out of the per-processor PPC region, runs the generated
//!   dispatch of the object the kernel names, and returns the reply with
//!   `ipc_return`;
//! * **dispatcher-page helpers** (`dispatcher`): the soft-interrupt
//!   bits and the async-message ring the kernel fills;
//! * a **heap**: a global allocator (`linked_list_allocator`'s first-fit
//!   [`Heap`](https://docs.rs/linked_list_allocator) over a static array,
//!   faulted in on demand), so programs may use `alloc`.
//!
//! ## Usage
//!
//! ```ignore
//! #![cfg_attr(target_os = "none", no_std, no_main)]
//! k42_rt::entry!(main);
//!
//! #[cfg(target_os = "none")]
//! fn main(args: k42_rt::Args) -> u64 {
//!     k42_rt::println!("hello from {}", args.get_str(0).unwrap_or("?"));
//!     0
//! }
//! ```
//!
//! A server (see `user/console-server`):
//!
//! ```ignore
//! static CONSOLE: ConsoleServer<Impl> = ConsoleServer(Impl);
//! fn main(_: k42_rt::Args) -> u64 {
//!     let server = k42_rt::server::Server::start(0).expect("entry point");
//!     let h = server.export(&CONSOLE).expect("export");
//!     server.grant(h, k42_rt::server::Grantee::Anyone, RIGHT_WRITE).expect("grant");
//!     server.serve()
//! }
//! ```
//!
//! ## Limits (the kernel's, today)
//!
//! A PPC stays on the caller's processor and the kernel takes one call at
//! a time per dispatcher, so a server serves where it has dispatchers
//! (`Server::serve_also_on` adds one per processor). The kernel keeps one
//! IPC entry point and one PPC stack per process; the framework's entry
//! stub moves each call to its dispatcher's own stack through the GS
//! base, so the framework owns the GS base of serving dispatchers. A
//! server's main thread is gone once the first call arrives (every call
//! starts a fresh activation; after `ipc_return` the dispatcher waits in
//! `server`'s park loop), so all of a server's work is done in calls and
//! async messages. There is no notice of a client's death yet, so
//! per-client state (ramfs's open files) outlives its client.
//!
//! ## Cost
//!
//! `cargo xtask bench --kernel-only --smp 1` (release, QEMU TCG, one run;
//! read the ratios): a call to the console server's `stats` costs 1.07x
//! native-tests' null `Echo` PPC, a name lookup 1.11x, a ramfs `stat`
//! 1.11x, 4 KiB written to or read from ramfs 1.5x. Keeping the server's
//! request and reply in a static instead of two fresh 4 KiB messages on the
//! PPC stack halved the cost of a 4 KiB read (1.9x) and of a `stat`
//! (2.3x).
//!
//! ## Host builds
//!
//! Every workspace member is built by `cargo test` on the host, so the
//! parts that only make sense on the target (the `syscall` instruction,
//! `_start`, the panic handler, the allocator, the PPC region) are gated
//! with `#[cfg(target_os = "none")]`; the pure parts (errors, the call
//! numbers, handle and status encodings, argument parsing, the console
//! line buffer) are unit-tested on the host.
//!
//! ## Why these crates
//!
//! `ppc-idl` is the project's interface generator. `spin` (already the
//! kernel's) gives the object table a lock that needs no kernel support:
//! a server may one day serve calls on several processors at once.
//! `linked_list_allocator` (also the kernel's) is a small, audited
//! first-fit allocator that frees memory, which a file server needs; a
//! bump allocator was refused for that reason.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

pub mod args;
pub mod errno;
pub mod fmt;
pub mod handle;
pub mod machine;
pub mod nr;
pub mod status;

#[cfg(target_os = "none")]
pub mod dispatcher;
#[cfg(target_os = "none")]
pub mod heap;
#[cfg(target_os = "none")]
pub mod rt;
#[cfg(target_os = "none")]
pub mod server;
#[cfg(target_os = "none")]
pub mod sys;
#[cfg(target_os = "none")]
pub mod transport;

/// Defines the program's entry: `k42_rt::entry!(main)` with `fn main(args:
/// k42_rt::Args) -> u64` (the exit status). On the host (where every
/// workspace member is built for `cargo test`) it defines a `main` that
/// says where the program runs.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[cfg(target_os = "none")]
        core::arch::global_asm!(
            ".global _start",
            "_start:",
            "mov rdi, rsp",
            "and rsp, -16",
            "call {start}",
            "ud2",
            start = sym __k42_rt_start,
        );

        #[cfg(target_os = "none")]
        unsafe extern "C" fn __k42_rt_start(sp: *const u64) -> ! {
            // SAFETY: `_start` passes the initial stack pointer, once.
            unsafe { $crate::rt::start(sp, $main) }
        }

        #[cfg(not(target_os = "none"))]
        fn main() {
            println!(
                "{} is a K42-rs user program: `cargo xtask test` runs it in QEMU",
                env!("CARGO_PKG_NAME")
            );
        }
    };
}

pub use args::Args;
pub use errno::Errno;
pub use handle::{from_raw, to_raw};

//! The ramfs program: `ramfs CPUS NAMES WRITERS [ADMINS]`: `NAMES` the name
//! server's handle (hex), `WRITERS` and `ADMINS` comma-separated process
//! ids, or `*` for everyone (Linux processes, forked at any time, must all
//! write). Everyone may read; writers may also write; admins may also
//! chmod. Times are Unix times (the runtime's wall clock).
//! Imports the boot image's files (`boot.rs`), exports one `FileSystem`
//! object (index 0), registers it as `ramfs`, and serves.
//! `CPUS`: the processors it serves on, comma-separated, the first the
//! one it starts on (a PPC stays on the caller's processor).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

k42_rt::entry!(program::main);

#[cfg(target_os = "none")]
mod program {
    use core::sync::atomic::{AtomicU32, Ordering};
    use k42_interfaces::{FileSystemServer, NameServiceClient};
    use k42_rt::server::{Grantee, Server};
    use k42_rt::sys::Prot;
    use k42_rt::transport::KernelTransport;
    use k42_rt::{errno, Args, Errno};
    use ppc_idl::{ProcessId, Rights};
    use ramfs::{rights, Ramfs};
    use spin::Once;

    /// Bytes of file data (the heap is 8 MiB).
    const CAPACITY: usize = 4 << 20;

    static FS: Once<FileSystemServer<Ramfs>> = Once::new();

    /// The grantees a `WRITERS` or `ADMINS` argument names.
    fn grantees(list: Option<&str>) -> impl Iterator<Item = Result<Grantee, Errno>> + '_ {
        list.unwrap_or("")
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| match s {
                "*" => Ok(Grantee::Anyone),
                _ => k42_rt::args::parse_u64(s)
                    .and_then(|p| u32::try_from(p).ok())
                    .map(|p| Grantee::Process(ProcessId(p)))
                    .ok_or(Errno::EINVAL),
            })
    }

    fn clock() -> u64 {
        k42_rt::sys::wall_clock().unwrap_or(0)
    }

    /// Where the doorbell page is (shared memory, `map_shared`).
    const DOORBELL: u64 = 0x6100_0000;

    /// The doorbell (`ramfs::Bell`): the first word of the page at
    /// [`DOORBELL`], which clients map read only.
    struct KernelBell;

    impl KernelBell {
        fn word(&self) -> &'static AtomicU32 {
            // SAFETY: `setup` mapped the page at DOORBELL (shared,
            // read-write) before it made a `KernelBell`, and never unmaps
            // it; the word is aligned and only ever accessed atomically.
            unsafe { &*(DOORBELL as *const AtomicU32) }
        }
    }

    impl ramfs::Bell for KernelBell {
        fn ring(&self) {
            let w = self.word();
            // The client that made the change wakes the waiters, after
            // its call: a wake inside this handler would hand the
            // processor to a waiter while the server is still busy.
            w.fetch_add(1, Ordering::Release);
        }

        fn share(&self, pid: ProcessId) -> Result<u64, Errno> {
            k42_rt::sys::share(DOORBELL, 4096, pid, k42_rt::sys::Prot::READ)
        }
    }

    static BELL: KernelBell = KernelBell;

    /// Where mapped files' windows are (`ramfs::Store`): [`WINDOWS`]
    /// slots of `MAX_FILE` bytes of shared memory from here.
    const WINDOW_BASE: u64 = 0x10_0000_0000;
    /// Most mapped files at once.
    const WINDOWS: u64 = 1024;

    /// Mapped files in this server's shared memory: a window is
    /// `map_shared` memory whose end the kernel keeps (`shared_end`), and
    /// each client maps it with a handle (`share`, one per `mmap`).
    struct KernelStore {
        /// Free slots below `next`, and the first never used.
        free: spin::Mutex<(alloc::vec::Vec<u64>, u64)>,
    }

    impl KernelStore {
        /// The window's bytes `[offset, offset + len)`, which `set_size`
        /// has made part of the file.
        fn at(w: u64, offset: u64, len: usize) -> *mut u8 {
            debug_assert!(offset + len as u64 <= ramfs::MAX_FILE);
            (w + offset) as *mut u8
        }
    }

    impl ramfs::Store for KernelStore {
        fn create(&self) -> Result<u64, Errno> {
            let slot = {
                let mut g = self.free.lock();
                match g.0.pop() {
                    Some(s) => s,
                    None if g.1 < WINDOWS => {
                        g.1 += 1;
                        g.1 - 1
                    }
                    None => return Err(Errno::ENFILE),
                }
            };
            let w = WINDOW_BASE + slot * ramfs::MAX_FILE;
            let made = k42_rt::sys::map_shared(w, ramfs::MAX_FILE, Prot::READ_WRITE)
                .and_then(|()| k42_rt::sys::shared_end(w, Some(0)).map(drop));
            if let Err(e) = made {
                let _ = k42_rt::sys::unmap(w, ramfs::MAX_FILE);
                self.free.lock().0.push(slot);
                return Err(e);
            }
            Ok(w)
        }

        fn destroy(&self, w: u64) {
            let _ = k42_rt::sys::unmap(w, ramfs::MAX_FILE);
            self.free.lock().0.push((w - WINDOW_BASE) / ramfs::MAX_FILE);
        }

        fn set_size(&self, w: u64, size: u64) -> Result<(), Errno> {
            k42_rt::sys::shared_end(w, Some(size)).map(drop)
        }

        fn read(&self, w: u64, offset: u64, buf: &mut [u8]) {
            let from = Self::at(w, offset, buf.len());
            // SAFETY: `create` mapped the window read-write for good and
            // `Data` reads only below the size it set with `set_size`, so
            // the bytes are mapped; clients may store into them at the
            // same time (a shared mapping races as on Linux), which tears
            // at worst.
            unsafe { core::ptr::copy_nonoverlapping(from, buf.as_mut_ptr(), buf.len()) };
        }

        fn write(&self, w: u64, offset: u64, data: &[u8]) {
            let to = Self::at(w, offset, data.len());
            // SAFETY: as in `read`: mapped read-write, below the size.
            unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), to, data.len()) };
        }

        fn share(
            &self,
            w: u64,
            offset: u64,
            len: u64,
            pid: ProcessId,
            how: u32,
        ) -> Result<u64, Errno> {
            let mut prot = u64::from(how & 7) | k42_rt::sys::SHARE_ONCE;
            if how & k42_interfaces::map::PRIVATE != 0 {
                prot |= k42_rt::sys::SHARE_PRIVATE;
            }
            k42_rt::sys::share(w + offset, len, pid, Prot(prot))
        }
    }

    static STORE: KernelStore = KernelStore {
        free: spin::Mutex::new((alloc::vec::Vec::new(), 0)),
    };

    fn setup(args: &Args) -> Result<Server, Errno> {
        let server = Server::start_on(args.get_str(1).unwrap_or("0"))?;
        let names_handle = k42_rt::from_raw(args.get_u64(2).ok_or(Errno::EINVAL)?);
        // Pipes' doorbell: without the page, clients poll.
        let bell = k42_rt::sys::map_shared(DOORBELL, 4096, k42_rt::sys::Prot::READ_WRITE);
        let fs = FS.call_once(|| {
            let fs = Ramfs::new(CAPACITY, clock).with_store(&STORE);
            FileSystemServer(match bell {
                Ok(()) => fs.with_bell(&BELL),
                Err(_) => fs,
            })
        });
        // The boot image's files (`boot.rs`): without them it still serves.
        if let Err(e) = fs.0.import(ramfs::KernelBoot) {
            k42_rt::println!("ramfs: the boot image's files: {e}");
        }
        let h = server.export(fs)?;
        server.grant(h, Grantee::Anyone, Rights(rights::READ))?;
        // Grants to one grantee replace each other: admins last.
        let writer = Rights(rights::READ | rights::WRITE);
        let admin = Rights(rights::READ | rights::WRITE | rights::ADMIN);
        for (list, r) in [(args.get_str(3), writer), (args.get_str(4), admin)] {
            for g in grantees(list) {
                server.grant(h, g?, r)?;
            }
        }
        let transport = KernelTransport::new();
        let names = NameServiceClient::new(&transport, names_handle);
        errno::flatten(names.register("ramfs", h))?;
        Ok(server)
    }

    pub fn main(args: Args) -> u64 {
        match setup(&args) {
            Ok(server) => {
                k42_rt::println!("ramfs: serving");
                server.serve()
            }
            Err(e) => {
                k42_rt::println!("ramfs: cannot start: {e}");
                1
            }
        }
    }
}

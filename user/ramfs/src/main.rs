//! The ramfs program: `ramfs CPUS NAMES WRITERS [ADMINS]`: `NAMES` the name
//! server's handle (hex), `WRITERS` and `ADMINS` comma-separated process
//! ids. Everyone may read; writers may also write; admins may also chmod.
//! Exports one `FileSystem` object (index 0), registers it as `ramfs`, and
//! serves.
//! `CPUS`: the processors it serves on, comma-separated, the first the
//! one it starts on (a PPC stays on the caller's processor).
#![cfg_attr(target_os = "none", no_std, no_main)]

k42_rt::entry!(program::main);

#[cfg(target_os = "none")]
mod program {
    use k42_interfaces::{FileSystemServer, NameServiceClient};
    use k42_rt::server::{Grantee, Server};
    use k42_rt::transport::KernelTransport;
    use k42_rt::{errno, Args, Errno};
    use ppc_idl::{ProcessId, Rights};
    use ramfs::{rights, Ramfs};
    use spin::Once;

    /// Bytes of file data (the heap is 8 MiB).
    const CAPACITY: usize = 4 << 20;

    static FS: Once<FileSystemServer<Ramfs>> = Once::new();

    fn pids(list: Option<&str>) -> impl Iterator<Item = Result<ProcessId, Errno>> + '_ {
        list.unwrap_or("")
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| {
                k42_rt::args::parse_u64(s)
                    .map(|p| ProcessId(p as u32))
                    .ok_or(Errno::EINVAL)
            })
    }

    fn setup(args: &Args) -> Result<Server, Errno> {
        let server = Server::start_on(args.get_str(1).unwrap_or("0"))?;
        let names_handle = k42_rt::from_raw(args.get_u64(2).ok_or(Errno::EINVAL)?);
        let fs = FS.call_once(|| FileSystemServer(Ramfs::new(CAPACITY)));
        let h = server.export(fs)?;
        server.grant(h, Grantee::Anyone, Rights(rights::READ))?;
        for p in pids(args.get_str(3)) {
            server.grant(
                h,
                Grantee::Process(p?),
                Rights(rights::READ | rights::WRITE),
            )?;
        }
        for p in pids(args.get_str(4)) {
            server.grant(
                h,
                Grantee::Process(p?),
                Rights(rights::READ | rights::WRITE | rights::ADMIN),
            )?;
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

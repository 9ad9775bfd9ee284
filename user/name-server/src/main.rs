//! The name-server program: `name-server CPUS REGISTRANTS`, with
//! `REGISTRANTS` a comma-separated list of process ids allowed to register
//! names (everyone may look names up). Exports one `NameService` object
//! (index 0, so its handle is `(pid, 0, 1)`) and serves.
//! `CPUS`: the processors it serves on, comma-separated, the first the
//! one it starts on (a PPC stays on the caller's processor).
#![cfg_attr(target_os = "none", no_std, no_main)]

k42_rt::entry!(program::main);

#[cfg(target_os = "none")]
mod program {
    use k42_interfaces::NameServiceServer;
    use k42_rt::server::{Grantee, Server};
    use k42_rt::Args;
    use name_server::{rights, Names};
    use ppc_idl::{ProcessId, Rights};

    static NAMES: NameServiceServer<Names> = NameServiceServer(Names::new());

    pub fn main(args: Args) -> u64 {
        let server = match Server::start_on(args.get_str(1).unwrap_or("0")) {
            Ok(s) => s,
            Err(e) => {
                k42_rt::println!("name-server: cannot set the entry point: {e}");
                return 1;
            }
        };
        let h = match server.export(&NAMES) {
            Ok(h) => h,
            Err(e) => {
                k42_rt::println!("name-server: cannot export: {e}");
                return 1;
            }
        };
        let mut ok = server
            .grant(h, Grantee::Anyone, Rights(rights::LOOKUP))
            .is_ok();
        for pid in args
            .get_str(2)
            .unwrap_or("")
            .split(',')
            .filter(|s| !s.is_empty())
        {
            match k42_rt::args::parse_u64(pid) {
                Some(p) => {
                    let r = Rights(rights::LOOKUP | rights::REGISTER);
                    ok &= server
                        .grant(h, Grantee::Process(ProcessId(p as u32)), r)
                        .is_ok();
                }
                None => k42_rt::println!("name-server: bad process id '{pid}'"),
            }
        }
        if !ok {
            k42_rt::println!("name-server: a grant failed");
            return 1;
        }
        k42_rt::println!("name-server: serving {:#x}", k42_rt::to_raw(h).unwrap_or(0));
        server.serve()
    }
}

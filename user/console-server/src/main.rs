//! The console-server program: `console-server CPUS NAMES`, `NAMES` the
//! name server's handle (hex). Exports two `Console` objects, `console`
//! (index 0) and `log` (index 1, lines behind `[log] `), lets everyone
//! write and read them, registers both names, and serves.
//! `CPUS`: the processors it serves on, comma-separated, the first the
//! one it starts on (a PPC stays on the caller's processor).
#![cfg_attr(target_os = "none", no_std, no_main)]

k42_rt::entry!(program::main);

#[cfg(target_os = "none")]
mod program {
    use console_server::{rights, ConsoleObject};
    use k42_interfaces::{ConsoleServer, NameServiceClient};
    use k42_rt::server::{Grantee, Server};
    use k42_rt::transport::KernelTransport;
    use k42_rt::{errno, Args, Errno};
    use ppc_idl::Rights;

    fn kernel_console(b: &[u8]) {
        for chunk in b.chunks(k42_rt::nr::CONSOLE_MAX) {
            let _ = k42_rt::sys::console_write(chunk);
        }
    }

    static CONSOLE: ConsoleServer<ConsoleObject> =
        ConsoleServer(ConsoleObject::new(kernel_console, ""));
    static LOG: ConsoleServer<ConsoleObject> =
        ConsoleServer(ConsoleObject::new(kernel_console, "[log] "));

    fn setup(args: &Args) -> Result<Server, Errno> {
        let server = Server::start_on(args.get_str(1).unwrap_or("0"))?;
        let names_handle = k42_rt::from_raw(args.get_u64(2).ok_or(Errno::EINVAL)?);
        let transport = KernelTransport::new();
        let names = NameServiceClient::new(&transport, names_handle);
        for (name, obj) in [("console", &CONSOLE), ("log", &LOG)] {
            let h = server.export(obj)?;
            server.grant(h, Grantee::Anyone, Rights(rights::READ | rights::WRITE))?;
            errno::flatten(names.register(name, h))?;
        }
        Ok(server)
    }

    pub fn main(args: Args) -> u64 {
        match setup(&args) {
            Ok(server) => {
                k42_rt::println!("console-server: serving console and log");
                server.serve()
            }
            Err(e) => {
                k42_rt::println!("console-server: cannot start: {e}");
                1
            }
        }
    }
}

//! `sysinfo(info)`: uptime from the kernel's clock, memory figures the
//! library does not know yet (the same as `/proc/meminfo`'s: 256 MiB,
//! half free), one process, no load.

use crate::{Ctx, SysResult};

const _: () = assert!(core::mem::size_of::<linux_raw_sys::system::sysinfo>() == 112);

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let uptime = ctx.native.clock_ns().unwrap_or(0) / 1_000_000_000;
    let mut b = [0u8; 112];
    let mut put =
        |at: usize, v: u64, n: usize| b[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
    put(0, uptime, 8);
    put(32, 256 << 20, 8); // totalram
    put(40, 128 << 20, 8); // freeram
    put(80, 1, 2); // procs
    put(104, 1, 4); // mem_unit
    ctx.write_user(a[0], &b)?;
    Ok(0)
}

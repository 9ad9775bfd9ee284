//! `sysinfo(info)`: uptime from the kernel's clock, the memory from the
//! kernel's `machine` call (all frames and the free ones, in bytes:
//! `mem_unit` 1; the same figures as `/proc/meminfo`), no swap, no shared
//! or buffer memory counted, one process, no load.

use crate::{Ctx, SysResult};

const _: () = assert!(core::mem::size_of::<linux_raw_sys::system::sysinfo>() == 112);

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let uptime = ctx.native.clock_ns().unwrap_or(0) / 1_000_000_000;
    let m = crate::machine::machine(ctx.native, ctx.st.cpu);
    let mut b = [0u8; 112];
    let mut put =
        |at: usize, v: u64, n: usize| b[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
    put(0, uptime, 8);
    put(32, m.total_frames * m.page_size, 8); // totalram
    put(40, m.free_frames * m.page_size, 8); // freeram
    put(80, 1, 2); // procs
    put(104, 1, 4); // mem_unit
    ctx.write_user(a[0], &b)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use linux_raw_sys::general as g;

    #[test]
    fn memory_from_the_machine() {
        let mut l = lib();
        l.native.machine = Some(crate::machine::Machine {
            processors: 2,
            online_mask: 0b11,
            total_frames: 1000,
            free_frames: 250,
            page_size: 4096,
            cpu: 0,
        });
        let m = scratch(&mut l, 1);
        assert_eq!(call(&mut l, g::__NR_sysinfo, &[m]), 0);
        let word = |at: u64| u64::from_le_bytes(l.native.peek(m + at, 8).try_into().unwrap());
        assert_eq!(word(32), 4_096_000, "totalram");
        assert_eq!(word(40), 1_024_000, "freeram");
        assert_eq!(l.native.peek_u32(m + 104), 1, "mem_unit");
    }
}

//! The machine as the Linux personality reports it: the processors
//! online and the memory, from the kernel's `machine` call
//! (`kernel/src/syscall/machine.rs`, [`Native::machine`]), and the
//! process's CPU affinity mask (`sched_setaffinity`), for
//! `sched_getaffinity` (and so musl's `sysconf(_SC_NPROCESSORS_*)` and
//! busybox `nproc`), `/proc/cpuinfo`, `/proc/meminfo` and `sysinfo`.
//!
//! A kernel without the call (the mock's default) is described as before
//! the call existed: one processor (the one the library runs on), 256 MiB
//! of which half free.

use crate::{Ctx, Native};
pub use k42_rt::machine::Machine;

/// Bytes of the affinity mask the personality keeps: one word, as the
/// kernel's online mask (at most 64 processors). Linux's `cpumask_size()`
/// on a machine of up to 64 possible processors is the same 8 bytes.
pub const MASK_BYTES: u64 = 8;

/// The affinity a process starts with: every processor.
pub const ALL: u64 = u64::MAX;

/// The machine now, or the fallback description.
pub fn machine(native: &dyn Native, cpu: u64) -> Machine {
    native.machine().unwrap_or(Machine {
        processors: 1,
        online_mask: 1u64.checked_shl(cpu as u32).unwrap_or(1),
        total_frames: 65536,
        free_frames: 32768,
        page_size: 4096,
        cpu,
    })
}

/// The process's affinity: the mask it set, intersected with the
/// processors online (all of them if none it named is online any more).
pub fn affinity(ctx: &Ctx<'_>) -> u64 {
    let online = machine(ctx.native, ctx.st.cpu).online_mask;
    match ctx.st.affinity & online {
        0 => online,
        m => m,
    }
}

/// Processors online, in order.
pub fn online(m: Machine) -> impl Iterator<Item = u32> {
    (0..64).filter(move |k| m.online_mask & 1 << k != 0)
}

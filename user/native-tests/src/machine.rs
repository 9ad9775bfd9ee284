//! `machine`: the kernel's `machine(buf, len)` from a native program (the
//! kernel's `syscall::machine` test runs it and checks the numbers
//! against its own). Prints the record; a short buffer (8 bytes) must get
//! only the first word and the whole size; a bad pointer and a kernel
//! address must be `-EFAULT`.

use crate::k42::{self, syscall2};
use crate::shm::say;

/// `machine(buf, len)` (the kernel's `syscall::machine`).
const MACHINE: u64 = k42::NATIVE | 50;
/// Bytes of the record.
const RECORD: i64 = 48;

/// The case: status 0 if every check held.
pub fn run() -> u64 {
    let mut w = [0u64; 6];
    let size = syscall2(MACHINE, w.as_mut_ptr() as u64, 48);
    let [processors, mask, total, free, page, cpu] = w;
    say(format_args!(
        "machine: size {size} processors {processors} mask {mask:#x} page {page} total {total}\n"
    ));
    let yn = |b: bool| if b { "yes" } else { "no" };
    say(format_args!(
        "machine: free <= total {}, free > 0 {}\n",
        yn(free <= total),
        yn(free > 0)
    ));
    say(format_args!("machine: cpu {cpu}\n"));
    let mut short = [u64::MAX; 2];
    let n = syscall2(MACHINE, short.as_mut_ptr() as u64, 8);
    let untouched = short[1] == u64::MAX && short[0] == processors;
    say(format_args!(
        "machine: short 8 -> {n}, second word untouched {}\n",
        yn(untouched)
    ));
    let bad = syscall2(MACHINE, 8, 48);
    let kernel = syscall2(MACHINE, 0xffff_8000_0000_0000, 48);
    say(format_args!(
        "machine: bad pointer {bad}, kernel address {kernel}\n"
    ));
    let ok = size == RECORD
        && processors >= 1
        && mask.count_ones() as u64 == processors
        && page == 4096
        && free <= total
        && n == RECORD
        && untouched
        && bad == -14
        && kernel == -14;
    u64::from(!ok)
}

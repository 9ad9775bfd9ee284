//! `machine(buf, len)`: what the machine is: its processors and its
//! memory, for the Linux personality (`sched_getaffinity`, `sysinfo`,
//! `/proc/cpuinfo`, `/proc/meminfo` in `user/syslib`) and any native
//! program that sizes itself to the machine.
//!
//! The record ([`Machine`], mirrored as `k42_rt::machine::Machine`) is six
//! little-endian u64 words, in this order:
//!
//! | word | field | what |
//! |------|-------|------|
//! | 0 | `processors` | processors online ([`percpu::online`]) |
//! | 1 | `online_mask` | bit `k` set if processor `k` is online (at most [`percpu::MAX_CPUS`] = 64) |
//! | 2 | `total_frames` | physical frames the frame allocator manages |
//! | 3 | `free_frames` | those free: in the allocator, or in the root PM's per-processor caches (free, only held nearer their next user) |
//! | 4 | `page_size` | bytes per frame (4096) |
//! | 5 | `cpu` | the processor the caller runs on (when the kernel read it: a dispatcher stays on its processor) |
//!
//! Only the first `len` bytes are written; the call returns the record's
//! whole size, so a caller built for a shorter record still works and
//! one built for a longer one sees what it got (the `boot_entry`
//! convention, `bootfs.rs`). `EFAULT` for a bad buffer. Any process may
//! call it: nothing here is private to another.
//!
//! The numbers are a snapshot: the free count moves with every fault.

use super::{Context, Errno, SyscallResult};
use crate::arch::percpu;
use crate::arch::uaccess::copy_to_user;

/// The record `machine` writes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Machine {
    /// Processors online.
    pub processors: u64,
    /// Bit `k`: processor `k` is online.
    pub online_mask: u64,
    /// Frames the allocator manages.
    pub total_frames: u64,
    /// Frames free (the allocator's and the per-processor caches').
    pub free_frames: u64,
    /// Bytes per frame.
    pub page_size: u64,
    /// The caller's processor.
    pub cpu: u64,
}

/// Bytes of the record.
pub const RECORD: usize = core::mem::size_of::<Machine>();

const _: () = assert!(percpu::MAX_CPUS <= 64, "the online mask is one word");
const _: () = assert!(RECORD == 48);

impl Machine {
    /// The machine now.
    pub fn now() -> Self {
        let online_mask = percpu::all().fold(0u64, |m, c| m | 1 << c.id());
        let (free, total) = crate::mm::frames::stats();
        // Frames cached per processor by the root PM are free too; an
        // error (the PM being destroyed: never, it lives for ever) counts
        // none.
        let cached = crate::mm::user::memory().frames_cached().unwrap_or(0);
        Machine {
            processors: percpu::online() as u64,
            online_mask,
            total_frames: total,
            free_frames: (free + cached as u64).min(total),
            page_size: 4096,
            cpu: percpu::current_id() as u64,
        }
    }

    /// The record's bytes, little-endian words.
    pub fn to_bytes(self) -> [u8; RECORD] {
        let words = [
            self.processors,
            self.online_mask,
            self.total_frames,
            self.free_frames,
            self.page_size,
            self.cpu,
        ];
        let mut b = [0u8; RECORD];
        for (w, out) in words.iter().zip(b.chunks_exact_mut(8)) {
            out.copy_from_slice(&w.to_le_bytes());
        }
        b
    }
}

/// `machine(buf, len)`.
pub fn sys_machine(cx: &mut Context<'_>) -> SyscallResult {
    let [buf, len, ..] = cx.args;
    let n = usize::try_from(len).unwrap_or(usize::MAX).min(RECORD);
    copy_to_user(buf, &Machine::now().to_bytes()[..n]).map_err(|_| Errno::Efault)?;
    Ok(RECORD as u64)
}

ktest::ktest! {
    /// `machine` in a native program (`native-tests machine`): the record
    /// it gets names the online processors (count and mask) and the
    /// frames the allocator has; a short buffer gets only its part and
    /// the whole size; a bad pointer and a kernel address are EFAULT.
    fn syscall_machine_reports_processors_and_memory() {
        use crate::{dispatch, ppc};
        let pid = dispatch::alloc_pid();
        crate::process::capture();
        let d = ppc::start(pid, percpu::current_id(), "machine", "");
        dispatch::run_loop(&|| d.status().is_some());
        let out = crate::process::take_captured();
        assert_eq!(d.status(), Some(0), "{out}");
        let now = Machine::now();
        let mask = (0..percpu::online()).fold(0u64, |m, k| m | 1 << k);
        assert_eq!(now.online_mask, mask, "processors are numbered densely from 0");
        let line = alloc::format!(
            "machine: size 48 processors {} mask {:#x} page 4096 total {}",
            percpu::online(),
            mask,
            now.total_frames
        );
        assert!(out.contains(&line), "want '{line}' in:\n{out}");
        assert!(out.contains("machine: free <= total yes, free > 0 yes"), "{out}");
        assert!(out.contains(&alloc::format!("machine: cpu {}", percpu::current_id())), "{out}");
        assert!(out.contains("machine: short 8 -> 48, second word untouched yes"), "{out}");
        assert!(out.contains("machine: bad pointer -14, kernel address -14"), "{out}");
    }
}

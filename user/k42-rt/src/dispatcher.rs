//! The dispatcher page (`kernel::ppc::page`): soft-interrupt bits, the
//! disabled flag and the async-message ring the kernel fills (words 0, 3
//! and 1, 2, 8.. of the page). Page k belongs to this process's
//! dispatcher on processor k.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::nr;

/// Soft-interrupt bit: an async message is queued.
pub const SOFT_MESSAGE: u64 = 1;
/// Soft-interrupt bit: this dispatcher's timer expired.
pub const SOFT_TIMER: u64 = 2;
/// Soft-interrupt bit: page-fault completions wait to be taken
/// ([`pfault_take`](crate::sys::pfault_take)).
pub const SOFT_PFAULT: u64 = 16;
/// Messages the ring holds.
pub const RING: u64 = 32;
/// Words per message: the sender's pid, then four words.
pub const MSG_WORDS: u64 = 5;

/// One async message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsyncMessage {
    /// The sending process (as the kernel names it).
    pub sender: u32,
    /// The four words.
    pub words: [u64; 4],
}

/// Word `i` of processor `cpu`'s dispatcher page.
fn word(cpu: u64, i: u64) -> &'static AtomicU64 {
    let p = (nr::DISPATCHER_VA + cpu * 4096 + i * 8) as *const AtomicU64;
    // SAFETY: the kernel maps the dispatcher pages read-write in every
    // process; every word is naturally aligned and only ever accessed
    // atomically or by the kernel's checked copies.
    unsafe { &*p }
}

/// Takes (and clears) the pending soft-interrupt bits of this process's
/// dispatcher on `cpu`.
pub fn take_soft_bits(cpu: u64) -> u64 {
    word(cpu, 0).swap(0, Ordering::AcqRel)
}

/// Sets the disabled flag of this process's dispatcher on `cpu` (while
/// set, the kernel delivers no interrupt upcall; it sets the flag itself
/// when it delivers one); returns the old value.
pub fn set_disabled(cpu: u64, disabled: bool) -> bool {
    word(cpu, 3).swap(u64::from(disabled), Ordering::AcqRel) != 0
}

/// Takes the oldest queued message of the dispatcher on `cpu`, if any.
pub fn next_message(cpu: u64) -> Option<AsyncMessage> {
    let head = word(cpu, 1).load(Ordering::Relaxed);
    let tail = word(cpu, 2).load(Ordering::Acquire);
    if head >= tail {
        return None;
    }
    let at = 8 + (head % RING) * MSG_WORDS;
    let m = AsyncMessage {
        sender: word(cpu, at).load(Ordering::Relaxed) as u32,
        words: core::array::from_fn(|i| word(cpu, at + 1 + i as u64).load(Ordering::Relaxed)),
    };
    word(cpu, 1).store(head + 1, Ordering::Release);
    Some(m)
}

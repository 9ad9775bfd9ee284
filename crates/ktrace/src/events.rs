//! The events the kernel logs, one module per class.
//!
//! Conventions the tools rely on:
//! * an event named `enter` or `<what>_enter` opens an interval that the
//!   event `exit` / `<what>_exit` of the same class closes on the same
//!   processor (the exporters draw these as slices);
//! * the `lock` class's `acquire`, `contended` and `release` events take the
//!   lock's address first; `ktrace locks` measures the wait from
//!   `contended` to the next `acquire` of that lock on that processor;
//! * `name` events give a readable name to a numeric id (thread, lock).
use crate::header::{Class, Layer};
use crate::meta::EventDesc;

crate::events! {
    /// Processor exceptions other than page faults.
    pub mod exception(class = Class::EXCEPTION, layer = Layer::KERNEL) {
        /// An exception was taken.
        0 => fn enter(vector: u8, error: u64, rip: u64) = "vector {vector} error {error:x} at {rip:x}";
        /// Its handler returned.
        1 => fn exit(vector: u8) = "vector {vector} done";
    }

    /// Hardware interrupts and inter-processor interrupts.
    pub mod interrupt(class = Class::INTERRUPT, layer = Layer::KERNEL) {
        /// An interrupt handler started.
        0 => fn enter(vector: u8) = "vector {vector}";
        /// It finished.
        1 => fn exit(vector: u8) = "vector {vector} done";
        /// An inter-processor interrupt was sent.
        2 => fn ipi_send(target: u32, vector: u8) = "IPI {vector} to cpu {target}";
    }

    /// Dispatching: who runs, who waits.
    pub mod sched(class = Class::SCHEDULER, layer = Layer::KERNEL) {
        /// The processor switched threads.
        0 => fn switch(from: u64, to: u64) = "{from} -> {to}";
        /// A thread blocked.
        1 => fn block(thread: u64) = "thread {thread} blocks";
        /// A thread was made runnable.
        2 => fn wake(thread: u64, target_cpu: u32) = "thread {thread} woken for cpu {target_cpu}";
        /// A thread moved to another processor.
        3 => fn migrate(thread: u64, to_cpu: u32) = "thread {thread} to cpu {to_cpu}";
        /// A thread got a name.
        4 => fn name(thread: u64, name: &str) = "thread {thread} is {name}";
        /// The processor went idle.
        5 => fn idle_enter() = "idle";
        /// It found work.
        6 => fn idle_exit() = "busy";
    }

    /// Page faults.
    pub mod pagefault(class = Class::PAGE_FAULT, layer = Layer::KERNEL) {
        /// A fault was taken (`flags`: the hardware error code).
        0 => fn enter(addr: u64, rip: u64, flags: u32) = "at {addr:x} from {rip:x} flags {flags:x}";
        /// The fault was resolved (or not).
        1 => fn exit(addr: u64, resolved: bool) = "at {addr:x} resolved {resolved}";
    }

    /// Clustered objects.
    pub mod cobj(class = Class::CLUSTERED_OBJECT, layer = Layer::KERNEL) {
        /// A translation-table miss on this processor.
        0 => fn miss(object: u64, rep: u64) = "object {object:x} miss, rep {rep:x}";
        /// A hot swap began.
        1 => fn swap_begin(object: u64, to: &str) = "object {object:x} swapping to {to}";
        /// The hot swap completed.
        2 => fn swap_end(object: u64) = "object {object:x} swapped";
        /// An object was destroyed after quiescence.
        3 => fn destroy(object: u64) = "object {object:x} destroyed";
        /// An object got a name.
        4 => fn name(object: u64, name: &str) = "object {object:x} is {name}";
    }

    /// Locks.
    pub mod lock(class = Class::LOCK, layer = Layer::KERNEL) {
        /// The lock was acquired.
        0 => fn acquire(lock: u64) = "acquire {lock:x}";
        /// The lock was busy: the caller starts waiting.
        1 => fn contended(lock: u64) = "contended {lock:x}";
        /// The lock was released.
        2 => fn release(lock: u64) = "release {lock:x}";
        /// A lock got a name.
        3 => fn name(lock: u64, name: &str) = "lock {lock:x} is {name}";
    }

    /// System calls, as they arrive and as they return.
    pub mod syscall(class = Class::SYSCALL, layer = Layer::KERNEL) {
        /// A system call arrived.
        0 => fn enter(number: u64, arg0: u64, arg1: u64, arg2: u64) = "syscall {number} ({arg0:x}, {arg1:x}, {arg2:x})";
        /// It returned.
        1 => fn exit(number: u64, result: i64) = "syscall {number} = {result}";
    }

    /// Tests and benchmarks.
    pub mod test(class = Class::TEST, layer = Layer::KERNEL) {
        /// A numbered mark.
        0 => fn mark(writer: u64, value: u64) = "writer {writer} mark {value}";
        /// A message.
        1 => fn message(text: &str) = "{text}";
        /// A test began.
        2 => fn enter(id: u64) = "test {id}";
        /// It ended.
        3 => fn exit(id: u64, passed: bool) = "test {id} passed {passed}";
    }
}

/// Every kernel event table, for the metadata record of a kernel trace.
pub static KERNEL_EVENTS: &[&[EventDesc]] = &[
    exception::EVENTS,
    interrupt::EVENTS,
    sched::EVENTS,
    pagefault::EVENTS,
    cobj::EVENTS,
    lock::EVENTS,
    syscall::EVENTS,
    test::EVENTS,
];

/// Parses a class list such as `sched,lock,syscall`, `all` or `none` (the
/// kernel command line's `trace=` value) into an enable mask. Unknown names
/// are returned as the error.
pub fn parse_mask(list: &str) -> Result<u64, &str> {
    let mut mask = 0u64;
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        mask |= match name {
            "all" => u64::MAX,
            "none" => 0,
            _ => {
                let Some(t) = KERNEL_EVENTS
                    .iter()
                    .find(|t| t.first().is_some_and(|e| e.class_name == name))
                else {
                    return Err(name);
                };
                t[0].class.bit()
            }
        };
    }
    Ok(mask)
}

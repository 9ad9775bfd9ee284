//! The events the kernel logs, one module per class.
//!
//! Conventions the tools rely on:
//! * an event named `enter` or `<what>_enter` opens an interval that the
//!   event `exit` / `<what>_exit` of the same class closes on the same
//!   processor (the exporters draw these as slices);
//! * the `lock` class's `acquire`, `contended` and `release` events take the
//!   lock's address first; `ktrace locks` measures the wait from
//!   `contended` to the next `acquire` of that lock on that processor;
//! * `name` events give a readable name to a numeric id (dispatcher, lock,
//!   system call number);
//! * the `:d` print format shows a dispatcher id as `d<index>.<generation>`
//!   ([`IDLE`] as `idle`); `:x` shows hex;
//! * `sched.switch` events bound per-processor *running* slices, one per
//!   dispatcher (drawn on a track of their own under each processor); a
//!   `sched.idle_enter` ends the running slice too.
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

    /// Dispatching (K42's kernel schedules *dispatchers*: one per process
    /// and processor; the threads inside are the user-level library's
    /// business). Dispatcher ids are `DispatcherId::to_raw()` of the
    /// `sched` crate (index in the low half, generation in the high half),
    /// printed as `d<index>.<generation>` by the `:d` format; [`IDLE`]
    /// stands for "no dispatcher". `ktrace` draws the time between two
    /// switches on a processor as a slice named after the dispatcher.
    pub mod sched(class = Class::SCHEDULER, layer = Layer::KERNEL) {
        /// The processor switched from one dispatcher to another
        /// (`class`: the new one's scheduling class, 0 = kernel .. 5 = idle).
        0 => fn switch(from: u64, to: u64, class: u8) = "{from:d} -> {to:d} (class {class})";
        /// A dispatcher blocked (nothing to run until a wake-up).
        1 => fn block(dispatcher: u64) = "{dispatcher:d} blocks";
        /// A dispatcher was made runnable on processor `cpu`; `preempt`: it
        /// should run now (the processor was idle, or it outranks the
        /// running one), so an IPI or a reschedule follows.
        2 => fn wake(dispatcher: u64, cpu: u32, preempt: bool) = "{dispatcher:d} woken on cpu {cpu} (preempt {preempt})";
        /// A dispatcher moved between processors (load balancing, or a
        /// request), with its virtual-time lag.
        3 => fn migrate(dispatcher: u64, from_cpu: u32, to_cpu: u32) = "{dispatcher:d} cpu {from_cpu} -> cpu {to_cpu}";
        /// A dispatcher got a name (its process's, usually).
        4 => fn name(dispatcher: u64, name: &str) = "{dispatcher:d} is {name}";
        /// The processor went idle.
        5 => fn idle_enter() = "idle";
        /// It found work.
        6 => fn idle_exit() = "busy";
        /// The running dispatcher loses the processor before it asked to:
        /// its slice ended (`slice_end`) or a higher class woke.
        7 => fn preempt(dispatcher: u64, slice_end: bool) = "{dispatcher:d} preempted (slice end {slice_end})";
        /// A dispatcher gave the rest of its slice away.
        8 => fn yield_slice(dispatcher: u64) = "{dispatcher:d} yields";
        /// A protected procedure call handed the processor straight to
        /// another dispatcher (`call`: a call, else a return).
        9 => fn handoff(from: u64, to: u64, call: bool) = "{from:d} => {to:d} (call {call})";
        /// A dispatcher was created on processor `cpu` in class `class`.
        10 => fn create(dispatcher: u64, cpu: u32, class: u8) = "{dispatcher:d} created on cpu {cpu}, class {class}";
        /// A dispatcher ended.
        11 => fn destroy(dispatcher: u64, status: u64) = "{dispatcher:d} ended, status {status}";
    }

    /// Page faults.
    pub mod pagefault(class = Class::PAGE_FAULT, layer = Layer::KERNEL) {
        /// A fault was taken (`flags`: the hardware error code).
        0 => fn enter(addr: u64, rip: u64, flags: u32) = "at {addr:x} from {rip:x} flags {flags:x}";
        /// The fault was resolved (or not).
        1 => fn exit(addr: u64, resolved: bool) = "at {addr:x} resolved {resolved}";
        /// The fault waits for I/O `io`: the dispatcher took the page-fault
        /// upcall (`upcall`), or waits in the kernel.
        2 => fn upcall(addr: u64, io: u64, dispatcher: u64, upcall: bool) = "at {addr:x} waits for I/O {io} (dispatcher {dispatcher:x}, upcall {upcall})";
        /// I/O `io` completed for a dispatcher that waited for it
        /// (`result`: 0 or a negated errno).
        3 => fn done(io: u64, dispatcher: u64, result: i64) = "I/O {io} done for dispatcher {dispatcher:x}: {result}";
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

    /// System calls, as they arrive and as they return (the `sched`
    /// crate's native calls: the number and the first argument registers).
    /// `ktrace` pairs `enter` and `exit` per processor into slices named
    /// after the call (from `name` events, else its number).
    pub mod syscall(class = Class::SYSCALL, layer = Layer::KERNEL) {
        /// A system call arrived (from the dispatcher running on this
        /// processor: see the last `sched.switch`).
        0 => fn enter(number: u64, arg0: u64, arg1: u64, arg2: u64) = "syscall {number} ({arg0:x}, {arg1:x}, {arg2:x})";
        /// It returned `result` (negative: an error code).
        1 => fn exit(number: u64, result: i64) = "syscall {number} = {result}";
        /// A system call number got a name (logged once, at boot).
        2 => fn name(number: u64, name: &str) = "syscall {number} is {name}";
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

/// The dispatcher id meaning "none": `sched.switch` to or from the idle
/// loop.
pub const IDLE: u64 = u64::MAX;

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

//! Machine context switch: the only module with `unsafe` code.
//!
//! A parked thread is represented by one word, its saved stack pointer. The
//! stack below it holds what the x86-64 System V ABI says a callee must
//! preserve: `rbp rbx r12 r13 r14 r15`, plus the x87 control word and the
//! SSE `MXCSR` (rounding modes and exception masks are per thread). Every
//! other register is caller-saved, so the compiler has already spilled it
//! around the call to [`Context::switch`].
//!
//! A new thread's stack is laid out as if it had been switched away from just
//! before entering `k42_uthread_trampoline`, which calls the entry function
//! kept in `r12` with the argument passed in `rdx` by the switch that first
//! runs it.

use alloc::rc::Rc;
use core::cell::Cell;
use core::marker::PhantomData;

use crate::Stack;

core::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl k42_uthread_switch",
    "k42_uthread_switch:",
    // rdi = where to save our stack pointer, rsi = stack pointer to load,
    // rdx = argument for a thread that starts now (left untouched).
    "push rbp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "sub rsp, 8",
    "stmxcsr [rsp]",
    "fnstcw [rsp + 4]",
    "mov [rdi], rsp",
    "mov rsp, rsi",
    "ldmxcsr [rsp]",
    "fldcw [rsp + 4]",
    "add rsp, 8",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".p2align 4",
    ".globl k42_uthread_trampoline",
    "k42_uthread_trampoline:",
    // rsp is 16-byte aligned here; the call pushes the return address, as
    // the ABI expects at a function's first instruction.
    "mov rdi, rdx",
    "call r12",
    "ud2",
);

extern "C" {
    fn k42_uthread_switch(save: *mut usize, load: usize, arg: usize);
    fn k42_uthread_trampoline();
}

/// Default `MXCSR` (all exceptions masked, round to nearest) in the low half
/// and the default x87 control word in the high half.
const INITIAL_FPU_WORD: u64 = 0x1F80 | (0x037F << 32);

/// Whatever runs on a thread: the dispatcher, reached through the argument
/// of the first switch into the thread.
pub(crate) trait Entry {
    /// Runs a new thread to completion; never returns (it switches away).
    fn thread_main(&self) -> !;
}

/// A saved machine context, typed by the [`Entry`] its new threads call.
pub(crate) struct Context<T: Entry> {
    sp: Cell<usize>,
    stack: Option<Stack>,
    _entry: PhantomData<fn(&T)>,
}

extern "C" fn start<T: Entry>(arg: usize) -> ! {
    // SAFETY: `arg` is the `&T` handed to the `Context::switch` that first
    // ran this thread. The dispatcher (the only `T`) lives in an `Rc` and so
    // never moves; threads run only inside `Dispatcher::run(&self)`, and a
    // dropped dispatcher frees its parked threads' stacks without resuming
    // them, so the reference is valid whenever this thread executes.
    let target = unsafe { &*(arg as *const T) };
    target.thread_main()
}

impl<T: Entry> Context<T> {
    /// The context of the code that calls `switch` first (the scheduler
    /// loop on the dispatcher's own stack); filled in by that switch.
    pub(crate) fn current() -> Self {
        Self {
            sp: Cell::new(0),
            stack: None,
            _entry: PhantomData,
        }
    }

    /// A new thread on `stack` that will call `T::thread_main`.
    pub(crate) fn new_thread(mut stack: Stack) -> Self {
        let words = stack.words_mut();
        let base = words.as_ptr() as usize;
        let top = (base + words.len() * 8) & !15;
        // After `ret` into the trampoline, rsp is 16-byte aligned.
        let after_ret = top - 16;
        let sp = after_ret - 8 * 8;
        let frame = [
            INITIAL_FPU_WORD,
            0,                                                       // r15
            0,                                                       // r14
            0,                                                       // r13
            start::<T> as extern "C" fn(usize) -> ! as usize as u64, // r12
            0,                                                       // rbx
            0,                                                       // rbp
            k42_uthread_trampoline as *const () as usize as u64,     // return address
        ];
        let first = (sp - base) / 8;
        words[first..first + frame.len()].copy_from_slice(&frame);
        Self {
            sp: Cell::new(sp),
            stack: Some(stack),
            _entry: PhantomData,
        }
    }

    /// Saves the running context into `from` and resumes `to`; returns when
    /// something switches back to `from`. `target` is passed to `to` if it
    /// is a thread starting now.
    pub(crate) fn switch(from: &Self, to: &Self, target: &T) {
        let load = to.sp.get();
        assert!(load != 0, "switch to a context that was never saved");
        // SAFETY: `to` holds either a frame built by `new_thread` on a stack
        // it owns or a stack pointer saved by this routine, and stacks are
        // released only through `into_stack`, which consumes the context. The
        // assembly preserves every callee-saved register and the FPU control
        // state, and writes only `from.sp`.
        unsafe { k42_uthread_switch(from.sp.as_ptr(), load, target as *const T as usize) }
    }

    /// Like [`switch`](Self::switch), for a thread that will never run
    /// again: `from` is dropped first so the dead stack holds no reference
    /// count; whoever else holds `from` (the thread table) must keep it
    /// alive until the switch has saved into it.
    pub(crate) fn exit_to(from: Rc<Self>, to: &Self, target: &T) -> ! {
        assert!(
            Rc::strong_count(&from) > 1,
            "an exiting context must be kept alive by its owner"
        );
        let save = from.sp.as_ptr();
        drop(from);
        let load = to.sp.get();
        assert!(load != 0, "switch to a context that was never saved");
        // SAFETY: another `Rc` (the thread table's) keeps the context, and so
        // `save`, alive until the scheduler reaps the thread, which happens
        // only after this switch has returned control to it. `load` is valid
        // as in `switch`. Nothing switches back to this context.
        unsafe { k42_uthread_switch(save, load, target as *const T as usize) };
        unreachable!("an exited thread was resumed")
    }

    /// Whether the code asking runs on this context's stack: compares the
    /// address of a local with the stack's bounds. Lets the dispatcher refuse
    /// a switch made on the wrong stack (a thread of another dispatcher
    /// calling into this one), which would save the wrong stack pointer.
    pub(crate) fn is_running_here(&self) -> bool {
        let probe = 0u8;
        let addr = core::hint::black_box(&probe) as *const u8 as usize;
        self.stack.as_ref().is_some_and(|stack| {
            let base = stack.base_addr();
            addr >= base && addr < base + stack.len_bytes()
        })
    }

    /// The stack back, for the allocator; the context can no longer run.
    pub(crate) fn into_stack(self) -> Option<Stack> {
        self.stack
    }
}

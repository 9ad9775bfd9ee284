//! Per-processor data, reached through the GS base.
//!
//! Each processor owns one [`PerCpu`], allocated when it starts and never
//! freed. Its address is in `IA32_GS_BASE`, and its first word points at
//! itself, so `mov rax, gs:[0]` yields a reference with no table lookup and
//! no shared write: the same property K42's processor-specific memory gives
//! clustered objects. [`current_id`] is one `gs`-relative load.
//!
//! Before the boot processor has set its GS base, [`current_id`] returns 0.

use super::gdt::CpuTables;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use x86_64::registers::model_specific::GsBase;
use x86_64::VirtAddr;

/// The most processors K42-rs runs; more in the MADT are refused, loudly.
pub const MAX_CPUS: usize = 64;

/// One processor's private data.
#[repr(C)]
pub struct PerCpu {
    self_ptr: u64,
    id: u64,
    /// Kernel stack top for `syscall` from user mode.
    pub syscall_rsp: AtomicU64,
    /// The user stack pointer, saved by `syscall_entry`.
    pub user_rsp: AtomicU64,
    /// Kernel stack pointer to return to when the user context ends
    /// (0: none running).
    pub exit_rsp: AtomicU64,
    /// The status the user context ended with.
    pub exit_status: AtomicU64,
    /// Set by `usermode::finish`; checked by the trap and syscall stubs.
    pub exit_pending: AtomicU64,
    /// Address of this processor's `TSS.rsp0`.
    pub tss_rsp0: u64,
    /// Where `user_exit` saves the user registers (the running context's
    /// frame).
    pub save_frame: AtomicU64,
    /// Local APIC id.
    pub apic_id: u32,
    /// Timer ticks taken on this processor.
    pub ticks: AtomicU64,
    /// Interrupts (of any vector) taken here.
    pub interrupts: AtomicU64,
    /// Descriptor tables.
    pub tables: CpuTables,
    /// Cross-processor function calls waiting for this processor.
    pub ipi: crate::ipi::Mailbox,
}

impl PerCpu {
    /// This processor's logical id, 0 = boot processor.
    pub fn id(&self) -> usize {
        self.id as usize
    }
}

static CPUS: [AtomicPtr<PerCpu>; MAX_CPUS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];
static ONLINE: AtomicUsize = AtomicUsize::new(0);
static GS_READY: AtomicBool = AtomicBool::new(false);

/// Installs `pc` as this processor's data and marks it online.
pub fn install(pc: &'static mut PerCpu, id: usize) {
    pc.self_ptr = pc as *mut PerCpu as u64;
    pc.id = id as u64;
    let ptr: *mut PerCpu = pc;
    GsBase::write(VirtAddr::new(ptr as u64));
    CPUS[id].store(ptr, Ordering::Release);
    ONLINE.fetch_add(1, Ordering::AcqRel);
    GS_READY.store(true, Ordering::Release);
}

/// Offsets of the fields the user-mode entry code reaches through `gs`.
pub const OFF_SYSCALL_RSP: usize = core::mem::offset_of!(PerCpu, syscall_rsp);
/// See [`OFF_SYSCALL_RSP`].
pub const OFF_USER_RSP: usize = core::mem::offset_of!(PerCpu, user_rsp);
/// See [`OFF_SYSCALL_RSP`].
pub const OFF_EXIT_RSP: usize = core::mem::offset_of!(PerCpu, exit_rsp);
/// See [`OFF_SYSCALL_RSP`].
pub const OFF_EXIT_STATUS: usize = core::mem::offset_of!(PerCpu, exit_status);
/// See [`OFF_SYSCALL_RSP`].
pub const OFF_EXIT_PENDING: usize = core::mem::offset_of!(PerCpu, exit_pending);
/// See [`OFF_SYSCALL_RSP`].
pub const OFF_TSS_RSP0: usize = core::mem::offset_of!(PerCpu, tss_rsp0);
/// See [`OFF_SYSCALL_RSP`].
pub const OFF_SAVE_FRAME: usize = core::mem::offset_of!(PerCpu, save_frame);

/// Creates the per-processor record (not yet installed).
pub fn new(apic_id: u32, tables: CpuTables) -> &'static mut PerCpu {
    alloc::boxed::Box::leak(alloc::boxed::Box::new(PerCpu {
        self_ptr: 0,
        id: 0,
        syscall_rsp: AtomicU64::new(0),
        user_rsp: AtomicU64::new(0),
        exit_rsp: AtomicU64::new(0),
        exit_status: AtomicU64::new(0),
        exit_pending: AtomicU64::new(0),
        tss_rsp0: tables.tss_rsp0(),
        save_frame: AtomicU64::new(0),
        apic_id,
        ticks: AtomicU64::new(0),
        interrupts: AtomicU64::new(0),
        tables,
        ipi: crate::ipi::Mailbox::new(),
    }))
}

/// This processor's data.
#[inline]
pub fn current() -> &'static PerCpu {
    let p: u64;
    // SAFETY: once installed, gs:[0] holds the address of this processor's
    // leaked `PerCpu`; callers before `install` are excluded by the
    // assertion below (only reachable in a kernel bug).
    unsafe {
        core::arch::asm!("mov {}, gs:[0]", out(reg) p, options(nostack, readonly, preserves_flags))
    };
    assert!(p != 0, "per-processor data used before it was installed");
    // SAFETY: see above; the record is never freed.
    unsafe { &*(p as *const PerCpu) }
}

/// This processor's logical id.
#[inline]
pub fn current_id() -> usize {
    if !GS_READY.load(Ordering::Relaxed) {
        return 0;
    }
    let id: u64;
    // SAFETY: gs:[8] is the `id` field of this processor's `PerCpu`.
    unsafe {
        core::arch::asm!("mov {}, gs:[8]", out(reg) id, options(nostack, readonly, preserves_flags))
    };
    id as usize
}

/// Processor `id`'s data, if it is online.
pub fn get(id: usize) -> Option<&'static PerCpu> {
    let p = CPUS.get(id)?.load(Ordering::Acquire);
    // SAFETY: non-null entries point at leaked, never-freed records.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Number of processors online.
pub fn online() -> usize {
    ONLINE.load(Ordering::Acquire)
}

/// Iterates over the online processors.
pub fn all() -> impl Iterator<Item = &'static PerCpu> {
    (0..MAX_CPUS).filter_map(get)
}

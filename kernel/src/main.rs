//! The K42-rs kernel.
//!
//! This binary boots the machine and wires the core crates to the
//! hardware; it does not reimplement them. Boot order, from
//! [`arch::boot`]'s PVH entry to [`kmain`]:
//!
//! 1. serial console and logger; decode the PVH start info (`bootinfo`);
//! 2. physical frames over the e820 map (`frames`), then the kernel's own
//!    page tables (direct map, W^X image) and the bootstrap heap;
//! 3. ACPI (`acpi-tables`): MADT for processors, FADT for power-off;
//! 4. the boot processor's GDT/TSS/IDT and per-processor data, the local
//!    APIC, its timer calibrated against the PIT, the TSC clock;
//! 5. the application processors, named as each comes up;
//! 6. the in-kernel tests (`ktest` on the command line) or the monitor.
//!
//! `unsafe` is confined to [`arch`], [`mm`], [`console`] and a few
//! clearly marked spots; [`monitor`] denies it.
#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod backtrace;
mod bench;
mod clustered;
mod console;
mod difftest;
mod dispatch;
mod ipi;
mod ktests;
mod linux_tests;
mod mm;
mod monitor;
mod panic;
mod ppc;
mod process;
mod server_tests;
mod services;
mod sync;
mod syscall;
mod time;
mod trace;

use arch::{apic, cpu, percpu, power, smp};
use bootinfo::{Cmdline, MemoryMap, StartInfo};
use core::sync::atomic::{AtomicUsize, Ordering};
use spin::Once;

/// The command line, copied out of boot memory before the identity map goes.
struct CmdlineCopy {
    bytes: [u8; 1024],
    len: usize,
}

static CMDLINE: Once<CmdlineCopy> = Once::new();
static MEMORY_MAP: Once<MemoryMap> = Once::new();
static MADT_CPUS: AtomicUsize = AtomicUsize::new(0);

/// The kernel command line.
pub fn cmdline() -> Cmdline<'static> {
    let text = CMDLINE.get().map_or("", |c| {
        let bytes = &c.bytes[..c.len];
        match core::str::from_utf8(bytes) {
            Ok(s) => s,
            // Truncated inside a character: keep the valid prefix.
            Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
        }
    });
    Cmdline::new(text)
}

/// The boot memory map.
pub fn memory_map() -> Option<&'static MemoryMap> {
    MEMORY_MAP.get()
}

/// The version banner.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Reads low physical memory through the boot identity map (first GiB).
fn read_identity(pa: u64, len: usize) -> Option<&'static [u8]> {
    if pa == 0 || pa.checked_add(len as u64)? > 1 << 30 {
        return None;
    }
    // SAFETY: the boot page tables identity-map the first GiB; the bytes are
    // firmware-provided data that nothing writes during boot.
    Some(unsafe { core::slice::from_raw_parts(pa as *const u8, len) })
}

/// Reads physical memory through the direct map.
fn read_direct(pa: u64, len: usize) -> Option<&'static [u8]> {
    let max = memory_map()?.regions().iter().map(|r| r.end()).max()?;
    if pa.checked_add(len as u64)? > max.min(mm::frames::MAX_PHYS) {
        return None;
    }
    // SAFETY: the direct map covers RAM and ACPI memory (2 MiB rounded);
    // ACPI tables are firmware data nobody writes.
    Some(unsafe { core::slice::from_raw_parts(mm::phys_to_virt(pa) as *const u8, len) })
}

/// Sets up kalloc from the SRAT (or one node holding everything). Processor
/// k is the k-th to start: the boot processor, then the MADT order.
fn init_heap<'a, R: Fn(u64, usize) -> Option<&'a [u8]>>(
    acpi: &acpi_tables::Acpi<'a, R>,
    apic_ids: &[u32],
    bsp_apic: u32,
    memory: &MemoryMap,
) {
    use alloc::vec::Vec;
    let order: Vec<u32> = core::iter::once(bsp_apic)
        .chain(apic_ids.iter().copied().filter(|&a| a != bsp_apic))
        .take(percpu::MAX_CPUS)
        .collect();
    let (nodes, cpu_nodes, ranges) = match acpi.srat() {
        Ok(srat) => {
            let mut domains: Vec<u32> = srat
                .memory()
                .filter(|m| m.enabled && m.len > 0)
                .map(|m| m.node)
                .collect();
            domains.sort_unstable();
            domains.dedup();
            let index = |d: u32| domains.iter().position(|&x| x == d).unwrap_or(0);
            let cpu_nodes: Vec<usize> = order
                .iter()
                .map(|&a| {
                    srat.processors()
                        .find(|p| p.apic_id == a && p.enabled)
                        .map_or(0, |p| index(p.node))
                })
                .collect();
            let ranges: Vec<(u64, u64, usize)> = srat
                .memory()
                .filter(|m| m.enabled && m.len > 0)
                .map(|m| (m.base, m.base + m.len, index(m.node)))
                .collect();
            (domains.len().max(1), cpu_nodes, ranges)
        }
        Err(_) => (
            1,
            alloc::vec![0; order.len()],
            alloc::vec![(0, memory.max_usable(), 0)],
        ),
    };
    mm::heap::init_kalloc(nodes, &cpu_nodes, &ranges);
    log::info!(
        "heap: kalloc over {nodes} NUMA node{}, {} processors{}",
        if nodes == 1 { "" } else { "s" },
        cpu_nodes.len(),
        if nodes > 1 {
            alloc::format!(" (nodes by processor: {cpu_nodes:?})")
        } else {
            alloc::string::String::new()
        }
    );
}

/// Logs one processor's arrival.
pub fn log_banner_cpu(index: usize, apic_id: u32) {
    log::info!("cpu{index}: apic id {apic_id} online");
}

/// What an application processor does: serve dispatchers once the system
/// runs ([`dispatch::serve_everywhere`]), else wait for interrupts.
pub fn idle_loop() -> ! {
    loop {
        if dispatch::serving() {
            dispatch::run_loop(&|| false);
        }
        clustered::quiescent();
        trace::idle_wait();
    }
}

/// The boot processor's Rust entry, called by the PVH trampoline with the
/// physical address of `hvm_start_info`.
#[no_mangle]
pub extern "C" fn kmain(start_info: u64) -> ! {
    time::mark_boot();
    arch::serial::COM1_UART.init();
    arch::idt::load();
    let info = match StartInfo::parse(start_info, &read_identity) {
        Ok(info) => info,
        Err(e) => panic!("cannot read the boot information: {e}"),
    };
    CMDLINE.call_once(|| {
        let src = info.cmdline.as_str().as_bytes();
        let mut c = CmdlineCopy {
            bytes: [0; 1024],
            len: src.len().min(1024),
        };
        c.bytes[..c.len].copy_from_slice(&src[..c.len]);
        c
    });
    let level = match info.cmdline.get("loglevel") {
        Some("debug") => log::LevelFilter::Debug,
        Some("warn") => log::LevelFilter::Warn,
        Some("error") => log::LevelFilter::Error,
        Some("trace") => log::LevelFilter::Trace,
        _ => log::LevelFilter::Info,
    };
    console::init_logger(level);
    trace::init();
    let mut brand = [0u8; 48];
    println!();
    println!("K42-rs {VERSION}: a K42-style research kernel in Rust (x86-64, PVH boot)");
    log::info!("cpu: {}", cpu::brand(&mut brand));
    log::info!("command line: '{}'", info.cmdline.as_str());
    log::info!("memory map:");
    for r in info.memory.regions() {
        log::info!("  {r}");
    }
    let memory = *MEMORY_MAP.call_once(|| info.memory);

    // Physical memory, page tables, heap.
    let mut reserved = [(0u64, 0u64); bootinfo::MAX_MODULES];
    for (i, (slot, m)) in reserved.iter_mut().zip(info.modules()).enumerate() {
        *slot = (m.start, m.start + m.len);
        log::info!("module at {:#x}, {} KiB", m.start, m.len / 1024);
        if i == 0 {
            process::set_initramfs(m.start, m.len);
        }
    }
    mm::frames::init(&memory, &reserved);
    arch::paging::init(&memory);
    mm::heap::init_boot();
    let (free, _) = mm::frames::stats();
    log::info!(
        "memory: {} MiB usable, {} MiB free",
        memory.usable_bytes() >> 20,
        (free * 4096) >> 20,
    );

    // ACPI.
    let rsdp = info
        .rsdp
        .unwrap_or_else(|| panic!("no ACPI RSDP in the boot information"));
    let acpi =
        acpi_tables::Acpi::from_rsdp(rsdp, &read_direct).unwrap_or_else(|e| panic!("ACPI: {e}"));
    let madt = acpi.madt().unwrap_or_else(|e| panic!("ACPI: {e}"));
    match acpi.fadt() {
        Ok(f) => power::set_pm1a_control(f.pm1a_control),
        Err(e) => log::warn!("ACPI: {e}; poweroff will halt instead"),
    }
    let apic_ids: alloc::vec::Vec<u32> = madt
        .processors()
        .filter(|p| p.enabled)
        .map(|p| p.apic_id)
        .collect();
    MADT_CPUS.store(apic_ids.len(), Ordering::Relaxed);
    for io in madt.io_apics() {
        log::info!(
            "I/O APIC {} at {:#x}, GSI base {}",
            io.id,
            io.address,
            io.gsi_base
        );
    }

    // The boot processor's APIC, then the real heap: kalloc, told which
    // node each processor and each memory range belongs to.
    let bsp_apic = apic::init_bsp(madt.local_apic_address());
    init_heap(&acpi, &apic_ids, bsp_apic, &memory);

    // The boot processor.
    let pc = percpu::new(bsp_apic, smp::new_cpu_tables());
    pc.tables.load();
    percpu::install(pc, 0);
    arch::usermode::init_cpu();
    let hz = apic::calibrate();
    time::set_tsc_hz(hz);
    match arch::rtc::read_unix() {
        Some(t) => time::set_epoch(t),
        None => log::warn!("no real-time clock: CLOCK_REALTIME starts at 1970"),
    }
    log::info!(
        "clock: TSC {}.{:03} MHz{}, tick {} Hz",
        hz / 1_000_000,
        (hz / 1000) % 1000,
        if cpu::has_invariant_tsc() {
            " (invariant)"
        } else {
            ""
        },
        apic::TICK_HZ
    );
    apic::start_timer();
    cpu::enable_interrupts();
    log::info!("cpu0: apic id {bsp_apic} online (boot processor)");

    // The others.
    let online = smp::start_aps(&apic_ids);
    panic::smp_is_up();
    clustered::init();
    mm::user::init();
    syscall::trace_names();
    log::info!(
        "{online} processor{} online; boot took {} ms",
        if online == 1 { "" } else { "s" },
        time::now_ns() / 1_000_000
    );
    trace::run_workload();

    if cmdline().has(ktest::protocol::CMDLINE_RUN) {
        let start = cmdline()
            .get_u64(ktest::protocol::CMDLINE_START)
            .unwrap_or(0) as usize;
        ktests::run(start)
    }
    if cmdline().has("difftest") {
        difftest::run()
    }
    if cmdline().has("kbench") {
        ktests::run_benches()
    }
    monitor::run()
}

ktest::ktest! {
    /// Every enabled processor in the MADT came online (up to the limit).
    fn smp_all_madt_processors_online() {
        let expected = MADT_CPUS.load(Ordering::Relaxed).min(percpu::MAX_CPUS);
        assert_eq!(percpu::online(), expected);
        assert!(percpu::all().count() == expected);
    }
}

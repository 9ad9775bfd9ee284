//! Kernel tracing: the `ktrace` log wired to this machine (K42's trace
//! facility, paper §9).
//!
//! The log is always compiled in and costs a load and a branch per event
//! site while its class is off. What this module adds to the crate:
//!
//! * the memory: one [`CpuBuffer`] of [`BLOCKS`] × [`BLOCK_WORDS`] words
//!   per possible processor, zero in `.bss` (64 KiB each, 4 MiB for 64);
//! * the [`Platform`]: the processor id is one `gs`-relative load
//!   ([`percpu::current_id`]), the clock is `RDTSC`; a buffer is written
//!   only by its own processor and its interrupt handlers, so the plain
//!   `RDTSC` orders events correctly, and the platform is single-writer:
//!   events are reserved and committed with `cmpxchg`/`add` without the
//!   `lock` prefix. The price: kernel code must not migrate in the middle
//!   of a logging call (true while the kernel is not preemptible; a future
//!   preemptive kernel disables preemption around it), and the daemon
//!   cannot seal another processor's block itself: it asks, and each
//!   processor's timer tick ([`tick`]) does it;
//! * the enable mask from the command line (`trace=sched,lock`, `trace=all`)
//!   and the monitor (`trace <classes>|off|stats`);
//! * the stream out of the guest: a daemon copies completed blocks, [`LAG`]
//!   blocks behind the writers, as raw bytes to COM2 (I/O base 0x2f8). It
//!   runs on the boot processor's monitor loop, between workload steps, and
//!   from the boot processor's timer tick (every completed block, at most
//!   [`TICK_BLOCKS`] per tick, and only if the daemon is not busy already),
//!   so it keeps up during a long test. QEMU writes COM2 to a file
//!   (`-serial file:PATH` after the console's `-serial`), and that file is
//!   a trace `ktrace` reads;
//! * workloads (`workload=boot`, `workload=ktest` on the command line,
//!   started by `cargo xtask trace`): run, flush the log, power off;
//! * the test runner's hooks ([`test_begin`], [`test_end`]): `test` events
//!   around each in-kernel test, so a test run's trace is readable.
//!
//! Event sites: exceptions and page faults (caught or fatal) and every
//! interrupt in `arch::trap`; `IrqMutex` acquire / contended / release in
//! `sync` (the lock's address as id; `ktrace locks` derives the wait time
//! from contended → acquire); the idle loop and the monitor's wait as
//! scheduling events (there is no scheduler yet); a heartbeat from the
//! timer tick; test start / end in the `ktest` workload. There are no
//! system calls yet, so the `syscall` class has no sites.
//!
//! Logging is lock-free and allocation-free, so any of these may run in an
//! interrupt handler or in the lock code itself.

use crate::arch::{cpu, percpu, power, serial::COM2_UART};
use crate::println;
use core::convert::Infallible;
use core::sync::atomic::{AtomicBool, Ordering};
use ktrace::events::{self, KERNEL_EVENTS};
use ktrace::stream::ByteSink;
use ktrace::{CpuBuffer, Overflow, Platform, StreamWriter, Tracer};

/// Blocks per processor.
pub const BLOCKS: usize = 8;
/// Words (u64) per block.
pub const BLOCK_WORDS: usize = 1024;
/// How many blocks the daemon stays behind the writers.
pub const LAG: u64 = 2;
/// Timer ticks between heartbeats (the header word holds 32 bits of the
/// TSC, about 0.7 s at 3 GHz; 4 ticks are 40 ms).
const HEARTBEAT_TICKS: u64 = 4;

/// The kernel's [`Platform`]: per-processor id and TSC.
pub struct KernelClock;

impl Platform for KernelClock {
    /// A buffer is written only by its processor and that processor's
    /// interrupt handlers, and kernel code does not migrate in the middle
    /// of a logging call (there is no kernel preemption): reservation and
    /// commit need no `lock` prefix.
    const SINGLE_WRITER: bool = true;

    #[inline(always)]
    fn cpu_id(&self) -> usize {
        percpu::current_id()
    }

    #[inline(always)]
    fn timestamp(&self) -> u64 {
        cpu::rdtsc()
    }

    #[inline(always)]
    fn timestamp_low(&self) -> u32 {
        ktrace::arch::tsc_low()
    }
}

/// The kernel's tracer type.
pub type KernelTracer = Tracer<'static, KernelClock, BLOCKS, BLOCK_WORDS>;

static BUFFERS: [CpuBuffer<BLOCKS, BLOCK_WORDS>; percpu::MAX_CPUS] =
    [const { CpuBuffer::new() }; percpu::MAX_CPUS];

/// The kernel's log. Pass it to the generated event functions:
/// `ktrace::events::lock::acquire(&trace::TRACER, addr)`.
pub static TRACER: KernelTracer = Tracer::new(&BUFFERS, Overflow::Wrap, KernelClock);

/// COM2 as a raw byte sink.
struct Com2;

impl ByteSink for Com2 {
    type Error = Infallible;
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), Infallible> {
        for &b in bytes {
            COM2_UART.put(b);
        }
        Ok(())
    }
}

/// The trace daemon's state.
struct Daemon {
    writer: StreamWriter<'static, 'static, 'static, KernelClock, BLOCKS, BLOCK_WORDS>,
    sent: u64,
    skipped: u64,
    /// Of `sent`, blocks streamed from the boot processor's timer tick.
    from_tick: u64,
    /// Processors that had not sealed their last block when a flush gave
    /// up waiting (their last events are missing from the stream).
    unsealed: u64,
}

static DAEMON: spin::Mutex<Option<Daemon>> = spin::Mutex::new(None);
/// Set once tracing has been enabled: from then on the daemon streams.
static STREAMING: AtomicBool = AtomicBool::new(false);

/// Reads `trace=` from the command line and enables those classes.
pub fn init() {
    COM2_UART.init();
    let Some(list) = crate::cmdline().get("trace") else {
        return;
    };
    if let Err(e) = set_classes(list) {
        log::warn!("trace: {e}; tracing stays off");
    } else {
        log::info!("trace: classes '{list}' on, streaming to COM2");
    }
}

/// Sets the enabled classes from a list such as `sched,lock`, `all`, `off`.
fn set_classes(list: &str) -> Result<(), alloc::string::String> {
    let list = if list == "off" { "none" } else { list };
    let mask = events::parse_mask(list).map_err(|bad| {
        alloc::format!("unknown trace class '{bad}' (classes: {})", class_names())
    })?;
    if mask != 0 {
        STREAMING.store(true, Ordering::Release);
    }
    TRACER.set_mask(mask);
    Ok(())
}

fn class_names() -> alloc::string::String {
    let mut s = alloc::string::String::from("all, none");
    for t in KERNEL_EVENTS {
        if let Some(e) = t.first() {
            s.push_str(", ");
            s.push_str(e.class_name);
        }
    }
    s
}

/// The timer tick's part, on every processor: carry out the daemon's
/// requests to seal this processor's block (the buffers are single-writer,
/// so only the owner may), and a heartbeat every few ticks so readers can
/// follow the 32-bit timestamps across quiet spells. On the boot processor
/// the tick also streams up to [`TICK_BLOCKS`] completed blocks, so the
/// stream keeps up while a long test or workload runs between the daemon's
/// regular polls.
#[inline]
pub fn tick(ticks: u64) {
    TRACER.serve();
    if ticks.is_multiple_of(HEARTBEAT_TICKS) {
        TRACER.heartbeat();
    }
    if percpu::current_id() == 0 && STREAMING.load(Ordering::Relaxed) {
        pump_from_tick();
    }
}

/// Blocks the boot processor's tick sends at most: 8 KiB each, so the
/// interrupt handler stays bounded, and the tick rate (100 Hz) bounds the
/// stream at 400 blocks (3.2 MiB) per second, far above what the tests log
/// on average. A burst of more than `BLOCKS - 1` blocks between two ticks
/// still loses the oldest (and `ktrace stats` reports it).
const TICK_BLOCKS: u64 = 4;

/// Streams a little from the timer interrupt. Only once the daemon has
/// started (starting allocates, and the interrupted code may hold the
/// heap's lock), and only if nobody else is streaming right now (the
/// interrupted code may be in [`pump`] itself).
#[cold]
fn pump_from_tick() {
    let Some(mut daemon) = DAEMON.try_lock() else {
        return;
    };
    if let Some(d) = daemon.as_mut() {
        // Every completed block (no lag): ticks are 10 ms apart, so the
        // ring's slack, not sharing cache lines with the writers, is what
        // matters here.
        let Ok(stats) = d.writer.poll_some(&mut Com2, 0, TICK_BLOCKS);
        d.sent += stats.written;
        d.skipped += stats.lost;
        d.from_tick += stats.written;
    }
}

/// A `wait` for [`StreamWriter::flush_with`]: spins about a millisecond
/// (other processors seal their blocks at their next tick, 10 ms apart) and
/// gives up once `deadline_ns` (of [`crate::time::now_ns`]) has passed.
fn wait_until(deadline_ns: u64) -> impl FnMut() -> bool {
    move || {
        let now = crate::time::now_ns();
        if now >= deadline_ns {
            return false;
        }
        crate::time::delay_us(1000);
        true
    }
}

/// How long a flush waits for the other processors' ticks.
const FLUSH_WAIT_NS: u64 = 100_000_000;

/// Waits for an interrupt, logged as idle time (a scheduling event until a
/// scheduler exists).
#[inline]
pub fn idle_wait() {
    events::sched::idle_enter(&TRACER);
    cpu::idle_wait();
    events::sched::idle_exit(&TRACER);
}

/// Moves completed blocks out to COM2, [`LAG`] blocks behind the writers.
/// Cheap when tracing was never on; skips if another processor is at it.
pub fn poll() {
    pump(Pump::Poll(LAG));
}

/// Seals every processor's current block and sends everything: the end of
/// a workload.
pub fn flush() {
    pump(Pump::Flush);
}

/// What [`pump`] does.
#[derive(Clone, Copy)]
enum Pump {
    /// Send completed blocks this many blocks behind the writers.
    Poll(u64),
    /// Seal every processor's block (waiting for their ticks) and send all.
    Flush,
}

fn pump(what: Pump) {
    if !STREAMING.load(Ordering::Acquire) {
        return;
    }
    let hz = crate::time::tsc_hz();
    if hz == 0 {
        return; // before calibration the file header would lack the clock
    }
    let Some(mut daemon) = DAEMON.try_lock() else {
        return;
    };
    let d = daemon.get_or_insert_with(|| {
        // One block of scratch, on the heap rather than the stack.
        let scratch: alloc::boxed::Box<[u64; BLOCK_WORDS]> = alloc::vec![0u64; BLOCK_WORDS]
            .into_boxed_slice()
            .try_into()
            .expect("exactly one block");
        let mut writer = StreamWriter::new(&TRACER, alloc::boxed::Box::leak(scratch));
        let Ok(()) = writer.start(&mut Com2, KERNEL_EVENTS, hz);
        Daemon {
            writer,
            sent: 0,
            skipped: 0,
            from_tick: 0,
            unsealed: 0,
        }
    });
    let Ok(stats) = match what {
        Pump::Flush => {
            let deadline = crate::time::now_ns() + FLUSH_WAIT_NS;
            d.writer.flush_with(&mut Com2, wait_until(deadline))
        }
        Pump::Poll(lag) => d.writer.poll(&mut Com2, lag),
    };
    d.sent += stats.written;
    d.skipped += stats.lost;
    d.unsealed += u64::from(stats.pending);
}

/// Sends what the log holds before a fatal exception stops the machine,
/// so the trace ends with the fault. Only if the daemon already runs (it
/// allocates when it starts, and the heap's lock may be held now) and is
/// not busy on another processor.
pub fn flush_before_fatal() {
    let Some(mut daemon) = DAEMON.try_lock() else {
        return;
    };
    if let Some(d) = daemon.as_mut() {
        // Other processors seal at their next tick; wait a little for them
        // (this one is the owner of its buffer and seals at once).
        let deadline = crate::time::now_ns() + FLUSH_WAIT_NS / 2;
        let Ok(stats) = d.writer.flush_with(&mut Com2, wait_until(deadline));
        d.sent += stats.written;
    }
}

/// The monitor's `trace` command: `trace` or `trace stats` prints the
/// state, `trace off` disables, `trace <classes>` sets the classes.
pub fn command(args: &str) {
    match args {
        "" | "stats" => print_stats(),
        "flush" => {
            flush();
            print_stats();
        }
        list => match set_classes(list) {
            Ok(()) => println!("  trace mask {:#018x}", TRACER.mask()),
            Err(e) => println!("  {e}"),
        },
    }
}

fn print_stats() {
    let mask = TRACER.mask();
    let mut on = alloc::string::String::new();
    for t in KERNEL_EVENTS {
        if let Some(e) = t.first().filter(|e| mask & e.class.bit() != 0) {
            on.push(' ');
            on.push_str(e.class_name);
        }
    }
    println!(
        "  classes on:{} (mask {mask:#x})",
        if on.is_empty() { " none" } else { &on }
    );
    println!("  cpu  words logged  events lost");
    for pc in percpu::all() {
        let k = pc.id();
        println!(
            "  {k:<4} {:<13} {}",
            TRACER.reserved_words(k),
            TRACER.lost_events(k)
        );
    }
    match DAEMON.try_lock().as_deref() {
        Some(Some(d)) => println!(
            "  streamed to COM2: {} blocks ({} from the tick), {} overwritten before they \
             were sent, {} processors unsealed at a flush",
            d.sent, d.from_tick, d.skipped, d.unsealed
        ),
        Some(None) => println!("  not streaming yet (no class enabled so far)"),
        None => println!("  the daemon is busy"),
    }
}

/// Runs the workload named by `workload=` on the command line, if any:
/// `boot` (nothing more: boot ends at SMP bring-up; flush, power off) or
/// `ktest` (the in-kernel test runner with all classes on; it flushes and
/// exits QEMU with its pass status). Returns if there is no workload.
/// Called once every processor is up.
pub fn run_workload() {
    // Start the stream now (the clock is calibrated, the heap is up), so
    // that even a fatal fault in what follows can flush the log.
    poll();
    let Some(name) = crate::cmdline().get("workload") else {
        return;
    };
    match name {
        "boot" => {}
        "ktest" => ktest_workload(),
        other => log::warn!("trace: unknown workload '{other}' (boot, ktest); nothing run"),
    }
    flush();
    let (sent, from_tick, skipped, unsealed) = DAEMON
        .try_lock()
        .and_then(|d| {
            d.as_ref()
                .map(|d| (d.sent, d.from_tick, d.skipped, d.unsealed))
        })
        .unwrap_or((0, 0, 0, 0));
    println!(
        "trace: workload {name} done; {sent} blocks sent ({from_tick} from the tick), \
         {skipped} overwritten, {unsealed} processors unsealed"
    );
    power::power_off()
}

/// The in-kernel tests with every class on. The runner brackets each test
/// with [`test_begin`] and [`test_end`], flushes the trace at its end and
/// exits QEMU with its pass status.
fn ktest_workload() -> ! {
    STREAMING.store(true, Ordering::Release);
    TRACER.set_mask(u64::MAX);
    crate::ktests::run(0)
}

/// The test runner's hook before test `index` runs: a message naming the
/// test, then its `test.enter` event.
pub fn test_begin(index: usize, name: &str) {
    events::test::message(&TRACER, name);
    events::test::enter(&TRACER, index as u64);
}

/// The test runner's hook after test `index` passed: its `test.exit` event,
/// then a poll of the stream.
pub fn test_end(index: usize) {
    events::test::exit(&TRACER, index as u64, true);
    // Every completed block (no lag): the next test may log a burst of
    // blocks faster than the tick streams them, and the ring's slack is
    // what absorbs it.
    pump(Pump::Poll(0));
}

ktest::ktest! {
    /// A seal of another processor's block is a request (the buffers are
    /// single-writer), and that processor's timer tick carries it out: its
    /// index moves on to the next block boundary.
    fn trace_seal_requests_are_served_by_the_tick() {
        let me = percpu::current_id();
        let Some(other) = percpu::all().map(|p| p.id()).find(|&c| c != me) else {
            return; // one processor: nobody to ask
        };
        let saved = TRACER.mask();
        // Every interrupt logs, so the other processor fills its block.
        TRACER.set_mask(saved | ktrace::Class::INTERRUPT.bit());
        let bw = BLOCK_WORDS as u64;
        let start = crate::time::now_ns();
        let at = loop {
            let at = TRACER.reserved_words(other);
            if !at.is_multiple_of(bw) {
                break at;
            }
            assert!(crate::time::now_ns() - start < 2_000_000_000, "cpu {other} logs nothing");
            cpu::spin_hint();
        };
        assert_eq!(TRACER.seal(other), ktrace::Seal::Requested);
        assert!(TRACER.request_pending(other));
        // Sealed: the index reaches the next block boundary (the owner
        // clears the request as it takes it up, so that flag alone does not
        // say the seal is done).
        while TRACER.reserved_words(other) < at.next_multiple_of(bw) {
            assert!(crate::time::now_ns() - start < 4_000_000_000, "cpu {other} never sealed");
            cpu::spin_hint();
        }
        assert!(!TRACER.request_pending(other));
        // Our own block is sealed at once.
        assert_eq!(TRACER.seal(me), ktrace::Seal::Done);
        TRACER.set_mask(saved);
    }

    /// An enabled event lands in this processor's buffer and a disabled one
    /// does not; the mask round-trips through the command syntax.
    fn trace_logs_enabled_classes_only() {
        let saved = (TRACER.mask(), STREAMING.load(Ordering::Acquire));
        let me = percpu::current_id();
        // No tick heartbeat in between.
        let were_enabled = cpu::interrupts_enabled();
        cpu::disable_interrupts();
        set_classes("test").unwrap();
        let before = TRACER.reserved_words(me);
        events::test::mark(&TRACER, 1, 2);
        let after = TRACER.reserved_words(me);
        assert!(after > before, "an enabled event reserved nothing");
        events::lock::acquire(&TRACER, 0x1234);
        // A block start may come first only for an enabled event.
        assert_eq!(TRACER.reserved_words(me), after, "a disabled class logged");
        assert!(set_classes("nonsense").unwrap_err().contains("nonsense"));
        assert_eq!(TRACER.mask(), ktrace::Class::TEST.bit(), "a bad list changed the mask");
        TRACER.set_mask(saved.0);
        STREAMING.store(saved.1, Ordering::Release);
        if were_enabled {
            cpu::enable_interrupts();
        }
    }
}

/// The kernel's platform with the locked atomics (`SINGLE_WRITER` false),
/// for the benchmark's comparison only.
struct LockedClock;

impl Platform for LockedClock {
    #[inline(always)]
    fn cpu_id(&self) -> usize {
        percpu::current_id()
    }

    #[inline(always)]
    fn timestamp(&self) -> u64 {
        cpu::rdtsc()
    }

    #[inline(always)]
    fn timestamp_low(&self) -> u32 {
        ktrace::arch::tsc_low()
    }
}

ktest::kbench! {
    /// Cycles per event at 1..N processors logging at once: class off (the
    /// mask test alone), class on (reserve, write three words, commit), the
    /// same with the locked atomics instead of the CPU-local ones
    /// (`on_locked`, a small tracer of its own), and an `IrqMutex`
    /// lock/unlock pair with the `lock` class off and on (one lock per
    /// processor: the logging cost, not contention). `empty` is the loop's
    /// own cost, to subtract.
    fn trace_event_cost() {
        use core::hint::black_box;
        const ITERS: u64 = 50_000;
        let saved = TRACER.mask();
        let locks = [const { crate::sync::IrqMutex::new(0u64) }; percpu::MAX_CPUS];
        let lock_pair = || *black_box(&locks[percpu::current_id()]).lock() += 1;
        let locked_buffers: alloc::vec::Vec<CpuBuffer<2, 64>> =
            (0..percpu::MAX_CPUS).map(|_| CpuBuffer::new()).collect();
        let locked = Tracer::new(&locked_buffers, Overflow::Wrap, LockedClock);
        locked.enable(ktrace::Class::TEST);
        for n in crate::bench::sweep() {
            let empty = crate::bench::parallel(n, ITERS, &|| {
                black_box(());
            });
            TRACER.set_mask(0);
            let off = crate::bench::parallel(n, ITERS, &|| {
                events::test::mark(&TRACER, black_box(1), black_box(2));
            });
            let lock_off = crate::bench::parallel(n, ITERS, &lock_pair);
            TRACER.set_mask(ktrace::Class::TEST.bit() | ktrace::Class::LOCK.bit());
            let on = crate::bench::parallel(n, ITERS, &|| {
                events::test::mark(&TRACER, black_box(1), black_box(2));
            });
            let lock_on = crate::bench::parallel(n, ITERS, &lock_pair);
            TRACER.set_mask(saved);
            let on_locked = crate::bench::parallel(n, ITERS, &|| {
                events::test::mark(&locked, black_box(1), black_box(2));
            });
            crate::println!(
                "kbench: trace.event cpus={n} cycles/op empty={empty} off={off} on={on} \
                 on_locked={on_locked} lock_off={lock_off} lock_on={lock_on}"
            );
        }
    }
}

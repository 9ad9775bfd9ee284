//! In-kernel tests of user address spaces: the `mm` objects over the x86
//! HAT, with real page faults, CR3 switches and shootdown IPIs. Kernel
//! code plays the user program: it touches user addresses of an active
//! space, and the #PF handler resolves them through the objects.

use super::user::{self, new_space, Activation, Space, TABLES};
use crate::arch::extable::{probe_read_u64, probe_write_u64};
use crate::arch::{cpu, percpu};
use ::mm::{Hat, MapOptions, PolicyKind, Prot, RegionKind, Scope};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

const PAGE: u64 = 4096;
const VA: u64 = 0x40_0000;

fn read(va: u64) -> u64 {
    probe_read_u64(va).unwrap_or_else(|f| panic!("read of {va:#x} faulted: {f:?}"))
}

fn write(va: u64, v: u64) {
    probe_write_u64(va, v).unwrap_or_else(|f| panic!("write of {va:#x} faulted: {f:?}"));
}

use super::user::usage;

/// Destroys `s` and checks that usage returns to `base`.
fn destroy(s: Space, base: (usize, usize)) {
    s.destroy().unwrap();
    assert_eq!(
        user::usage_back_to(base),
        base,
        "frames and page tables back to the baseline"
    );
}

/// Runs `f` on every online processor at once, interrupts enabled (a
/// fault may wait for a shootdown, which needs the IPI handler).
fn on_all_cpus(f: &(dyn Fn(usize) + Sync)) {
    let body = || {
        let was = cpu::interrupts_enabled();
        cpu::enable_interrupts();
        f(percpu::current_id());
        if !was {
            cpu::disable_interrupts();
        }
    };
    crate::ipi::run_concurrently(&body, body);
}

ktest::ktest! {
    /// With two NUMA nodes, the frames each processor's faults get are of
    /// its own node (the root PM's per-processor caches refill from the
    /// node's memory, and frames of another node go back to the source).
    /// Runs only on a NUMA boot.
    fn numa_user_frames_are_node_local() {
        use crate::mm::heap::{kalloc, node_of_cpu, node_of_phys};
        assert!(kalloc().nodes() >= 2, "run on a NUMA machine");
        const PAGES: u64 = 64;
        const REGION: u64 = 0x100_0000;
        let base = usage();
        let n = percpu::online();
        for _ in 0..2 {
            let s = new_space().unwrap();
            for c in 0..n as u64 {
                s.map_anon(VA + c * REGION, PAGES * PAGE, Prot::RW, MapOptions::default()).unwrap();
            }
            fault_storm(&s, n, PAGES, &|c| VA + c as u64 * REGION);
            let mut remote = 0;
            for c in 0..n {
                for p in 0..PAGES {
                    let pte = s.hat().query(VA + c as u64 * REGION + p * PAGE, Scope::All).unwrap();
                    if node_of_phys(pte.pfn.0 << 12) != Some(node_of_cpu(c)) {
                        remote += 1;
                    }
                }
            }
            assert_eq!(remote, 0, "pages on another node than their processor's");
            // The second round takes frames the first one's destroy freed.
            destroy(s, base);
        }
    }

    /// Untouched anonymous memory reads as zero; each page is faulted in
    /// once; an address outside every region stays a fault.
    fn mm_user_zero_fill_fault_in() {
        let base = usage();
        let s = new_space().unwrap();
        s.map_anon(VA, 8 * PAGE, Prot::RW, MapOptions::default()).unwrap();
        {
            let _on = Activation::new(&s);
            let before = user::faults();
            for p in 0..8 {
                assert_eq!(read(VA + p * PAGE + 8), 0, "page {p} is zero-filled");
            }
            let faults = user::faults() - before;
            assert_eq!(faults, 8, "one fault per page");
            write(VA + 16, 0xfeed_f00d);
            assert_eq!(read(VA + 16), 0xfeed_f00d);
            let f = probe_read_u64(VA + 8 * PAGE).unwrap_err();
            assert_eq!((f.vector, f.address), (14, VA + 8 * PAGE));
        }
        let pte = s.hat().query(VA, Scope::All).unwrap();
        assert!(pte.prot.write && pte.dirty && pte.accessed);
        destroy(s, base);
    }

    /// A read-only region refuses stores; mprotect to read-write then
    /// allows them, and back to read-only takes the right away again.
    fn mm_user_protection_faults() {
        let base = usage();
        let s = new_space().unwrap();
        s.map_anon(VA, 2 * PAGE, Prot::R, MapOptions::default()).unwrap();
        {
            let _on = Activation::new(&s);
            assert_eq!(read(VA), 0);
            let f = probe_write_u64(VA, 1).unwrap_err();
            assert_eq!(f.vector, 14);
            assert!(f.error & 1 != 0, "a protection fault on a present page");
            s.protect(VA, 2 * PAGE, Prot::RW).unwrap();
            write(VA, 7);
            s.protect(VA, 2 * PAGE, Prot::R).unwrap();
            assert!(probe_write_u64(VA, 8).is_err());
            assert_eq!(read(VA), 7);
        }
        destroy(s, base);
    }

    /// Fork: the child sees the parent's data, a store in either copies
    /// the page, and the other keeps its version.
    fn mm_user_copy_on_write_fork() {
        let base = usage();
        let parent = new_space().unwrap();
        parent.map_anon(VA, 4 * PAGE, Prot::RW, MapOptions::default()).unwrap();
        {
            let _on = Activation::new(&parent);
            for p in 0..4 {
                write(VA + p * PAGE, 100 + p);
            }
        }
        let child = parent
            .fork(
                alloc::sync::Arc::new(x86_hat::X86Hat::new(&TABLES).unwrap()),
                alloc::sync::Arc::new(::mm::NullDispatcher),
            )
            .unwrap();
        {
            let _on = Activation::new(&child);
            for p in 0..4 {
                assert_eq!(read(VA + p * PAGE), 100 + p);
            }
            let shared = child.hat().query(VA, Scope::All).unwrap();
            assert!(!shared.prot.write, "shared after fork: read-only");
            write(VA, 999);
            let own = child.hat().query(VA, Scope::All).unwrap();
            assert!(own.prot.write && own.pfn != shared.pfn, "copied on write");
        }
        {
            let _on = Activation::new(&parent);
            assert_eq!(read(VA), 100, "the parent keeps its page");
            write(VA + PAGE, 555);
        }
        {
            let _on = Activation::new(&child);
            assert_eq!(read(VA), 999);
            assert_eq!(read(VA + PAGE), 101, "the child keeps its copy");
        }
        child.destroy().unwrap();
        destroy(parent, base);
    }

    /// A per-processor region: the same address gives each processor its
    /// own frame and its own contents.
    fn mm_user_per_processor_region() {
        let base = usage();
        let s = new_space().unwrap();
        let va = 0x7f00_0000_0000;
        let opts = MapOptions { kind: RegionKind::PerCpu, ..MapOptions::default() };
        s.map_anon(va, PAGE, Prot::RW, opts).unwrap();
        on_all_cpus(&|cpu| {
            let _on = Activation::new(&s);
            assert_eq!(read(va), 0);
            write(va, 0xc0 + cpu as u64);
        });
        on_all_cpus(&|cpu| {
            let _on = Activation::new(&s);
            assert_eq!(read(va), 0xc0 + cpu as u64, "cpu{cpu} sees its own page");
        });
        let n = percpu::online();
        let mut frames = alloc::vec::Vec::new();
        for c in 0..n {
            frames.push(s.hat().query(va, Scope::Cpu(c)).unwrap().pfn);
        }
        frames.sort();
        frames.dedup();
        assert_eq!(frames.len(), n, "one frame per processor");
        destroy(s, base);
    }

    /// A shared 2 MiB segment: a page mapped through one space's HAT is
    /// seen by the other through its own page tables, and unmapping it
    /// through the second reaches the first.
    fn mm_user_shared_segment() {
        let base = usage();
        let a = new_space().unwrap();
        let b = new_space().unwrap();
        let seg = 0x6000_0000;
        b.hat().share_segment(&**a.hat(), seg, 2 << 20).unwrap();
        let frame = super::frames::alloc_zeroed().unwrap();
        let pfn = ::mm::Pfn(frame.addr() >> 12);
        a.hat().map(seg + 3 * PAGE, pfn, Prot::RW, false, Scope::All).unwrap();
        {
            let _on = Activation::new(&a);
            write(seg + 3 * PAGE, 0x5ea);
        }
        {
            let _on = Activation::new(&b);
            assert_eq!(read(seg + 3 * PAGE), 0x5ea, "visible through the other space");
            assert!(b.hat().segment(seg).unwrap().is_shared());
            assert!(b.hat().unmap(seg + 3 * PAGE, Scope::All).is_some());
            assert!(probe_read_u64(seg + 3 * PAGE).is_err(), "gone here");
        }
        {
            let _on = Activation::new(&a);
            assert!(probe_read_u64(seg + 3 * PAGE).is_err(), "and in the first space");
        }
        super::frames::free(frame);
        b.destroy().unwrap();
        destroy(a, base);
    }

    /// A region that asks for large pages gets 2 MiB translations, faulted
    /// in whole.
    fn mm_user_large_pages() {
        let base = usage();
        let s = new_space().unwrap();
        let va = 0x4000_0000;
        let opts = MapOptions { large: true, ..MapOptions::default() };
        s.map_anon(va, 4 << 20, Prot::RW, opts).unwrap();
        {
            let _on = Activation::new(&s);
            let before = user::faults();
            write(va + 0x12_3458, 77);
            assert_eq!(read(va + 0x1f_fff8), 0);
            assert_eq!(read(va + 0x12_3458), 77);
            assert_eq!(user::faults() - before, 1, "one fault per 2 MiB");
            write(va + (2 << 20), 78);
        }
        let pte = s.hat().query(va + 0x10_0000, Scope::All).unwrap();
        assert!(pte.large && pte.pfn.0.is_multiple_of(512));
        destroy(s, base);
    }

    /// Shootdown: a processor caches a translation, another unmaps it,
    /// and the next access on the first faults. Only processors that ran
    /// the space are asked.
    fn mm_user_shootdown_on_unmap() {
        let base = usage();
        let s = new_space().unwrap();
        s.map_anon(VA, PAGE, Prot::RW, MapOptions::default()).unwrap();
        let n = percpu::online();
        let stage = AtomicUsize::new(0);
        let faulted = AtomicUsize::new(0);
        let shootdowns = TABLES.shootdowns();
        on_all_cpus(&|cpu| {
            let _on = Activation::new(&s);
            if cpu == 0 {
                write(VA, 41);
                stage.store(1, Ordering::SeqCst);
                // Wait until every other processor has cached it.
                while stage.load(Ordering::SeqCst) < n {
                    cpu::spin_hint();
                }
                s.unmap(VA, PAGE).unwrap();
                stage.store(usize::MAX, Ordering::SeqCst);
            } else {
                while stage.load(Ordering::SeqCst) == 0 {
                    cpu::spin_hint();
                }
                assert_eq!(read(VA), 41);
                stage.fetch_add(1, Ordering::SeqCst);
                while stage.load(Ordering::SeqCst) != usize::MAX {
                    cpu::spin_hint();
                }
            }
            // The unmap is done; no processor may still reach the page.
            if probe_read_u64(VA).is_err() {
                faulted.fetch_add(1, Ordering::SeqCst);
            }
        });
        assert_eq!(faulted.load(Ordering::SeqCst), n, "every processor faults after the unmap");
        assert_eq!(s.hat().ran_on(), (1u64 << n) - 1);
        assert!(TABLES.shootdowns() > shootdowns, "the unmap shot the page down");
        // A space that ran on this processor only sends no IPI elsewhere.
        let solo = new_space().unwrap();
        solo.map_anon(VA, PAGE, Prot::RW, MapOptions::default()).unwrap();
        {
            let _on = Activation::new(&solo);
            write(VA, 1);
        }
        assert_eq!(solo.hat().ran_on(), 1 << percpu::current_id());
        solo.unmap(VA, PAGE).unwrap();
        solo.destroy().unwrap();
        destroy(s, base);
    }

    /// Live customization: the region's FCM swaps between FIFO and clock
    /// while every processor faults pages in; no fault is lost and every
    /// page keeps its contents.
    fn mm_user_fcm_swap_under_faults() {
        let base = usage();
        let s = new_space().unwrap();
        const PAGES: u64 = 256;
        s.map_anon(VA, PAGES * PAGE, Prot::RW, MapOptions::default()).unwrap();
        let n = percpu::online() as u64;
        let swaps = AtomicU64::new(0);
        let done = AtomicUsize::new(0);
        on_all_cpus(&|cpu| {
            let _on = Activation::new(&s);
            if cpu == 0 && n > 1 {
                // Swap until the others are through.
                // Swap until the others are through (the writers start
                // once the first swap is done, so at least two overlap).
                let mut policy = PolicyKind::Clock;
                loop {
                    s.swap_policy(VA, policy).unwrap();
                    swaps.fetch_add(1, Ordering::SeqCst);
                    policy = if policy == PolicyKind::Clock { PolicyKind::Fifo } else { PolicyKind::Clock };
                    if done.load(Ordering::SeqCst) == n as usize - 1 {
                        break;
                    }
                }
            } else {
                // Each writer owns pages p with p % writers == its index.
                let writers = if n > 1 { n - 1 } else { 1 };
                let me = if n > 1 { cpu as u64 - 1 } else { 0 };
                while n > 1 && swaps.load(Ordering::SeqCst) == 0 {
                    cpu::spin_hint();
                }
                for p in (me..PAGES).step_by(writers as usize) {
                    write(VA + p * PAGE, 0xab00 + p);
                    if n == 1 && p % 8 == 0 {
                        let policy = if p % 16 == 0 { PolicyKind::Clock } else { PolicyKind::Fifo };
                        s.swap_policy(VA, policy).unwrap();
                        swaps.fetch_add(1, Ordering::Relaxed);
                    }
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
        });
        assert!(swaps.load(Ordering::Relaxed) >= 1, "at least one swap happened");
        {
            let _on = Activation::new(&s);
            for p in 0..PAGES {
                assert_eq!(read(VA + p * PAGE), 0xab00 + p, "page {p} kept its contents");
            }
        }
        let info = s.fcm_info(VA).unwrap();
        assert_eq!(info[0].resident, PAGES as usize, "no page lost");
        crate::println!("    {} swaps during the faults", swaps.load(Ordering::Relaxed));
        destroy(s, base);
    }

    /// Out-of-core: a fault on a file page that must be read is answered
    /// "pending" (the dispatcher gets the upcall, the access does not
    /// complete); when the file server finishes, possibly on another
    /// processor, the completion fills the page and tells the dispatcher,
    /// and the retried access sees the file's bytes.
    fn mm_user_out_of_core_fault() {
        use ::mm::{DispatcherEvent, MemFile, RecordingDispatcher};
        let base = usage();
        let mut data = alloc::vec![0u8; 2 * PAGE as usize];
        data[..8].copy_from_slice(&0x4b42_f11e_0000_0001u64.to_le_bytes());
        data[PAGE as usize..PAGE as usize + 8].copy_from_slice(&0x4b42_f11e_0000_0002u64.to_le_bytes());
        let server = MemFile::new(data, true);
        let file = user::memory().open_file(server.clone(), PolicyKind::Fifo).unwrap();
        let upcalls = alloc::sync::Arc::new(RecordingDispatcher::default());
        let s = user::new_space_with(upcalls.clone()).unwrap();
        s.map_file(VA, 2 * PAGE, Prot::R, &file, 0).unwrap();
        {
            let _on = Activation::new(&s);
            assert!(probe_read_u64(VA).is_err(), "the first access waits for the read");
            assert_eq!(server.pending(), 1);
            let events = upcalls.events();
            assert!(matches!(events[..], [DispatcherEvent::Pending(_, va)] if va == VA), "{events:?}");
        }
        // The file server answers from the last processor.
        let last = percpu::online() - 1;
        crate::ipi::run_on(last, &|| {
            server.complete_all();
        });
        let events = upcalls.events();
        assert!(matches!(events[..], [DispatcherEvent::Pending(a, _), DispatcherEvent::Done(b, true)] if a == b), "{events:?}");
        {
            let _on = Activation::new(&s);
            assert_eq!(read(VA), 0x4b42_f11e_0000_0001, "the file's bytes, after completion");
            assert!(probe_read_u64(VA + PAGE).is_err(), "the second page is read separately");
        }
        server.complete_all();
        {
            let _on = Activation::new(&s);
            assert_eq!(read(VA + PAGE), 0x4b42_f11e_0000_0002);
        }
        drop(file);
        destroy(s, base);
    }

    /// Creating and destroying many spaces leaves nothing behind.
    fn mm_user_accounting_returns_to_baseline() {
        let base = usage();
        for round in 0..4u64 {
            let s = new_space().unwrap();
            s.map_anon(VA, 16 * PAGE, Prot::RW, MapOptions::default()).unwrap();
            s.map_anon(0x4000_0000, 2 << 20, Prot::RW, MapOptions { large: true, ..MapOptions::default() }).unwrap();
            {
                let _on = Activation::new(&s);
                for p in 0..16 {
                    write(VA + p * PAGE, round);
                }
                write(0x4000_0000, round);
            }
            assert!(s.charged().unwrap() >= 16 + 512);
            let child = s
                .fork(
                    alloc::sync::Arc::new(x86_hat::X86Hat::new(&TABLES).unwrap()),
                    alloc::sync::Arc::new(::mm::NullDispatcher),
                )
                .unwrap();
            {
                let _on = Activation::new(&child);
                write(VA, 1);
            }
            child.destroy().unwrap();
            destroy(s, base);
        }
    }
}

/// Every processor (of the first `cpus`) faults in `pages` fresh pages at
/// `base(cpu)`, starting together; mean cycles per fault.
fn fault_storm(s: &Space, cpus: usize, pages: u64, base: &(dyn Fn(usize) -> u64 + Sync)) -> u64 {
    let ready = AtomicUsize::new(0);
    let cycles = AtomicU64::new(0);
    on_all_cpus(&|cpu| {
        if cpu >= cpus {
            return;
        }
        let _on = Activation::new(s);
        ready.fetch_add(1, Ordering::SeqCst);
        while ready.load(Ordering::SeqCst) < cpus {
            cpu::spin_hint();
        }
        let t0 = cpu::rdtsc();
        for p in 0..pages {
            write(base(cpu) + p * PAGE, p);
        }
        cycles.fetch_add(cpu::rdtsc() - t0, Ordering::SeqCst);
    });
    cycles.load(Ordering::SeqCst) / (pages * cpus as u64)
}

/// How the processors' faults are laid out in [`layout_storm`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// A Region (own FCM) per processor, in a plain Process.
    Separate,
    /// The same, in a replicated Process (a copy of the region list per
    /// processor: the lookup reads only local memory).
    SeparateReplicated,
    /// One Region, one FCM: disjoint pages of it.
    Shared,
    /// One partitioned Region, a part (own FCM) per processor.
    Partitioned,
}

impl Layout {
    const ALL: [Layout; 4] = [
        Layout::Separate,
        Layout::SeparateReplicated,
        Layout::Shared,
        Layout::Partitioned,
    ];

    fn name(self) -> &'static str {
        match self {
            Layout::Separate => "separate",
            Layout::SeparateReplicated => "separate_replicated",
            Layout::Shared => "shared",
            Layout::Partitioned => "partitioned",
        }
    }
}

/// A fresh space laid out as `layout` for `n` processors, each storming
/// `pages` fresh pages; mean cycles per fault. The space is destroyed.
fn layout_storm(layout: Layout, n: usize, pages: u64) -> u64 {
    const REGION: u64 = 0x100_0000; // 16 MiB apart
    let s = match layout {
        Layout::SeparateReplicated => user::new_replicated_space(),
        _ => new_space(),
    }
    .unwrap();
    let len = pages * PAGE;
    let separate = matches!(layout, Layout::Separate | Layout::SeparateReplicated);
    if separate {
        for c in 0..n as u64 {
            s.map_anon(VA + c * REGION, len, Prot::RW, MapOptions::default())
                .unwrap();
        }
    } else {
        let kind = match layout {
            Layout::Partitioned => RegionKind::Partitioned(n),
            _ => RegionKind::Default,
        };
        let options = MapOptions {
            kind,
            ..MapOptions::default()
        };
        s.map_anon(VA, n as u64 * len, Prot::RW, options).unwrap();
    }
    let step = if separate { REGION } else { len };
    let cycles = fault_storm(&s, n, pages, &|c| VA + c as u64 * step);
    s.destroy().unwrap();
    cycles
}

/// The control for the scaling figures: processor 0's zero-fill faults
/// (cycles per fault) while processor 1 computes (`beside_faults` false) or
/// takes page faults that touch no memory-management object (an address
/// outside every region of a replicated Process: a local lookup, then the
/// exception table). Under TCG the second is slower, by what the emulator
/// itself costs when two vCPUs take exceptions at once (QEMU 7.2 delivers
/// an exception under its global lock).
fn control_storm(beside_faults: bool, pages: u64) -> u64 {
    let s = user::new_replicated_space().unwrap();
    s.map_anon(VA, pages * PAGE, Prot::RW, MapOptions::default())
        .unwrap();
    let ready = AtomicUsize::new(0);
    let done = core::sync::atomic::AtomicBool::new(false);
    let cycles = AtomicU64::new(0);
    on_all_cpus(&|cpu| {
        if cpu >= 2 {
            return;
        }
        let _on = Activation::new(&s);
        ready.fetch_add(1, Ordering::SeqCst);
        while ready.load(Ordering::SeqCst) < 2 {
            cpu::spin_hint();
        }
        if cpu == 1 {
            // No `pause` in the busy loop: TCG ends the translated block
            // at every `pause`, which costs like an exception.
            let mut x = 1u64;
            while !done.load(Ordering::Relaxed) {
                if beside_faults {
                    assert!(probe_read_u64(VA + pages * PAGE).is_err());
                } else {
                    for _ in 0..64 {
                        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    }
                }
            }
            core::hint::black_box(x);
            return;
        }
        let t0 = cpu::rdtsc();
        for p in 0..pages {
            write(VA + p * PAGE, p);
        }
        cycles.store((cpu::rdtsc() - t0) / pages, Ordering::SeqCst);
        done.store(true, Ordering::SeqCst);
    });
    s.destroy().unwrap();
    cycles.load(Ordering::SeqCst)
}

ktest::kbench! {
    /// Page-fault latency in cycles at 1..N processors: zero-fill faults
    /// in a region per processor (plain and replicated Process), in one
    /// shared region (disjoint pages) and in one partitioned region, and
    /// copy-on-write faults after a fork. Scaling = throughput at N over N
    /// times the throughput at 1 (1.00 is perfect).
    ///
    /// Each figure is the best of `ROUNDS` runs, the rounds interleaved
    /// (every layout and processor count once per round): under TCG a
    /// vCPU is a host thread, and a run that the host descheduled only
    /// gets slower, so the minimum is the undisturbed cost. The median is
    /// printed too. With two processors or more, a control line follows:
    /// processor 0's faults beside a computing processor and beside one
    /// taking faults that share nothing with it ([`control_storm`]); its
    /// ratio is the emulator's own cost of concurrent exceptions, which
    /// bounds the scaling a TCG run can show.
    fn mm_fault_latency() {
        const PAGES: u64 = 256;
        const ROUNDS: usize = 11;
        let counts: alloc::vec::Vec<usize> = crate::bench::sweep().collect();
        let mut runs = alloc::vec![alloc::vec![alloc::vec::Vec::new(); Layout::ALL.len()]; counts.len()];
        for _ in 0..ROUNDS {
            for (i, &n) in counts.iter().enumerate() {
                for (j, &layout) in Layout::ALL.iter().enumerate() {
                    runs[i][j].push(layout_storm(layout, n, PAGES));
                }
            }
        }
        let best = |i: usize, j: usize| *runs[i][j].iter().min().unwrap();
        // The emulator's share: processor 0 faulting beside a processor
        // that computes, and beside one taking faults of its own that
        // share nothing with it.
        let control = (percpu::online() >= 2).then(|| {
            (0..ROUNDS).fold([u64::MAX; 2], |[alone, beside], _| {
                [alone.min(control_storm(false, PAGES)), beside.min(control_storm(true, PAGES))]
            })
        });
        for (i, &n) in counts.iter().enumerate() {
            let mut line = alloc::format!("kbench: mm.fault cpus={n} best of {ROUNDS} cycles/fault");
            for (j, l) in Layout::ALL.iter().enumerate() {
                line += &alloc::format!(" {}={}", l.name(), best(i, j));
            }
            line += " scaling";
            for (j, l) in Layout::ALL.iter().enumerate() {
                line += &alloc::format!(" {}={:.2}", l.name(), best(0, j) as f64 / best(i, j).max(1) as f64);
            }
            line += " median";
            for (j, l) in Layout::ALL.iter().enumerate() {
                let mut v = runs[i][j].clone();
                v.sort_unstable();
                line += &alloc::format!(" {}={}", l.name(), v[v.len() / 2]);
            }
            crate::println!("{line}");
        }
        if let Some([alone, beside]) = control {
            crate::println!(
                "kbench: mm.fault control best of {ROUNDS} cycles/fault cpu0_beside_computing={alone} \
                 cpu0_beside_failing_faults={beside} ratio={:.2}",
                beside as f64 / alone.max(1) as f64
            );
        }
        // Copy-on-write: the child's first store to each inherited page.
        let mut cow = u64::MAX;
        let mut zero_fill = u64::MAX;
        for _ in 0..ROUNDS {
            let parent = new_space().unwrap();
            parent.map_anon(VA, PAGES * PAGE, Prot::RW, MapOptions::default()).unwrap();
            zero_fill = zero_fill.min(fault_storm(&parent, 1, PAGES, &|_| VA));
            let child = parent
                .fork(
                    alloc::sync::Arc::new(x86_hat::X86Hat::new(&TABLES).unwrap()),
                    alloc::sync::Arc::new(::mm::NullDispatcher),
                )
                .unwrap();
            cow = cow.min(fault_storm(&child, 1, PAGES, &|_| VA));
            child.destroy().unwrap();
            parent.destroy().unwrap();
        }
        crate::println!("kbench: mm.fault cow best of {ROUNDS} cycles/fault={cow} zero_fill={zero_fill} cow/zero_fill={:.2}",
            cow as f64 / zero_fill.max(1) as f64);
    }
}

/// Where the out-of-core tests map their file in a native program.
const PF_VA: u64 = 0x30_0000_0000;
/// The file's first word.
const PF_WORD: u64 = 0x4b42_f11e_0000_00aa;

type SlowFile = (
    alloc::sync::Arc<::mm::MemFile>,
    ::mm::MappedFile<crate::clustered::KernelPlatform>,
);

/// A two-page file whose reads wait until the test completes them; its
/// first word is [`PF_WORD`].
fn slow_file() -> SlowFile {
    let mut data = alloc::vec![0u8; 2 * PAGE as usize];
    data[..8].copy_from_slice(&PF_WORD.to_le_bytes());
    let server = ::mm::MemFile::new(data, true);
    let file = user::memory()
        .open_file(server.clone(), PolicyKind::Fifo)
        .unwrap();
    (server, file)
}

/// `native-tests <case> PF_VA,PF_WORD,cpu` on this processor, with
/// `file` mapped at [`PF_VA`] before it runs.
fn spawn_faulting(case: &str, file: &SlowFile) -> alloc::sync::Arc<crate::dispatch::Dispatcher> {
    use crate::process::{start_with, Personality};
    let cpu = percpu::current_id();
    let args = alloc::format!("{PF_VA:x},{PF_WORD:x},{cpu:x}");
    let p =
        sched::Params::new(sched::Class::TimeSharing, sched::Weight::new(100).unwrap()).pinned();
    let d = start_with(
        "/bin/native-tests",
        &[b"native-tests", case.as_bytes(), args.as_bytes()],
        Personality::Native,
        crate::dispatch::alloc_pid(),
        cpu,
        p,
    )
    .unwrap();
    d.process
        .space()
        .unwrap()
        .map_file(PF_VA, 2 * PAGE, Prot::R, &file.1, 0)
        .unwrap();
    d
}

/// Runs dispatchers here until `done()` or `ms` milliseconds passed.
fn run_for(ms: u64, done: &dyn Fn() -> bool) {
    let end = crate::time::now_ns() + ms * 1_000_000;
    crate::dispatch::run_loop(&|| done() || crate::time::now_ns() >= end);
}

ktest::ktest! {
    /// The page-fault upcall (issue 8's last entry point): a native
    /// program with two user-level threads in one dispatcher; thread A
    /// loads from a file page that needs a read, the kernel upcalls the
    /// program's page-fault entry, which parks A; thread B keeps running
    /// (it counts); the kernel test completes the read from the last
    /// processor, the completion reaches the dispatcher as a soft
    /// interrupt, A retries and sees the file's word. Nothing is left
    /// behind.
    fn mm_user_page_fault_upcall() {
        use super::upcall::outstanding;
        let base = usage();
        let file = slow_file();
        crate::process::capture();
        let d = spawn_faulting("pfault", &file);
        run_for(5000, &|| d.status().is_some() || file.0.pending() == 1);
        // A waits; B has the processor a while.
        run_for(30, &|| d.status().is_some());
        assert_eq!(d.status(), None, "{}", crate::process::take_captured());
        assert_eq!(file.0.pending(), 1, "one read in flight");
        assert_eq!(outstanding(), (1, 0, 0), "one fault waits, by upcall");
        let before = d.runtime().unwrap();
        run_for(20, &|| false);
        assert!(d.runtime().unwrap() > before, "the dispatcher runs (thread B) while A waits");
        // The file server answers from the last processor (another one
        // at -smp 4): the completion crosses to the dispatcher's.
        let last = percpu::online() - 1;
        let completed = AtomicUsize::new(0);
        on_all_cpus(&|cpu| {
            if cpu == last {
                completed.store(file.0.complete_all(), Ordering::SeqCst);
            }
        });
        assert_eq!(completed.load(Ordering::SeqCst), 1);
        run_for(5000, &|| d.status().is_some());
        let out = crate::process::take_captured();
        crate::println!("    {}", out.trim());
        assert_eq!(d.status(), Some(0), "{out}");
        assert!(out.contains("ok=true upcalls=1 completions=1"), "{out}");
        assert_eq!(outstanding(), (0, 0, 0));
        drop(d);
        drop(file);
        assert_eq!(user::usage_back_to(base), base, "frames and page tables back");
    }

    /// A process without a page-fault entry: its dispatcher waits in the
    /// kernel (blocked: it gets no processor time) until the read
    /// completes, then its load sees the file's word.
    fn mm_user_page_fault_waits_in_kernel() {
        use super::upcall::outstanding;
        let base = usage();
        let file = slow_file();
        crate::process::capture();
        let d = spawn_faulting("pfault-plain", &file);
        run_for(5000, &|| d.status().is_some() || file.0.pending() == 1);
        run_for(10, &|| d.status().is_some());
        assert_eq!(d.status(), None, "{}", crate::process::take_captured());
        assert_eq!(outstanding(), (1, 1, 0), "one fault waits, in the kernel");
        let before = d.runtime().unwrap();
        run_for(30, &|| false);
        let spent = d.runtime().unwrap() - before;
        assert!(spent < 2_000_000, "blocked while it waits: ran {spent} ns");
        file.0.complete_all();
        run_for(5000, &|| d.status().is_some());
        let out = crate::process::take_captured();
        assert_eq!(d.status(), Some(0), "{out}");
        assert!(out.contains("ok=true"), "{out}");
        assert_eq!(outstanding(), (0, 0, 0));
        drop(d);
        drop(file);
        assert_eq!(user::usage_back_to(base), base, "frames and page tables back");
    }

    /// Processes killed while their faults wait (one by upcall, one in the
    /// kernel, both on the same read): their waits go with them, the
    /// late completion finds nobody, nothing is left behind. Then a read
    /// that fails: the waiting-in-kernel dispatcher is stopped with
    /// SIGBUS, the thread library's program exits with it.
    fn mm_user_page_fault_killed_or_failed() {
        use super::upcall::outstanding;
        let base = usage();
        for fail in [false, true] {
            let file = slow_file();
            crate::process::capture();
            let a = spawn_faulting("pfault", &file);
            let b = spawn_faulting("pfault-plain", &file);
            run_for(5000, &|| outstanding().0 == 2 || a.status().is_some() || b.status().is_some());
            assert_eq!(outstanding(), (2, 1, 0), "{}", crate::process::take_captured());
            assert_eq!(file.0.pending(), 1, "both wait for the same read");
            if fail {
                file.0.fail_reads(true);
                file.0.complete_all();
                run_for(5000, &|| a.status().is_some() && b.status().is_some());
                assert_eq!((a.status(), b.status()), (Some(128 + 7), Some(128 + 7)));
            } else {
                crate::dispatch::kill_process(&a.process, 9);
                crate::dispatch::kill_process(&b.process, 9);
                assert_eq!(outstanding(), (0, 0, 0), "the waits went with them");
                assert_eq!(file.0.complete_all(), 1, "a completion for nobody");
            }
            let _ = crate::process::take_captured();
            assert_eq!(outstanding(), (0, 0, 0));
            drop((a, b, file));
            assert_eq!(user::usage_back_to(base), base, "frames and page tables back");
        }
    }
}

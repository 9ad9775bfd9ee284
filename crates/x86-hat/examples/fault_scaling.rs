//! The kernel's fault path on real threads: `mm`'s objects (Process,
//! Region, FCM, the root PM's per-processor frame caches) over this
//! crate's page tables, the code the kernel runs, with one virtual
//! processor per thread, each pinned to a core. Zero-fill write faults,
//! in separate regions of one address space and in one shared region, at
//! each thread count asked for. Prints nanoseconds per fault and the
//! scaling (cost at one thread / cost at N; 1.0 is perfect). It is the
//! issue's "≥ 0.9 × N for separate regions" measured without an
//! emulator: the in-kernel figures need QEMU, whose global lock takes
//! every exception (docs/perf/mm.md).
//!
//! ```text
//! cargo run --release -p x86-hat --example fault_scaling -- 1,2
//! ```
//!
//! For a many-core machine without this toolchain, one static binary:
//!
//! ```text
//! RUSTFLAGS="-C target-feature=+crt-static" cargo build --release \
//!     -p x86-hat --example fault_scaling --target x86_64-unknown-linux-gnu
//! target/x86_64-unknown-linux-gnu/release/examples/fault_scaling 1,2,4,8,16
//! ```
//!
//! Hosted differences from the kernel: frames are `SimFrames` (memory of
//! this process, one lock, reached by the root PM in batches of 32) and a
//! fault is a call, not a trap. More threads than cores measure the host's
//! scheduler, not the fault path.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use cobj::{hosted::Hosted, Config, Runtime};
use mm::{Access, MapOptions, Mm, NullDispatcher, Prot, SimFrames, PAGE_SIZE};
use x86_hat::{hosted::HostTables, X86Hat};

type Space = mm::AddressSpace<Hosted, X86Hat<HostTables>>;

const VA: u64 = 0x4000_0000;
const P: u64 = PAGE_SIZE as u64;
/// Faults per thread per round.
const CHUNK: u64 = 512;
/// Rounds per figure; the best one counts.
const ROUNDS: usize = 9;

#[derive(Clone, Copy, PartialEq)]
enum Layout {
    /// Each thread maps and faults its own region.
    Separate,
    /// Thread 0 maps one region; each thread faults its own slice of it.
    Shared,
}

struct Machine {
    rt: &'static Runtime<Hosted>,
    tables: &'static HostTables,
    mm: Mm<Hosted>,
}

/// Wall time of the best round's faulting phase (thread 0 sees it from
/// barrier to barrier, so it is the slowest thread's).
fn best_round(m: &Machine, n: usize, layout: Layout) -> Duration {
    let s: Space = {
        let _c = m.rt.enter(0).expect("processor 0");
        let hat = X86Hat::new(m.tables).expect("a HAT");
        m.mm.create_space(Arc::new(hat), Arc::new(NullDispatcher), false)
            .expect("a space")
    };
    let barrier = Barrier::new(n);
    let best = std::thread::scope(|t| {
        let threads: Vec<_> = (0..n)
            .map(|k| {
                let (s, barrier) = (&s, &barrier);
                t.spawn(move || {
                    let me = m.rt.enter(k).expect("a processor per thread");
                    let (base, len, mine) = match layout {
                        Layout::Separate => {
                            let base = VA + k as u64 * 2 * CHUNK * P;
                            (base, CHUNK * P, base)
                        }
                        Layout::Shared => (VA, n as u64 * CHUNK * P, VA + k as u64 * CHUNK * P),
                    };
                    let maps = layout == Layout::Separate || k == 0;
                    let mut best = Duration::MAX;
                    for _ in 0..ROUNDS {
                        if maps {
                            s.map_anon(base, len, Prot::RW, MapOptions::default())
                                .expect("map");
                        }
                        barrier.wait();
                        let t0 = Instant::now();
                        for i in 0..CHUNK {
                            s.fault(mine + i * P, Access::Write).expect("fault");
                        }
                        barrier.wait();
                        best = best.min(t0.elapsed());
                        if maps {
                            s.unmap(base, len).expect("unmap");
                        }
                        me.quiescent();
                        barrier.wait();
                    }
                    best
                })
            })
            .collect();
        let all: Vec<Duration> = threads
            .into_iter()
            .map(|h| h.join().expect("a faulting thread"))
            .collect();
        all[0]
    });
    let _c = m.rt.enter(0).expect("processor 0");
    s.destroy().expect("destroy");
    best
}

fn main() {
    let counts: Vec<usize> = match std::env::args().nth(1) {
        Some(a) => a
            .split(',')
            .map(|x| x.trim().parse().expect("thread counts: 1,2,4,..."))
            .collect(),
        None => vec![1, 2],
    };
    let max = counts.iter().copied().max().unwrap_or(1).max(1);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    if max > cores {
        eprintln!(
            "note: {max} threads on {cores} cores: the larger counts measure the host's scheduler"
        );
    }
    let rt: &'static Runtime<Hosted> = Box::leak(Box::new(
        Runtime::new(Hosted::new(max).expect("processors"), Config::default()).expect("runtime"),
    ));
    let m = Machine {
        rt,
        tables: Box::leak(Box::new(HostTables::new(max))),
        mm: Mm::new(rt, Arc::new(SimFrames::new(4 * max * CHUNK as usize))).expect("mm"),
    };
    // Every frame touched once: a first touch is the host's page fault.
    best_round(&m, max, Layout::Separate);
    best_round(&m, max, Layout::Shared);
    println!("fault_scaling: {CHUNK} zero-fill faults per thread, best of {ROUNDS} rounds, {cores} cores");
    println!(
        "{:>8} {:>12} {:>8} {:>12} {:>8}",
        "threads", "separate ns", "scaling", "shared ns", "scaling"
    );
    let layouts = [Layout::Separate, Layout::Shared];
    let per_fault = |n, layout| best_round(&m, n, layout).as_nanos() as f64 / CHUNK as f64;
    // The reference: one thread, whatever the counts asked for.
    let one = layouts.map(|l| per_fault(1, l));
    for &n in &counts {
        print!("{n:>8}");
        for (l, at_one) in layouts.iter().zip(one) {
            let ns = if n == 1 { at_one } else { per_fault(n, *l) };
            print!(" {ns:>12.0} {:>8.2}", at_one / ns);
        }
        println!();
    }
}

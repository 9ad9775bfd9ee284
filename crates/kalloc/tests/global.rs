//! kalloc as this test binary's `#[global_allocator]`: the test harness,
//! std's collections and every thread allocate through it.
#![cfg(not(loom))]

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::sync::Arc;

use kalloc::hosted::KallocSystem;
use kalloc::Flavour;

/// Eight virtual processors on two simulated nodes.
#[global_allocator]
static HEAP: KallocSystem = KallocSystem::with_numa(8, 2);

#[test]
fn std_collections_work_on_many_threads() {
    let handles: Vec<_> = (0..6)
        .map(|t| {
            std::thread::spawn(move || {
                let mut map = HashMap::new();
                let mut tree = BTreeMap::new();
                for i in 0..5000u64 {
                    map.insert(i, format!("{t}-{i}"));
                    tree.insert(i * 7 % 1000, vec![i; (i % 40) as usize]);
                    if i % 3 == 0 {
                        map.remove(&(i / 2));
                    }
                }
                let total: usize = map.values().map(String::len).sum::<usize>()
                    + tree.values().map(Vec::len).sum::<usize>();
                (map.len(), total)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // Every thread did the same work, so the same answer.
    assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:?}");
}

/// Producers allocate, consumers on other threads free: the frees stay
/// correct (contents intact) and show up as frees on the consumers.
#[test]
fn frees_from_other_threads() {
    let (tx, rx) = mpsc::sync_channel::<Vec<Box<[u64; 8]>>>(16);
    let producer = std::thread::spawn(move || {
        for round in 0..200u64 {
            let batch: Vec<_> = (0..64).map(|i| Box::new([round * 1000 + i; 8])).collect();
            tx.send(batch).unwrap();
        }
    });
    let consumer = std::thread::spawn(move || {
        let mut seen = 0u64;
        for (round, batch) in rx.into_iter().enumerate() {
            for (i, b) in batch.into_iter().enumerate() {
                assert!(b.iter().all(|&v| v == round as u64 * 1000 + i as u64));
                seen += 1;
            }
        }
        seen
    });
    producer.join().unwrap();
    assert_eq!(consumer.join().unwrap(), 200 * 64);
}

/// More threads than virtual processors: the extra threads share the
/// overflow slot, and everything still works.
#[test]
fn more_threads_than_processors() {
    let shared_slot = HEAP.cpus() - 1;
    let before = HEAP.cpu_stats(shared_slot).unwrap().allocs;
    let shared = Arc::new(std::sync::Mutex::new(Vec::new()));
    // All 16 threads hold their slot at once, so at least 8 of them cannot
    // get one of the 8 bound slots.
    let all_bound = Arc::new(std::sync::Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|t| {
            let shared = Arc::clone(&shared);
            let all_bound = Arc::clone(&all_bound);
            std::thread::spawn(move || {
                let mut mine: Vec<String> = vec![format!("thread {t} first")];
                all_bound.wait();
                for i in 0..2000 {
                    mine.push(format!("thread {t} item {i}"));
                    if i % 10 == 0 {
                        // Hand some to a shared pile, freed by whoever drains it.
                        let mut pile = shared.lock().unwrap();
                        pile.push(mine.pop().unwrap());
                        if pile.len() > 100 {
                            pile.clear();
                        }
                    }
                }
                mine.len()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 1801);
    }
    assert!(HEAP.cpu_stats(shared_slot).unwrap().allocs > before);
}

/// Blocks come from the node of the processor that allocated them, for
/// every flavour, and strictly-local blocks freed elsewhere go home.
#[test]
fn flavours_and_simulated_numa() {
    use std::alloc::Layout;
    let layout = Layout::from_size_align(200, 8).unwrap();
    let results: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let cpu = HEAP.current_cpu().unwrap();
                let node = HEAP.node_of_cpu(cpu);
                let ptrs: Vec<usize> =
                    [Flavour::LocalStrict, Flavour::Global, Flavour::GlobalPadded]
                        .into_iter()
                        .map(|f| {
                            let p = HEAP.allocate(layout, f).unwrap();
                            // SAFETY: live, from HEAP with `layout`.
                            assert_eq!(unsafe { HEAP.node_of(p, layout) }, Some(node));
                            p.as_ptr() as usize
                        })
                        .collect();
                (cpu, ptrs)
            })
        })
        .map(|h| h.join().unwrap())
        .collect();
    // Free everything on this thread: the strictly-local ones go home.
    for (_, ptrs) in &results {
        for &p in ptrs {
            // SAFETY: each pointer is live and was allocated with `layout`.
            unsafe { HEAP.free(std::ptr::NonNull::new(p as *mut u8).unwrap(), layout) };
        }
    }
    HEAP.flush();
    let me = HEAP.current_cpu().unwrap();
    assert!(HEAP.cpu_stats(me).unwrap().remote_cpu_frees >= 1);
}

#[test]
fn statistics_cover_every_processor_and_node() {
    let v: Vec<u8> = vec![1; 100_000]; // a large (page-layer) block
    assert_eq!(v.iter().map(|&b| b as usize).sum::<usize>(), 100_000);
    drop(v);
    assert_eq!(HEAP.cpus(), 9); // 8 bound slots and the shared one
    assert_eq!(HEAP.nodes(), 2);
    let total_allocs: u64 = (0..HEAP.cpus())
        .map(|c| HEAP.cpu_stats(c).unwrap().allocs)
        .sum();
    assert!(total_allocs > 0);
    let large: u64 = (0..HEAP.nodes())
        .map(|n| HEAP.node_stats(n).unwrap().large_pages)
        .sum();
    assert!(large >= 25);
    assert!(HEAP.cpu_stats(HEAP.cpus()).is_none());
    assert!(HEAP.node_stats(2).is_none());
}

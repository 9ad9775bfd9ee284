//! Live customization under load: a Region's FCM is hot-swapped between
//! FIFO and clock while other processors fault pages in it (with eviction
//! and swap-in going on too). No fault may be lost and every page must keep
//! its contents. `MM_STRESS_SWAPS` raises the number of swaps.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use mm::*;

const VA: u64 = 0x40_0000;
const P: u64 = PAGE_SIZE as u64;
const WORKERS: usize = 3;
const PAGES_EACH: u64 = 8;

fn pattern(worker: usize, page: u64, round: u32) -> Vec<u8> {
    let mut v = page_bytes(worker as u8 ^ (page as u8) << 3);
    v[..4].copy_from_slice(&round.to_le_bytes());
    v
}

fn page_bytes(b: u8) -> Vec<u8> {
    vec![b; PAGE_SIZE]
}

fn run(replicated: bool, kind: RegionKind) {
    let swaps: usize = std::env::var("MM_STRESS_SWAPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let m = machine(WORKERS + 1, 256);
    let total = WORKERS as u64 * PAGES_EACH;
    let s = {
        let _c = m.rt.enter(WORKERS).unwrap();
        let s = m.space(replicated);
        s.map_anon(
            VA,
            total * P,
            Prot::RW,
            MapOptions {
                kind,
                ..Default::default()
            },
        )
        .unwrap();
        for f in s.fcms_at(VA).unwrap() {
            // Fewer frames than pages: eviction and swap-in run during the swaps.
            f.call(|f| f.set_max_resident(Some((total as usize * 3 / 4) / s_parts(kind))))
                .unwrap();
        }
        s
    };
    let done = AtomicBool::new(false);
    let mut rounds = [0u32; WORKERS];
    std::thread::scope(|t| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (s, m, done) = (&s, &m, &done);
                t.spawn(move || {
                    let me = m.rt.enter(w).unwrap();
                    let mut round = 0u32;
                    let mut buf = vec![0u8; PAGE_SIZE];
                    while !done.load(Ordering::Relaxed) || round < 2 {
                        round += 1;
                        for i in 0..PAGES_EACH {
                            let va = VA + (w as u64 * PAGES_EACH + i) * P;
                            s.write(va, &pattern(w, i, round)).unwrap();
                            me.quiescent();
                        }
                        for i in 0..PAGES_EACH {
                            let va = VA + (w as u64 * PAGES_EACH + i) * P;
                            s.read(va, &mut buf).unwrap();
                            assert_eq!(
                                buf,
                                pattern(w, i, round),
                                "worker {w} page {i} round {round}"
                            );
                            me.quiescent();
                        }
                    }
                    round
                })
            })
            .collect();
        let me = m.rt.enter(WORKERS).unwrap();
        for k in 0..swaps {
            let policy = if k % 2 == 0 {
                PolicyKind::Clock
            } else {
                PolicyKind::Fifo
            };
            s.swap_policy(VA, policy).unwrap();
            me.quiescent();
            std::thread::yield_now();
        }
        done.store(true, Ordering::Relaxed);
        for (w, h) in workers.into_iter().enumerate() {
            rounds[w] = h.join().unwrap();
        }
    });
    let _c = m.rt.enter(0).unwrap();
    let infos = s.fcm_info(VA).unwrap();
    let want = if swaps % 2 == 1 { "clock" } else { "fifo" };
    assert!(infos.iter().all(|i| i.policy == want));
    assert!(
        infos.iter().map(|i| i.evictions).sum::<u64>() > 0,
        "eviction ran during the test"
    );
    // Every page holds the last round its worker wrote.
    let mut buf = vec![0u8; PAGE_SIZE];
    for (w, r) in rounds.iter().enumerate() {
        for i in 0..PAGES_EACH {
            s.read(VA + (w as u64 * PAGES_EACH + i) * P, &mut buf)
                .unwrap();
            assert_eq!(buf, pattern(w, i, *r));
        }
    }
    s.destroy().unwrap();
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

fn s_parts(kind: RegionKind) -> usize {
    match kind {
        RegionKind::Partitioned(n) => n,
        _ => 1,
    }
}

#[test]
fn fcm_swap_under_concurrent_faults() {
    run(false, RegionKind::Default);
}

#[test]
fn fcm_swap_under_concurrent_faults_replicated_partitioned() {
    run(true, RegionKind::Partitioned(2));
}

/// The replicated Process under concurrent map/unmap (one processor) and
/// faults in stable regions (the others): the per-processor copies of the
/// region list stay consistent, and faults never see a half-updated list.
#[test]
fn replicated_process_updates_under_faults() {
    let m = machine(3, 256);
    let s = {
        let _c = m.rt.enter(0).unwrap();
        let s = m.space(true);
        s.map_anon(VA, 16 * P, Prot::RW, MapOptions::default())
            .unwrap();
        s
    };
    let done = AtomicBool::new(false);
    std::thread::scope(|t| {
        for w in 1..3usize {
            let (s, m, done) = (&s, &m, &done);
            t.spawn(move || {
                let me = m.rt.enter(w).unwrap();
                let mut round = 0u32;
                let mut buf = vec![0u8; PAGE_SIZE];
                while !done.load(Ordering::Relaxed) || round < 3 {
                    round += 1;
                    for i in 0..8 {
                        let va = VA + ((w as u64 - 1) * 8 + i) * P;
                        s.write(va, &pattern(w, i, round)).unwrap();
                        s.read(va, &mut buf).unwrap();
                        assert_eq!(buf, pattern(w, i, round));
                        me.quiescent();
                    }
                }
            });
        }
        let me = m.rt.enter(0).unwrap();
        for k in 0..40u64 {
            let va = VA + (64 + (k % 4) * 8) * P;
            s.map_anon(va, 4 * P, Prot::RW, MapOptions::default())
                .unwrap();
            s.write(va, &pattern(0, k, k as u32)).unwrap();
            let mut buf = vec![0u8; PAGE_SIZE];
            s.read(va, &mut buf).unwrap();
            assert_eq!(buf, pattern(0, k, k as u32));
            s.unmap(va, 4 * P).unwrap();
            assert_eq!(s.read(va, &mut buf), Err(MmError::BadAddress(va)));
            me.quiescent();
        }
        done.store(true, Ordering::Relaxed);
    });
    let _c = m.rt.enter(0).unwrap();
    assert_eq!(s.regions().unwrap().len(), 1);
    s.destroy().unwrap();
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

/// A parent and its fresh fork fault on the same page at the same moment
/// from two processors: their first calls on the frozen FCM the fork made
/// miss together, both processors make a Rep, and one of them is thrown
/// away. The FCM's pages must not go with it (they did: the losing Rep
/// had taken the Root's seed, and the next fault failed with "FCM state
/// has moved", which killed forked programs in the kernel).
#[test]
fn fork_then_simultaneous_first_faults_lose_nothing() {
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Arc, Mutex};
    const ROUNDS: usize = 2000;
    let m = machine(2, 64);
    let child: Mutex<Option<Space>> = Mutex::new(None);
    // Round r starts when `go` reaches r + 1 (both threads spin on it, so
    // they fault within a cache-line transfer of each other); the child
    // is ready for it at `ready` = r + 1 and done with it at `done` = r + 1.
    // A thread that panics sets `broken`, so the other stops waiting.
    let (go, ready, done) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    let broken = AtomicBool::new(false);
    let wait = |a: &AtomicUsize, v: usize| {
        while a.load(Ordering::Acquire) < v {
            assert!(!broken.load(Ordering::Relaxed), "the other side failed");
            std::hint::spin_loop();
        }
    };
    // Sweeps the skew between the two first calls: round r delays one
    // side by up to a few microseconds.
    let delay = |round: usize, parent: bool| {
        let d = (round % 193) as isize - 96;
        let spins = if parent { -d } else { d }.max(0) * 8;
        for _ in 0..spins {
            std::hint::spin_loop();
        }
    };
    struct Breaks<'a>(&'a AtomicBool);
    impl Drop for Breaks<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0.store(true, Ordering::Relaxed);
            }
        }
    }
    std::thread::scope(|t| {
        let (m, child, go, ready, done, broken) = (&m, &child, &go, &ready, &done, &broken);
        let (wait, delay) = (&wait, &delay);
        t.spawn(move || {
            let _b = Breaks(broken);
            let me = m.rt.enter(1).unwrap();
            let mut buf = page_bytes(0);
            for round in 0..ROUNDS {
                ready.store(round + 1, Ordering::Release);
                wait(go, round + 1);
                let c = child.lock().unwrap().take().unwrap();
                delay(round, false);
                c.read(VA, &mut buf).unwrap();
                assert_eq!(buf, page_bytes(round as u8), "child, round {round}");
                c.destroy().unwrap();
                me.quiescent();
                done.store(round + 1, Ordering::Release);
            }
        });
        let _b = Breaks(broken);
        let me = m.rt.enter(0).unwrap();
        let mut buf = page_bytes(0);
        for round in 0..ROUNDS {
            let parent = m.space(false);
            parent
                .map_anon(VA, P, Prot::RW, MapOptions::default())
                .unwrap();
            parent.write(VA, &page_bytes(round as u8)).unwrap();
            let c = parent.fork(m.hat(), Arc::new(NullDispatcher)).unwrap();
            *child.lock().unwrap() = Some(c);
            wait(ready, round + 1);
            go.store(round + 1, Ordering::Release);
            delay(round, true);
            // A store: the parent's translation is read-only since the
            // fork, and the copy reads the frozen FCM.
            parent.write(VA, &page_bytes(!(round as u8))).unwrap();
            parent.read(VA, &mut buf).unwrap();
            assert_eq!(buf, page_bytes(!(round as u8)), "parent, round {round}");
            parent.destroy().unwrap();
            me.quiescent();
            wait(done, round + 1);
        }
    });
    let _c = m.rt.enter(0).unwrap();
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

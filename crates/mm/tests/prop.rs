//! Random sequences of address-space operations (mmap of default and
//! partitioned regions, munmap, mprotect,
//! fork, read, write, destroy, reclaim, policy swap) against a simple model
//! of an address space: a map from page to (protection, contents). Every
//! result and every byte read must match; at the end all frames are free.
//! `MM_PROPTEST_CASES` raises the number of cases.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use mm::*;
use proptest::prelude::*;

const VA: u64 = 0x40_0000;
const P: u64 = PAGE_SIZE as u64;
const PAGES: u64 = 12;
const MAX_PROCS: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Map {
        proc: usize,
        start: u64,
        n: u64,
        write: bool,
        parts: bool,
    },
    Unmap {
        proc: usize,
        start: u64,
        n: u64,
    },
    Protect {
        proc: usize,
        start: u64,
        n: u64,
        write: bool,
    },
    Write {
        proc: usize,
        page: u64,
        off: usize,
        len: usize,
        byte: u8,
    },
    Read {
        proc: usize,
        page: u64,
    },
    Fork {
        proc: usize,
    },
    Destroy {
        proc: usize,
    },
    Reclaim {
        frames: usize,
    },
    Swap {
        proc: usize,
        page: u64,
        clock: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let proc = 0..MAX_PROCS;
    let page = 0..PAGES;
    let n = 1..5u64;
    prop_oneof![
        3 => (proc.clone(), page.clone(), n.clone(), any::<bool>(), prop::bool::weighted(0.25))
            .prop_map(|(proc, start, n, write, parts)| Op::Map { proc, start, n, write, parts }),
        1 => (proc.clone(), page.clone(), n.clone()).prop_map(|(proc, start, n)| Op::Unmap { proc, start, n }),
        1 => (proc.clone(), page.clone(), n, any::<bool>()).prop_map(|(proc, start, n, write)| Op::Protect { proc, start, n, write }),
        4 => (proc.clone(), page.clone(), 0..PAGE_SIZE, 1..64usize, any::<u8>())
            .prop_map(|(proc, page, off, len, byte)| Op::Write { proc, page, off: off.min(PAGE_SIZE - len), len, byte }),
        3 => (proc.clone(), page.clone()).prop_map(|(proc, page)| Op::Read { proc, page }),
        1 => proc.clone().prop_map(|proc| Op::Fork { proc }),
        1 => proc.clone().prop_map(|proc| Op::Destroy { proc }),
        1 => (1..6usize).prop_map(|frames| Op::Reclaim { frames }),
        1 => (proc, page, any::<bool>()).prop_map(|(proc, page, clock)| Op::Swap { proc, page, clock }),
    ]
}

/// The model: page number -> (writable, contents, the partitioned region
/// (start, pages) it belongs to).
type Model = BTreeMap<u64, (bool, Vec<u8>, Option<(u64, u64)>)>;

/// Whether `[start, start + n)` cuts a partitioned region (refused).
fn cuts_partitioned(model: &Model, start: u64, n: u64) -> bool {
    (start..start + n).any(|p| {
        model
            .get(&p)
            .and_then(|x| x.2)
            .is_some_and(|(s, k)| s < start || s + k > start + n)
    })
}

fn va(page: u64) -> u64 {
    VA + page * P
}

fn check(replicated: bool, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let m = machine(1, 96);
    let _c = m.rt.enter(0).unwrap();
    let mut procs: Vec<(Space, Model)> = vec![(m.space(replicated), Model::new())];
    for op in ops {
        match op {
            Op::Map {
                proc,
                start,
                n,
                write,
                parts,
            } => {
                let Some((s, model)) = procs.get_mut(proc) else {
                    continue;
                };
                let prot = if write { Prot::RW } else { Prot::R };
                let kind = if parts {
                    RegionKind::Partitioned(2)
                } else {
                    RegionKind::Default
                };
                let opts = MapOptions {
                    kind,
                    ..Default::default()
                };
                let r = s.map_anon(va(start), n * P, prot, opts);
                if (start..start + n).any(|p| model.contains_key(&p)) {
                    prop_assert!(matches!(r, Err(MmError::Invalid(_))), "{r:?}");
                } else {
                    prop_assert_eq!(r, Ok(()));
                    for p in start..start + n {
                        model.insert(p, (write, vec![0; PAGE_SIZE], parts.then_some((start, n))));
                    }
                }
            }
            Op::Unmap { proc, start, n } => {
                let Some((s, model)) = procs.get_mut(proc) else {
                    continue;
                };
                let r = s.unmap(va(start), n * P);
                if cuts_partitioned(model, start, n) {
                    prop_assert!(matches!(r, Err(MmError::Invalid(_))), "{r:?}");
                } else {
                    prop_assert_eq!(r, Ok(()));
                    for p in start..start + n {
                        model.remove(&p);
                    }
                }
            }
            Op::Protect {
                proc,
                start,
                n,
                write,
            } => {
                let Some((s, model)) = procs.get_mut(proc) else {
                    continue;
                };
                let prot = if write { Prot::RW } else { Prot::R };
                let r = s.protect(va(start), n * P, prot);
                if !(start..start + n).all(|p| model.contains_key(&p)) {
                    prop_assert!(matches!(r, Err(MmError::BadAddress(_))), "{r:?}");
                } else if cuts_partitioned(model, start, n) {
                    prop_assert!(matches!(r, Err(MmError::Invalid(_))), "{r:?}");
                } else {
                    prop_assert_eq!(r, Ok(()));
                    for p in start..start + n {
                        model.get_mut(&p).unwrap().0 = write;
                    }
                }
            }
            Op::Write {
                proc,
                page,
                off,
                len,
                byte,
            } => {
                let Some((s, model)) = procs.get_mut(proc) else {
                    continue;
                };
                let a = va(page) + off as u64;
                let r = s.write(a, &vec![byte; len]);
                match model.get_mut(&page) {
                    None => prop_assert_eq!(r, Err(MmError::BadAddress(a))),
                    Some((false, _, _)) => prop_assert_eq!(r, Err(MmError::Protection(a))),
                    Some((true, data, _)) => {
                        prop_assert_eq!(r, Ok(()));
                        data[off..off + len].fill(byte);
                    }
                }
            }
            Op::Read { proc, page } => {
                let Some((s, model)) = procs.get(proc) else {
                    continue;
                };
                let mut buf = vec![0xEEu8; PAGE_SIZE];
                let r = s.read(va(page), &mut buf);
                match model.get(&page) {
                    None => prop_assert_eq!(r, Err(MmError::BadAddress(va(page)))),
                    Some((_, data, _)) => {
                        prop_assert_eq!(r, Ok(()));
                        prop_assert!(&buf == data, "page {} of process {} differs", page, proc);
                    }
                }
            }
            Op::Fork { proc } => {
                if procs.len() >= MAX_PROCS {
                    continue;
                }
                let Some((s, model)) = procs.get(proc) else {
                    continue;
                };
                let child = s.fork(m.hat(), Arc::new(NullDispatcher)).unwrap();
                let model = model.clone();
                procs.push((child, model));
            }
            Op::Destroy { proc } => {
                if procs.len() <= 1 || proc >= procs.len() {
                    continue;
                }
                let (s, _) = procs.remove(proc);
                prop_assert_eq!(s.destroy(), Ok(()));
            }
            Op::Reclaim { frames } => {
                m.mm.reclaim(frames).unwrap();
            }
            Op::Swap { proc, page, clock } => {
                let Some((s, model)) = procs.get(proc) else {
                    continue;
                };
                let policy = if clock {
                    PolicyKind::Clock
                } else {
                    PolicyKind::Fifo
                };
                let r = s.swap_policy(va(page), policy);
                if model.contains_key(&page) {
                    prop_assert_eq!(r, Ok(()));
                } else {
                    prop_assert_eq!(r, Err(MmError::BadAddress(va(page))));
                }
            }
        }
    }
    // Final sweep: every page of every process.
    for (k, (s, model)) in procs.iter().enumerate() {
        for page in 0..PAGES {
            let mut buf = vec![0u8; PAGE_SIZE];
            let r = s.read(va(page), &mut buf);
            match model.get(&page) {
                None => prop_assert!(r.is_err()),
                Some((_, data, _)) => prop_assert!(
                    r.is_ok() && &buf == data,
                    "final: page {} of process {}",
                    page,
                    k
                ),
            }
        }
    }
    for (s, _) in procs {
        s.destroy().unwrap();
    }
    prop_assert_eq!(m.mm.frames_in_use().unwrap(), 0);
    m.mm.drain_frame_caches().unwrap();
    prop_assert_eq!(m.mm.frames_cached().unwrap(), 0);
    prop_assert_eq!(m.frames.free_count(), 96);
    Ok(())
}

fn cases() -> u32 {
    std::env::var("MM_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn address_space_matches_model(replicated in any::<bool>(), ops in proptest::collection::vec(op(), 1..40)) {
        check(replicated, ops)?;
    }
}

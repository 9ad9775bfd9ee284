//! The fault path, semantics of the address-space operations, and
//! accounting, hosted.

mod common;

use std::sync::Arc;

use common::*;
use mm::*;

const VA: u64 = 0x40_0000;
const P: u64 = PAGE_SIZE as u64;

fn both(f: impl Fn(bool)) {
    f(false);
    f(true);
}

#[test]
fn zero_fill_and_round_trip() {
    both(|rep| {
        let m = machine(2, 64);
        let _c = m.rt.enter(0).unwrap();
        let s = m.space(rep);
        s.map_anon(VA, 4 * P, Prot::RW, MapOptions::default())
            .unwrap();
        let mut buf = vec![0xFFu8; 3 * PAGE_SIZE];
        s.read(VA + 100, &mut buf).unwrap();
        assert!(
            buf.iter().all(|b| *b == 0),
            "zero-filled (frames start as 0xAA)"
        );
        let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        s.write(VA + P - 10, &data).unwrap();
        let mut back = vec![0u8; data.len()];
        s.read(VA + P - 10, &mut back).unwrap();
        assert_eq!(back, data);
        assert_eq!(s.charged().unwrap(), 4);
        s.destroy().unwrap();
        assert_eq!(m.mm.frames_in_use().unwrap(), 0);
    });
}

#[test]
fn bad_addresses_are_errors() {
    let m = machine(1, 16);
    let _c = m.rt.enter(0).unwrap();
    let s = m.space(false);
    s.map_anon(VA, P, Prot::RW, MapOptions::default()).unwrap();
    let mut b = [0u8; 8];
    assert_eq!(s.read(0, &mut b), Err(MmError::BadAddress(0)));
    assert_eq!(s.read(VA + P, &mut b), Err(MmError::BadAddress(VA + P)));
    // Straddles the end of the region: the first part works, then EFAULT.
    assert_eq!(s.read(VA + P - 4, &mut b), Err(MmError::BadAddress(VA + P)));
    assert!(matches!(
        s.read(USER_END - 4, &mut b),
        Err(MmError::BadAddress(_))
    ));
    assert!(matches!(
        s.write(u64::MAX - 2, &b),
        Err(MmError::BadAddress(_))
    ));
    assert_eq!(s.read(0, &mut b).unwrap_err().errno(), 14);
    assert!(matches!(
        s.map_anon(VA + 1, P, Prot::RW, MapOptions::default()),
        Err(MmError::Invalid(_))
    ));
    assert!(matches!(
        s.map_anon(VA, P, Prot::RW, MapOptions::default()),
        Err(MmError::Invalid(_))
    ));
    assert!(matches!(
        s.map_anon(USER_END - P, 2 * P, Prot::RW, MapOptions::default()),
        Err(MmError::BadAddress(_))
    ));
    assert!(matches!(
        s.map_anon(VA + P, 0, Prot::RW, MapOptions::default()),
        Err(MmError::Invalid(_))
    ));
    s.destroy().unwrap();
}

#[test]
fn read_only_protection_faults() {
    both(|rep| {
        let m = machine(1, 16);
        let _c = m.rt.enter(0).unwrap();
        let s = m.space(rep);
        s.map_anon(VA, 2 * P, Prot::RW, MapOptions::default())
            .unwrap();
        s.write(VA, b"abc").unwrap();
        s.protect(VA, P, Prot::R).unwrap();
        assert_eq!(s.write(VA, b"x"), Err(MmError::Protection(VA)));
        assert_eq!(s.fault(VA, Access::Write), Err(MmError::Protection(VA)));
        let mut b = [0u8; 3];
        s.read(VA, &mut b).unwrap();
        assert_eq!(&b, b"abc");
        s.write(VA + P, b"ok").unwrap(); // the other half stays writable
        assert_eq!(s.regions().unwrap().len(), 2);
        s.protect(VA, P, Prot::RW).unwrap();
        s.write(VA, b"x").unwrap();
        assert!(matches!(
            s.protect(VA, 3 * P, Prot::R),
            Err(MmError::BadAddress(_))
        ));
        s.destroy().unwrap();
        assert_eq!(m.mm.frames_in_use().unwrap(), 0);
    });
}

#[test]
fn fork_is_copy_on_write() {
    both(|rep| {
        let m = machine(2, 64);
        let _c = m.rt.enter(0).unwrap();
        let parent = m.space(rep);
        parent
            .map_anon(VA, 4 * P, Prot::RW, MapOptions::default())
            .unwrap();
        parent.write(VA, &page(1)).unwrap();
        parent.write(VA + P, &page(2)).unwrap();
        let used = m.mm.frames_in_use().unwrap();
        let child = parent.fork(m.hat(), Arc::new(NullDispatcher)).unwrap();
        assert_eq!(m.mm.frames_in_use().unwrap(), used, "fork copies nothing");
        let mut b = page(0);
        child.read(VA, &mut b).unwrap();
        assert_eq!(b, page(1));
        // The child shares the parent's frame for reading.
        let pc = child.hat().query(VA, Scope::All).unwrap();
        let pp = parent.hat().query(VA, Scope::All).unwrap();
        assert_eq!(pc.pfn, pp.pfn);
        assert!(!pc.prot.write && !pp.prot.write);
        child.write(VA, &page(9)).unwrap();
        assert_eq!(
            m.mm.frames_in_use().unwrap(),
            used + 1,
            "the store copied one page"
        );
        assert_ne!(child.hat().query(VA, Scope::All).unwrap().pfn, pp.pfn);
        parent.read(VA, &mut b).unwrap();
        assert_eq!(b, page(1));
        parent.write(VA + P, &page(3)).unwrap();
        child.read(VA + P, &mut b).unwrap();
        assert_eq!(b, page(2));
        child.read(VA, &mut b).unwrap();
        assert_eq!(b, page(9));
        // Untouched pages zero-fill independently after the fork.
        child.write(VA + 3 * P, &page(7)).unwrap();
        parent.read(VA + 3 * P, &mut b).unwrap();
        assert_eq!(b, page(0));
        // A grandchild sees the child's data through two frozen levels.
        let grandchild = child.fork(m.hat(), Arc::new(NullDispatcher)).unwrap();
        grandchild.read(VA, &mut b).unwrap();
        assert_eq!(b, page(9));
        grandchild.read(VA + P, &mut b).unwrap();
        assert_eq!(b, page(2));
        child.destroy().unwrap();
        grandchild.read(VA + P, &mut b).unwrap();
        assert_eq!(b, page(2));
        parent.destroy().unwrap();
        grandchild.read(VA, &mut b).unwrap();
        assert_eq!(b, page(9));
        grandchild.destroy().unwrap();
        assert_eq!(m.mm.frames_in_use().unwrap(), 0);
        assert_eq!(m.frames_free(), 64);
    });
}

#[test]
fn per_processor_region_gives_each_processor_its_own_page() {
    let m = machine(2, 64);
    let s = {
        let _c = m.rt.enter(0).unwrap();
        let s = m.space(false);
        s.map_anon(
            VA,
            2 * P,
            Prot::RW,
            MapOptions {
                kind: RegionKind::PerCpu,
                ..Default::default()
            },
        )
        .unwrap();
        s.write(VA, b"cpu zero").unwrap();
        s
    };
    std::thread::scope(|t| {
        t.spawn(|| {
            let _c = m.rt.enter(1).unwrap();
            let mut b = [0u8; 8];
            s.read(VA, &mut b).unwrap();
            assert_eq!(b, [0u8; 8], "processor 1 has its own, zero-filled page");
            s.write(VA, b"cpu one!").unwrap();
        });
    });
    let _c = m.rt.enter(0).unwrap();
    let mut b = [0u8; 8];
    s.read(VA, &mut b).unwrap();
    assert_eq!(&b, b"cpu zero");
    let p0 = s.hat().query(VA, Scope::Cpu(0)).unwrap().pfn;
    let p1 = s.hat().query(VA, Scope::Cpu(1)).unwrap().pfn;
    assert_ne!(p0, p1);
    assert_eq!(s.charged().unwrap(), 2);
    // Fork keeps it per processor and copy-on-write.
    let child = s.fork(m.hat(), Arc::new(NullDispatcher)).unwrap();
    child.read(VA, &mut b).unwrap();
    assert_eq!(&b, b"cpu zero");
    child.destroy().unwrap();
    s.destroy().unwrap();
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

#[test]
fn shared_segment_is_visible_in_two_address_spaces() {
    let m = machine(2, 64);
    let _c = m.rt.enter(0).unwrap();
    let a = m.space(false);
    let b = m.space(false);
    let base = 0x4000_0000u64;
    b.hat()
        .share_segment(&**a.hat(), base, LARGE_PAGE_SIZE)
        .unwrap();
    a.map_anon(
        base,
        4 * P,
        Prot::RW,
        MapOptions {
            shared: true,
            ..Default::default()
        },
    )
    .unwrap();
    a.write(base + P, b"shared pt").unwrap();
    // b has no region there, but its page table subtree is a's: the
    // translation is present in b's HAT.
    let pa = a.hat().query(base + P, Scope::All).unwrap();
    let pb = b.hat().query(base + P, Scope::All).unwrap();
    assert_eq!(pa.pfn, pb.pfn);
    assert!(a.hat().segment(base).unwrap().is_shared());
    let mut buf = [0u8; 9];
    let hb = b.hat();
    hb.access(0, base + P, Access::Read, |t| {
        m.frames.read(t.pfn, t.offset, &mut buf)
    })
    .unwrap();
    assert_eq!(&buf, b"shared pt");
    // An unmap through a shoots down b's TLBs too.
    assert!(hb.tlb_has(0, base + P));
    a.unmap(base, 4 * P).unwrap();
    assert!(!hb.tlb_has(0, base + P));
    assert!(b.hat().query(base + P, Scope::All).is_none());
    assert!(matches!(
        a.hat()
            .share_segment(&**b.hat(), base + 4096, LARGE_PAGE_SIZE),
        Err(MmError::Invalid(_))
    ));
    a.destroy().unwrap();
    b.destroy().unwrap();
}

#[test]
fn large_pages() {
    let m = machine(1, 4 * PAGES_PER_LARGE);
    let _c = m.rt.enter(0).unwrap();
    let s = m.space(false);
    let base = 0x4000_0000u64;
    let opts = MapOptions {
        large: true,
        ..Default::default()
    };
    assert!(matches!(
        s.map_anon(base, P, Prot::RW, opts),
        Err(MmError::Invalid(_))
    ));
    s.map_anon(base, 2 * LARGE_PAGE_SIZE as u64, Prot::RW, opts)
        .unwrap();
    s.write(base + (1 << 20) + 5, b"big").unwrap();
    let pte = s.hat().query(base + 123, Scope::All).unwrap();
    assert!(pte.large);
    assert_eq!(pte.pfn.0 % PAGES_PER_LARGE as u64, 0);
    assert_eq!(s.charged().unwrap(), PAGES_PER_LARGE);
    let mut b = [1u8; 3];
    s.read(base + 7, &mut b).unwrap();
    assert_eq!(b, [0; 3]);
    s.read(base + (1 << 20) + 5, &mut b).unwrap();
    assert_eq!(&b, b"big");
    // Copy-on-write of a large page copies 2 MiB.
    let child = s.fork(m.hat(), Arc::new(NullDispatcher)).unwrap();
    child.write(base + 9, b"kid").unwrap();
    assert_eq!(m.mm.frames_in_use().unwrap(), 2 * PAGES_PER_LARGE);
    s.read(base + (1 << 20) + 5, &mut b).unwrap();
    assert_eq!(&b, b"big");
    child.read(base + (1 << 20) + 5, &mut b).unwrap();
    assert_eq!(&b, b"big");
    child.destroy().unwrap();
    s.destroy().unwrap();
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

#[test]
fn shootdown_reaches_only_processors_that_ran_the_space() {
    let m = machine(3, 64);
    let s = {
        let _c = m.rt.enter(0).unwrap();
        let s = m.space(false);
        s.map_anon(VA, 2 * P, Prot::RW, MapOptions::default())
            .unwrap();
        s.write(VA, b"x").unwrap();
        s
    };
    std::thread::scope(|t| {
        t.spawn(|| {
            let _c = m.rt.enter(1).unwrap();
            let mut b = [0u8; 1];
            s.read(VA, &mut b).unwrap();
            assert_eq!(&b, b"x");
        });
    });
    assert!(s.hat().tlb_has(1, VA));
    assert_eq!(s.hat().ran_on(), 0b011);
    let before = (s.hat().invalidations(1), s.hat().invalidations(2));
    {
        let _c = m.rt.enter(0).unwrap();
        s.unmap(VA, P).unwrap();
    }
    assert!(s.hat().invalidations(1) > before.0);
    assert_eq!(
        s.hat().invalidations(2),
        0,
        "processor 2 never ran the space"
    );
    assert!(!s.hat().tlb_has(1, VA));
    std::thread::scope(|t| {
        t.spawn(|| {
            let _c = m.rt.enter(1).unwrap();
            let mut b = [0u8; 1];
            assert_eq!(s.read(VA, &mut b), Err(MmError::BadAddress(VA)));
        });
    });
    let _c = m.rt.enter(0).unwrap();
    s.destroy().unwrap();
}

#[test]
fn out_of_core_fault_pends_then_completes() {
    let m = machine(1, 64);
    let _c = m.rt.enter(0).unwrap();
    let disp = Arc::new(RecordingDispatcher::default());
    let s = m.mm.create_space(m.hat(), disp.clone(), false).unwrap();
    let data: Vec<u8> = (0..2 * PAGE_SIZE).map(|i| (i % 251) as u8).collect();
    let file = MemFile::new(data.clone(), true);
    let f = m.mm.open_file(file.clone(), PolicyKind::Fifo).unwrap();
    s.map_file(VA, 2 * P, Prot::RW, &f, 0).unwrap();
    let mut b = vec![0u8; 10];
    let Err(MmError::Pending(io)) = s.read(VA + 5, &mut b) else {
        panic!("expected a pending fault")
    };
    assert_eq!(disp.events(), vec![DispatcherEvent::Pending(io, VA + 5)]);
    // A second fault on the same page waits for the same I/O.
    assert_eq!(s.read(VA + 6, &mut b), Err(MmError::Pending(io)));
    assert_eq!(file.complete_all(), 1);
    assert!(disp.events().contains(&DispatcherEvent::Done(io, true)));
    s.read(VA + 5, &mut b).unwrap();
    assert_eq!(b, data[5..15]);
    // A failed read reports the error and leaves the page absent.
    file.fail_reads(true);
    let Err(MmError::Pending(io2)) = s.read(VA + P, &mut b) else {
        panic!()
    };
    file.complete_all();
    assert!(disp.events().contains(&DispatcherEvent::Done(io2, false)));
    file.fail_reads(false);
    let Err(MmError::Pending(_)) = s.read(VA + P, &mut b) else {
        panic!()
    };
    file.complete_all();
    s.read(VA + P, &mut b).unwrap();
    assert_eq!(b, data[PAGE_SIZE..PAGE_SIZE + 10]);
    s.destroy().unwrap();
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

#[test]
fn file_mappings_are_shared_and_written_back() {
    let m = machine(1, 64);
    let _c = m.rt.enter(0).unwrap();
    let file = MemFile::new(b"file contents".to_vec(), false);
    let f = m.mm.open_file(file.clone(), PolicyKind::Clock).unwrap();
    let a = m.space(false);
    let b = m.space(false);
    a.map_file(VA, P, Prot::RW, &f, 0).unwrap();
    b.map_file(VA + 16 * P, P, Prot::R, &f, 0).unwrap();
    let mut buf = [0u8; 13];
    b.read(VA + 16 * P, &mut buf).unwrap();
    assert_eq!(&buf, b"file contents");
    a.write(VA, b"FILE").unwrap();
    b.read(VA + 16 * P, &mut buf).unwrap();
    assert_eq!(&buf, b"FILE contents");
    assert_eq!(
        b.write(VA + 16 * P, b"x"),
        Err(MmError::Protection(VA + 16 * P))
    );
    // Eviction writes the page back.
    assert_eq!(f.fcm().call(|f| f.evict(1)).unwrap(), 1);
    assert_eq!(&file.contents()[..13], b"FILE contents");
    // A child shares the file mapping.
    let child = a.fork(m.hat(), Arc::new(NullDispatcher)).unwrap();
    child.write(VA + 1, b"ile").unwrap();
    a.read(VA, &mut buf).unwrap();
    assert_eq!(&buf[..4], b"File");
    child.destroy().unwrap();
    a.destroy().unwrap();
    b.destroy().unwrap();
    assert_eq!(
        &file.contents()[..4],
        b"File",
        "last unmap wrote the cache back"
    );
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

fn eviction_keeps_contents(policy: PolicyKind) {
    let m = machine(1, 64);
    let _c = m.rt.enter(0).unwrap();
    let s = m.space(false);
    s.map_anon(
        VA,
        8 * P,
        Prot::RW,
        MapOptions {
            policy,
            ..Default::default()
        },
    )
    .unwrap();
    s.fcms_at(VA).unwrap()[0]
        .call(|f| f.set_max_resident(Some(3)))
        .unwrap();
    for i in 0..8u8 {
        s.write(VA + i as u64 * P, &page(i + 1)).unwrap();
    }
    for i in (0..8u8).rev() {
        let mut b = page(0);
        s.read(VA + i as u64 * P, &mut b).unwrap();
        assert_eq!(b, page(i + 1), "page {i}");
    }
    let info = s.fcm_info(VA).unwrap()[0];
    assert!(info.resident <= 3);
    assert!(info.evictions >= 5);
    assert_eq!(
        info.policy,
        if policy == PolicyKind::Fifo {
            "fifo"
        } else {
            "clock"
        }
    );
    assert!(s.charged().unwrap() <= 3);
    s.destroy().unwrap();
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

#[test]
fn fifo_eviction_keeps_contents() {
    eviction_keeps_contents(PolicyKind::Fifo);
}

#[test]
fn clock_eviction_keeps_contents() {
    eviction_keeps_contents(PolicyKind::Clock);
}

#[test]
fn leaf_pm_limit_and_reclaim_request() {
    let m = machine(1, 64);
    let _c = m.rt.enter(0).unwrap();
    let s = m.space(false);
    s.map_anon(VA, 8 * P, Prot::RW, MapOptions::default())
        .unwrap();
    s.pm().call(|p| p.set_limit(Some(4))).unwrap();
    for i in 0..8u8 {
        s.write(VA + i as u64 * P, &page(i)).unwrap();
    }
    assert_eq!(s.charged().unwrap(), 4);
    s.pm().call(|p| p.set_limit(None)).unwrap();
    // A reclaim request through the root PM evicts by the FCM's policy.
    assert_eq!(m.mm.reclaim(3).unwrap(), 3);
    assert_eq!(s.charged().unwrap(), 1);
    for i in 0..8u8 {
        let mut b = page(0xFF);
        s.read(VA + i as u64 * P, &mut b).unwrap();
        assert_eq!(b, page(i));
    }
    // Pinned (fixed) memory is never reclaimed.
    s.map_anon(
        VA + 64 * P,
        2 * P,
        Prot::RW,
        MapOptions {
            policy: PolicyKind::Pinned,
            ..Default::default()
        },
    )
    .unwrap();
    s.write(VA + 64 * P, b"pinned").unwrap();
    let before = m.mm.frames_in_use().unwrap();
    let freed = s.fcms_at(VA + 64 * P).unwrap()[0]
        .call(|f| f.evict(10))
        .unwrap();
    assert_eq!(freed, 0);
    assert_eq!(m.mm.frames_in_use().unwrap(), before);
    s.destroy().unwrap();
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

#[test]
fn out_of_memory_is_an_error() {
    let m = machine(1, 4);
    let _c = m.rt.enter(0).unwrap();
    let s = m.space(false);
    s.map_anon(
        VA,
        8 * P,
        Prot::RW,
        MapOptions {
            policy: PolicyKind::Pinned,
            ..Default::default()
        },
    )
    .unwrap();
    for i in 0..4 {
        s.write(VA + i * P, b"x").unwrap();
    }
    assert_eq!(s.write(VA + 4 * P, b"x"), Err(MmError::OutOfMemory));
    assert_eq!(MmError::OutOfMemory.errno(), 12);
    s.destroy().unwrap();
    assert_eq!(m.frames_free(), 4);
}

#[test]
fn munmap_splits_and_frees() {
    both(|rep| {
        let m = machine(1, 64);
        let _c = m.rt.enter(0).unwrap();
        let s = m.space(rep);
        s.map_anon(VA, 6 * P, Prot::RW, MapOptions::default())
            .unwrap();
        for i in 0..6u8 {
            s.write(VA + i as u64 * P, &page(i + 1)).unwrap();
        }
        s.unmap(VA + 2 * P, 2 * P).unwrap();
        assert_eq!(s.charged().unwrap(), 4);
        let mut b = page(0);
        assert_eq!(
            s.read(VA + 2 * P, &mut b),
            Err(MmError::BadAddress(VA + 2 * P))
        );
        s.read(VA + 5 * P, &mut b).unwrap();
        assert_eq!(b, page(6));
        s.read(VA + P, &mut b).unwrap();
        assert_eq!(b, page(2));
        let r = s.regions().unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[1].start, r[1].offset), (VA + 4 * P, 4 * P));
        // Mapping the hole again gives fresh zeros.
        s.map_anon(VA + 2 * P, P, Prot::RW, MapOptions::default())
            .unwrap();
        s.read(VA + 2 * P, &mut b).unwrap();
        assert_eq!(b, page(0));
        s.unmap(0, USER_END - P).unwrap();
        assert!(s.regions().unwrap().is_empty());
        assert_eq!(m.mm.frames_in_use().unwrap(), 0);
        s.destroy().unwrap();
    });
}

#[test]
fn partitioned_region_spreads_over_fcms() {
    let m = machine(2, 64);
    let _c = m.rt.enter(0).unwrap();
    let s = m.space(true);
    s.map_anon(
        VA,
        8 * P,
        Prot::RW,
        MapOptions {
            kind: RegionKind::Partitioned(4),
            ..Default::default()
        },
    )
    .unwrap();
    for i in 0..8u8 {
        s.write(VA + i as u64 * P, &page(i)).unwrap();
    }
    let infos = s.fcm_info(VA).unwrap();
    assert_eq!(infos.len(), 4);
    assert!(infos.iter().all(|i| i.resident == 2));
    for i in 0..8u8 {
        let mut b = page(0xFF);
        s.read(VA + i as u64 * P, &mut b).unwrap();
        assert_eq!(b, page(i));
    }
    assert!(matches!(s.unmap(VA, P), Err(MmError::Invalid(_))));
    let child = s.fork(m.hat(), Arc::new(NullDispatcher)).unwrap();
    let mut b = page(0);
    child.read(VA + 7 * P, &mut b).unwrap();
    assert_eq!(b, page(7));
    child.destroy().unwrap();
    s.destroy().unwrap();
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

#[test]
fn policy_swap_keeps_pages() {
    let m = machine(2, 64);
    let _c = m.rt.enter(0).unwrap();
    let s = m.space(false);
    s.map_anon(VA, 4 * P, Prot::RW, MapOptions::default())
        .unwrap();
    for i in 0..4u8 {
        s.write(VA + i as u64 * P, &page(i + 10)).unwrap();
    }
    assert_eq!(s.fcm_info(VA).unwrap()[0].policy, "fifo");
    s.swap_policy(VA, PolicyKind::Clock).unwrap();
    let info = s.fcm_info(VA).unwrap()[0];
    assert_eq!((info.policy, info.resident), ("clock", 4));
    for i in 0..4u8 {
        let mut b = page(0);
        s.read(VA + i as u64 * P, &mut b).unwrap();
        assert_eq!(b, page(i + 10));
    }
    assert_eq!(s.charged().unwrap(), 4, "no page was refaulted or copied");
    s.swap_policy(VA, PolicyKind::Fifo).unwrap();
    assert_eq!(s.fcm_info(VA).unwrap()[0].policy, "fifo");
    s.destroy().unwrap();
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

#[test]
fn accounting_and_objects_return_to_baseline() {
    let m = machine(2, 256);
    let baseline = m.rt.live_objects();
    {
        let _c = m.rt.enter(0).unwrap();
        for round in 0..3 {
            let a = m.space(round % 2 == 1);
            a.map_anon(VA, 8 * P, Prot::RW, MapOptions::default())
                .unwrap();
            a.map_anon(
                VA + 64 * P,
                4 * P,
                Prot::RW,
                MapOptions {
                    kind: RegionKind::PerCpu,
                    ..Default::default()
                },
            )
            .unwrap();
            for i in 0..8 {
                a.write(VA + i * P, b"data").unwrap();
            }
            a.write(VA + 64 * P, b"percpu").unwrap();
            let b = a.fork(m.hat(), Arc::new(NullDispatcher)).unwrap();
            b.write(VA, b"copy").unwrap();
            let c = b.fork(m.hat(), Arc::new(NullDispatcher)).unwrap();
            c.write(VA + P, b"copy").unwrap();
            a.unmap(VA + 2 * P, 2 * P).unwrap();
            b.destroy().unwrap();
            a.destroy().unwrap();
            c.destroy().unwrap();
            assert_eq!(m.mm.frames_in_use().unwrap(), 0);
        }
    }
    assert_eq!(m.frames_free(), 256);
    // Destruction cascades (Process -> Region -> FCM -> FR, PM), one
    // quiescent period per level.
    for _ in 0..8 {
        m.rt.synchronize().unwrap();
    }
    assert_eq!(m.rt.live_objects(), baseline, "every object was destroyed");
}

#[test]
fn policies_choose_victims() {
    use mm::fcm::{Presence, Probe};
    struct P2 {
        referenced: Vec<u64>,
    }
    impl Probe for P2 {
        fn presence(&mut self, _: u64) -> Presence {
            Presence::Present
        }
        fn referenced(&mut self, u: u64) -> bool {
            let was = self.referenced.contains(&u);
            self.referenced.retain(|x| *x != u);
            was
        }
    }
    let mut fifo = Fifo::new();
    let mut clock = Clock::new();
    for u in 0..3 {
        fifo.inserted(u);
        clock.inserted(u);
    }
    let mut probe = P2 {
        referenced: vec![0],
    };
    assert_eq!(fifo.victim(&mut probe), Some(0), "FIFO ignores references");
    let mut probe = P2 {
        referenced: vec![0, 1],
    };
    assert_eq!(
        clock.victim(&mut probe),
        Some(2),
        "clock gives 0 and 1 a second chance"
    );
    assert_eq!(
        clock.victim(&mut probe),
        Some(0),
        "their bits are now clear"
    );
    assert_eq!(Pinned::new().victim(&mut probe), None);
}

/// Found by the property test: a piece split off a region starts at the
/// same address as the region; detaching the old region must not detach
/// the piece too (which released the child's FCM and lost its data).
#[test]
fn unmap_tail_of_forked_region_keeps_head() {
    let m = machine(1, 64);
    let _c = m.rt.enter(0).unwrap();
    let a = m.space(false);
    a.map_anon(VA, 3 * P, Prot::RW, MapOptions::default())
        .unwrap();
    a.write(VA, &[1]).unwrap();
    let b = a.fork(m.hat(), Arc::new(NullDispatcher)).unwrap();
    b.unmap(VA + P, 2 * P).unwrap();
    let mut x = [0u8];
    b.read(VA, &mut x).unwrap();
    assert_eq!(x, [1]);
    assert_eq!(b.fcm_info(VA).unwrap()[0].users, 1);
    a.destroy().unwrap();
    b.read(VA, &mut x).unwrap();
    assert_eq!(x, [1]);
    b.destroy().unwrap();
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

#[test]
fn per_processor_pages_survive_eviction() {
    let m = machine(2, 64);
    let s = {
        let _c = m.rt.enter(0).unwrap();
        let s = m.space(false);
        s.map_anon(
            VA,
            4 * P,
            Prot::RW,
            MapOptions {
                kind: RegionKind::PerCpu,
                policy: PolicyKind::Clock,
                ..Default::default()
            },
        )
        .unwrap();
        s
    };
    std::thread::scope(|t| {
        for cpu in 0..2u8 {
            let (s, m) = (&s, &m);
            t.spawn(move || {
                let _c = m.rt.enter(cpu as usize).unwrap();
                for i in 0..4u8 {
                    s.write(VA + i as u64 * P, &page(16 * cpu + i)).unwrap();
                }
            });
        }
    });
    {
        let _c = m.rt.enter(0).unwrap();
        assert_eq!(m.mm.reclaim(8).unwrap(), 8, "every page evicted");
        assert_eq!(s.charged().unwrap(), 0);
        assert!(
            s.hat().query(VA, Scope::Cpu(1)).is_none(),
            "processor 1's translation went too"
        );
    }
    std::thread::scope(|t| {
        for cpu in 0..2u8 {
            let (s, m) = (&s, &m);
            t.spawn(move || {
                let _c = m.rt.enter(cpu as usize).unwrap();
                for i in 0..4u8 {
                    let mut b = page(0xFF);
                    s.read(VA + i as u64 * P, &mut b).unwrap();
                    assert_eq!(b, page(16 * cpu + i), "cpu {cpu} page {i}");
                }
            });
        }
    });
    let _c = m.rt.enter(0).unwrap();
    s.destroy().unwrap();
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

#[test]
fn private_file_mapping_is_copy_on_write() {
    let m = machine(1, 64);
    let _c = m.rt.enter(0).unwrap();
    let data: Vec<u8> = (0..2 * PAGE_SIZE).map(|i| (i % 241) as u8).collect();
    let file = MemFile::new(data.clone(), false);
    let f = m.mm.open_file(file.clone(), PolicyKind::Fifo).unwrap();
    let a = m.space(false);
    let b = m.space(false);
    a.map_file_private(VA, 2 * P, Prot::RW, &f, 0).unwrap();
    b.map_file(VA, 2 * P, Prot::RW, &f, 0).unwrap();
    let mut buf = vec![0u8; 16];
    a.read(VA + P, &mut buf).unwrap();
    assert_eq!(buf, data[PAGE_SIZE..PAGE_SIZE + 16]);
    a.write(VA, b"private").unwrap();
    b.read(VA, &mut buf).unwrap();
    assert_eq!(
        buf,
        data[..16],
        "the shared mapping does not see the private store"
    );
    b.write(VA + P, b"shared!").unwrap();
    a.read(VA, &mut buf[..7]).unwrap();
    assert_eq!(&buf[..7], b"private");
    // A fork of the private mapping copies on write again.
    let c = a.fork(m.hat(), Arc::new(NullDispatcher)).unwrap();
    c.read(VA, &mut buf[..7]).unwrap();
    assert_eq!(&buf[..7], b"private");
    c.write(VA, b"child").unwrap();
    a.read(VA, &mut buf[..7]).unwrap();
    assert_eq!(&buf[..7], b"private");
    c.destroy().unwrap();
    a.destroy().unwrap();
    b.destroy().unwrap();
    assert_eq!(
        &file.contents()[..7],
        &data[..7],
        "private stores never reach the file"
    );
    assert_eq!(&file.contents()[PAGE_SIZE..PAGE_SIZE + 7], b"shared!");
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

#[test]
fn private_file_mapping_out_of_core() {
    let m = machine(1, 64);
    let _c = m.rt.enter(0).unwrap();
    let disp = Arc::new(RecordingDispatcher::default());
    let s = m.mm.create_space(m.hat(), disp.clone(), false).unwrap();
    let file = MemFile::new(b"on disk".to_vec(), true);
    let f = m.mm.open_file(file.clone(), PolicyKind::Clock).unwrap();
    s.map_file_private(VA, P, Prot::RW, &f, 0).unwrap();
    let mut buf = [0u8; 7];
    let Err(MmError::Pending(io)) = s.write(VA, b"x") else {
        panic!("expected pending")
    };
    assert_eq!(disp.events(), vec![DispatcherEvent::Pending(io, VA)]);
    assert_eq!(
        s.charged().unwrap(),
        0,
        "the private frame was given back while waiting"
    );
    file.complete_all();
    assert!(disp.events().contains(&DispatcherEvent::Done(io, true)));
    s.write(VA, b"O").unwrap();
    s.read(VA, &mut buf).unwrap();
    assert_eq!(&buf, b"On disk");
    s.destroy().unwrap();
    assert_eq!(
        file.contents(),
        b"on disk"
            .iter()
            .copied()
            .chain(std::iter::repeat_n(0, PAGE_SIZE - 7))
            .collect::<Vec<_>>()
    );
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

#[test]
fn faults_are_traced() {
    use std::sync::Mutex;
    #[derive(Default)]
    struct Rec(Mutex<Vec<(usize, u64, Access, bool)>>);
    impl FaultTrace for Rec {
        fn fault(&self, cpu: CpuId, va: u64, access: Access, result: &Result<Resolved, MmError>) {
            self.0
                .lock()
                .unwrap()
                .push((cpu, va, access, result.is_ok()));
        }
    }
    let mut m = machine(1, 16);
    let rec = Arc::new(Rec::default());
    m.mm.set_tracer(rec.clone());
    let _c = m.rt.enter(0).unwrap();
    let s = m.space(false);
    s.map_anon(VA, P, Prot::R, MapOptions::default()).unwrap();
    let mut b = [0u8; 1];
    s.read(VA + 3, &mut b).unwrap();
    s.read(VA + 4, &mut b).unwrap(); // no fault: the translation is there
    assert!(s.write(VA, b"x").is_err());
    let ev = rec.0.lock().unwrap().clone();
    assert_eq!(
        ev,
        vec![
            (0, VA + 3, Access::Read, true),
            (0, VA, Access::Write, false)
        ]
    );
    s.destroy().unwrap();
}

#[test]
fn soft_hat_rejects_unknown_processors() {
    let hat = SoftHat::new(2);
    assert!(matches!(
        hat.map(0x1000, Pfn(1), Prot::RW, false, Scope::Cpu(5)),
        Err(MmError::Invalid(_))
    ));
    assert!(matches!(
        hat.map(0x1001, Pfn(1), Prot::RW, false, Scope::All),
        Err(MmError::Invalid(_))
    ));
    hat.map(0x1000, Pfn(1), Prot::RW, false, Scope::All)
        .unwrap();
    assert_eq!(hat.access(7, 0x1000, Access::Read, |t| t.pfn), None);
    assert_eq!(hat.access(700, 0x1000, Access::Read, |t| t.pfn), None);
    hat.activate(70);
    assert_eq!(hat.ran_on(), 0);
    assert_eq!(
        hat.access(1, 0x1008, Access::Write, |t| (t.pfn, t.offset)),
        Some((Pfn(1), 8))
    );
    assert_eq!(hat.ran_on(), 0b10);
    assert!(hat.query(0x1000, Scope::All).unwrap().dirty);
    assert_eq!(hat.invalidations(9), 0);
}

#[test]
fn sole_survivor_adopts_frozen_pages_without_copying() {
    let m = machine(1, 64);
    let _c = m.rt.enter(0).unwrap();
    let parent = m.space(false);
    parent
        .map_anon(VA, 4 * P, Prot::RW, MapOptions::default())
        .unwrap();
    for i in 0..4u8 {
        parent.write(VA + i as u64 * P, &page(i + 1)).unwrap();
    }
    let child = parent.fork(m.hat(), Arc::new(NullDispatcher)).unwrap();
    child.write(VA, &page(9)).unwrap();
    assert_eq!(m.mm.frames_in_use().unwrap(), 5);
    child.destroy().unwrap(); // fork + exit (or exec)
    assert_eq!(m.mm.frames_in_use().unwrap(), 4);
    // The parent's stores now take the frozen frames over instead of copying.
    for i in 0..4u8 {
        parent.write(VA + i as u64 * P, &[0xEE]).unwrap();
    }
    assert_eq!(m.mm.frames_in_use().unwrap(), 4, "no copy was made");
    assert_eq!(parent.charged().unwrap(), 4);
    let mut b = page(0);
    parent.read(VA + 2 * P, &mut b).unwrap();
    let mut want = page(3);
    want[0] = 0xEE;
    assert_eq!(b, want);
    parent.destroy().unwrap();
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

#[test]
fn shared_memory_is_mapped_in_a_second_space() {
    both(|rep| {
        let m = machine(2, 128);
        let _c = m.rt.enter(0).unwrap();
        let a = m.space(rep);
        let b = m.space(rep);
        let shared = MapOptions {
            shared: true,
            ..Default::default()
        };
        a.map_anon(VA, 16 * P, Prot::RW, shared).unwrap();
        a.write(VA + 4 * P, b"from a").unwrap();
        // Four pages from the fourth, elsewhere in b.
        b.map_shared_from(VA + 100 * P, &a, VA + 4 * P, 4 * P, Prot::RW)
            .unwrap();
        let mut buf = [0u8; 6];
        b.read(VA + 100 * P, &mut buf).unwrap();
        assert_eq!(&buf, b"from a");
        b.write(VA + 103 * P, b"from b").unwrap();
        a.read(VA + 7 * P, &mut buf).unwrap();
        assert_eq!(&buf, b"from b");
        assert_eq!(
            b.region_at(VA + 101 * P).unwrap().offset,
            4 * P,
            "the region maps the FCM from its fourth page"
        );
        // A mapping never gets more than its grant.
        b.map_shared_from(VA + 300 * P, &a, VA, P, Prot::R).unwrap();
        assert_eq!(
            b.protect(VA + 300 * P, P, Prot::RW),
            Err(MmError::Protection(VA + 300 * P))
        );
        b.protect(VA + 300 * P, P, Prot::NONE).unwrap();
        b.protect(VA + 300 * P, P, Prot::R).unwrap();
        assert!(b.write(VA + 300 * P, b"x").is_err());
        b.unmap(VA + 300 * P, P).unwrap();
        // Private memory, ranges outside the region, overlaps: refused.
        a.map_anon(VA + 64 * P, P, Prot::RW, MapOptions::default())
            .unwrap();
        let bad = [
            b.map_shared_from(VA + 200 * P, &a, VA + 64 * P, P, Prot::RW),
            b.map_shared_from(VA + 200 * P, &a, VA + 14 * P, 4 * P, Prot::RW),
            b.map_shared_from(VA + 200 * P, &a, VA + 32 * P, P, Prot::RW),
            b.map_shared_from(VA + 102 * P, &a, VA, P, Prot::RW),
            b.map_shared_from(VA + 200 * P + 1, &a, VA, P, Prot::RW),
        ];
        assert!(bad.iter().all(|r| r.is_err()), "{bad:?}");
        // The pages outlive the space that made them, and go with the last.
        a.destroy().unwrap();
        b.read(VA + 103 * P, &mut buf).unwrap();
        assert_eq!(&buf, b"from b");
        b.destroy().unwrap();
        assert_eq!(m.mm.frames_in_use().unwrap(), 0);
    });
}

/// A file server's file in shared memory (`map_shared_from`,
/// `map_private_from`, `set_shared_end`): the semantics of Linux file
/// mappings over it.
#[test]
fn file_in_shared_memory_private_views_and_its_end() {
    both(|rep| {
        let m = machine(2, 128);
        let _c = m.rt.enter(0).unwrap();
        let server = m.space(rep);
        let client = m.space(rep);
        let shared = MapOptions {
            shared: true,
            ..Default::default()
        };
        // The server's window for the file: 16 pages, the file 2 of them.
        server.map_anon(VA, 16 * P, Prot::RW, shared).unwrap();
        server.set_shared_end(VA, Some(2 * P - 100)).unwrap();
        server.write(VA + P, b"abc").unwrap();
        client
            .map_shared_from(VA + 64 * P, &server, VA, 4 * P, Prot::RW)
            .unwrap();
        client
            .map_private_from(VA + 128 * P, &server, VA, 4 * P, Prot::RW)
            .unwrap();
        let mut b = [0u8; 3];
        // A page nobody wrote: zeros, copied without entering the file.
        client.read(VA + 128 * P, &mut b).unwrap();
        assert_eq!(b, [0; 3]);
        // Shared stores reach the private view until it touches the page.
        client.write(VA + 64 * P + P + 1, b"S").unwrap();
        client.read(VA + 128 * P + P, &mut b).unwrap();
        assert_eq!(&b, b"aSc");
        client.write(VA + 128 * P + P, b"P").unwrap();
        server.write(VA + P + 2, b"Q").unwrap();
        client.read(VA + 128 * P + P, &mut b).unwrap();
        assert_eq!(&b, b"PSc", "the private copy keeps its own page");
        server.read(VA + P, &mut b).unwrap();
        assert_eq!(&b, b"aSQ", "private stores never reach the file");
        // Past the end: refused for everyone, in every view.
        assert_eq!(
            client.read(VA + 64 * P + 2 * P, &mut b),
            Err(MmError::BadAddress(VA + 66 * P))
        );
        assert!(client.read(VA + 128 * P + 3 * P, &mut b).is_err());
        assert!(server.write(VA + 2 * P, b"x").is_err());
        // Shrinking takes the pages away from every mapping.
        let before = m.mm.frames_in_use().unwrap();
        assert_eq!(server.set_shared_end(VA, Some(10)).unwrap(), 1);
        assert_eq!(m.mm.frames_in_use().unwrap(), before - 1);
        assert!(client.read(VA + 64 * P + P, &mut b).is_err());
        assert!(server.read(VA + P, &mut b).is_err());
        client.read(VA + 64 * P, &mut b).unwrap();
        // Growing again: a fresh, zeroed page.
        server.set_shared_end(VA, Some(2 * P)).unwrap();
        client.read(VA + 64 * P + P, &mut b).unwrap();
        assert_eq!(b, [0; 3]);
        // Only at the start of a shared default region.
        assert!(server.set_shared_end(VA + P, Some(1)).is_err());
        assert!(client.set_shared_end(VA + 128 * P, Some(1)).is_err());
        // Private views of private memory are refused.
        server
            .map_anon(VA + 32 * P, P, Prot::RW, MapOptions::default())
            .unwrap();
        assert!(client
            .map_private_from(VA + 200 * P, &server, VA + 32 * P, P, Prot::RW)
            .is_err());
        // The file outlives the server's window while a view maps it.
        server.destroy().unwrap();
        client.read(VA + 64 * P + 1, &mut b).unwrap();
        client.destroy().unwrap();
        assert_eq!(m.mm.frames_in_use().unwrap(), 0);
    });
}

/// A private view reads the file's own frame until it writes the page
/// (Linux `MAP_PRIVATE`): later stores to the file show through it, a
/// truncation takes the page away from it too, and a view of a file read
/// from its server waits for the read like any fault.
#[test]
fn private_views_follow_the_file_until_they_write() {
    both(|rep| {
        let m = machine(2, 128);
        let _c = m.rt.enter(0).unwrap();
        let server = m.space(rep);
        let client = m.space(rep);
        let shared = MapOptions {
            shared: true,
            ..Default::default()
        };
        server.map_anon(VA, 16 * P, Prot::RW, shared).unwrap();
        server.set_shared_end(VA, Some(3 * P)).unwrap();
        server.write(VA + P, b"one").unwrap();
        client
            .map_private_from(VA + 64 * P, &server, VA, 3 * P, Prot::RW)
            .unwrap();
        let mut b = [0u8; 3];
        client.read(VA + 64 * P + P, &mut b).unwrap();
        assert_eq!(&b, b"one");
        assert_eq!(client.charged().unwrap(), 0, "read: the file's frame");
        server.write(VA + P, b"two").unwrap();
        client.read(VA + 64 * P + P, &mut b).unwrap();
        assert_eq!(&b, b"two", "a page only read follows the file");
        // A page never written anywhere: the view's read makes it the
        // file's (zeros), and the file's later store shows.
        client.read(VA + 64 * P + 2 * P, &mut b).unwrap();
        server.write(VA + 2 * P, b"new").unwrap();
        client.read(VA + 64 * P + 2 * P, &mut b).unwrap();
        assert_eq!(&b, b"new");
        client.write(VA + 64 * P + P, b"T").unwrap();
        assert_eq!(client.charged().unwrap(), 1, "written: its own copy");
        server.write(VA + P, b"333").unwrap();
        client.read(VA + 64 * P + P, &mut b).unwrap();
        assert_eq!(&b, b"Two");
        // Truncation: the page only read is gone from the view too.
        server.set_shared_end(VA, Some(2 * P)).unwrap();
        assert!(client.read(VA + 64 * P + 2 * P, &mut b).is_err());
        // Unmapping the view, then the server: nothing left.
        client.unmap(VA + 64 * P, 3 * P).unwrap();
        server.write(VA, b"after").unwrap();
        client.destroy().unwrap();
        server.destroy().unwrap();
        assert_eq!(m.mm.frames_in_use().unwrap(), 0);
    });
    // A file whose server answers later.
    let m = machine(1, 64);
    let _c = m.rt.enter(0).unwrap();
    let disp = Arc::new(RecordingDispatcher::default());
    let s = m.mm.create_space(m.hat(), disp.clone(), false).unwrap();
    let file = MemFile::new(b"on disk".to_vec(), true);
    let f = m.mm.open_file(file.clone(), PolicyKind::Fifo).unwrap();
    s.map_file_private(VA, P, Prot::RW, &f, 0).unwrap();
    let mut buf = [0u8; 7];
    let Err(MmError::Pending(io)) = s.read(VA, &mut buf) else {
        panic!("expected pending")
    };
    assert_eq!(file.complete_all(), 1);
    assert!(disp.events().contains(&DispatcherEvent::Done(io, true)));
    s.read(VA, &mut buf).unwrap();
    assert_eq!(&buf, b"on disk");
    assert_eq!(s.charged().unwrap(), 0);
    s.destroy().unwrap();
    drop(f);
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
}

#[test]
fn frames_come_from_per_processor_caches_in_batches() {
    let m = machine(2, 256);
    let _c = m.rt.enter(0).unwrap();
    let s = m.space(false);
    s.map_anon(VA, 100 * P, Prot::RW, MapOptions::default())
        .unwrap();
    let before = m.frames.source_calls();
    for k in 0..100 {
        s.write(VA + k * P, &[1]).unwrap();
    }
    let calls = m.frames.source_calls() - before;
    assert!(
        calls <= 100usize.div_ceil(pm::FRAME_BATCH),
        "100 faults took the source's lock {calls} times"
    );
    assert_eq!(m.mm.frames_in_use().unwrap(), 100);
    s.destroy().unwrap();
    // Nothing is lost: each frame is in use, cached, or free at the source.
    assert_eq!(m.mm.frames_in_use().unwrap(), 0);
    let cached = m.mm.frames_cached().unwrap();
    assert!(
        cached <= 2 * pm::FRAME_BATCH,
        "a full cache gives a batch back"
    );
    assert_eq!(m.frames.free_count() + cached, 256);
    assert_eq!(m.mm.drain_frame_caches().unwrap(), cached);
    assert_eq!(m.frames_free(), 256);
}

#[test]
fn an_empty_source_is_refilled_from_other_processors_caches() {
    let m = machine(2, 40);
    let s = {
        let _c = m.rt.enter(0).unwrap();
        let s = m.space(false);
        s.map_anon(VA, 40 * P, Prot::RW, MapOptions::default())
            .unwrap();
        s
    };
    {
        // Processor 0 takes a batch (32) for its first fault.
        let _c = m.rt.enter(0).unwrap();
        s.write(VA, &[1]).unwrap();
        assert_eq!(m.mm.frames_cached().unwrap(), pm::FRAME_BATCH - 1);
        assert_eq!(m.frames.free_count(), 40 - pm::FRAME_BATCH);
    }
    {
        // Processor 1: 8 from the source, the rest from 0's cache.
        let _c = m.rt.enter(1).unwrap();
        for k in 1..40 {
            s.write(VA + k * P, &[k as u8]).unwrap();
        }
        assert_eq!(m.mm.frames_in_use().unwrap(), 40);
        assert_eq!(m.mm.frames_cached().unwrap(), 0);
        assert_eq!(
            s.write(VA + 40 * P, &[1]),
            Err(MmError::BadAddress(VA + 40 * P))
        );
        let mut b = [0u8];
        s.read(VA + 39 * P, &mut b).unwrap();
        assert_eq!(b[0], 39);
    }
    let _c = m.rt.enter(0).unwrap();
    s.destroy().unwrap();
    m.mm.drain_frame_caches().unwrap();
    assert_eq!(m.frames_free(), 40);
}

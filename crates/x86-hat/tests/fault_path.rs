//! `mm`'s fault path over the x86 HAT: the objects decide, the page
//! tables show it.

use std::sync::Arc;

use cobj::{hosted::Hosted, Config, Runtime};
use mm::{Hat, MapOptions, Mm, NullDispatcher, Prot, RegionKind, Scope, SimFrames};
use x86_hat::{hosted::HostTables, X86Hat};

type Space = mm::AddressSpace<Hosted, X86Hat<HostTables>>;

fn setup(cpus: usize) -> (&'static Runtime<Hosted>, &'static HostTables, Mm<Hosted>) {
    let rt: &'static Runtime<Hosted> = Box::leak(Box::new(
        Runtime::new(Hosted::new(cpus).unwrap(), Config::default()).unwrap(),
    ));
    let t: &'static HostTables = Box::leak(Box::new(HostTables::new(cpus)));
    let mm = Mm::new(rt, Arc::new(SimFrames::new(2048))).unwrap();
    (rt, t, mm)
}

fn space(mm: &Mm<Hosted>, t: &'static HostTables) -> Space {
    mm.create_space(
        Arc::new(X86Hat::new(t).unwrap()),
        Arc::new(NullDispatcher),
        false,
    )
    .unwrap()
}

#[test]
fn zero_fill_cow_fork_and_no_leaks() {
    let (rt, t, mm) = setup(2);
    let _cpu = rt.enter(0).unwrap();
    let parent = space(&mm, t);
    parent
        .map_anon(0x40_0000, 0x4000, Prot::RW, MapOptions::default())
        .unwrap();
    let mut b = [1u8; 4];
    parent.read(0x40_2000, &mut b).unwrap();
    assert_eq!(b, [0; 4], "zero fill");
    parent.write(0x40_0010, b"data").unwrap();
    let pte = parent.hat().query(0x40_0000, Scope::All).unwrap();
    assert!(pte.prot.write && pte.dirty);

    let child = parent
        .fork(Arc::new(X86Hat::new(t).unwrap()), Arc::new(NullDispatcher))
        .unwrap();
    child.read(0x40_0010, &mut b).unwrap();
    assert_eq!(&b, b"data");
    // Both map the same frame read-only until one of them writes.
    let (p, c) = (
        parent.hat().query(0x40_0000, Scope::All),
        child.hat().query(0x40_0000, Scope::All).unwrap(),
    );
    assert!(!c.prot.write);
    if let Some(p) = p {
        assert!(
            !p.prot.write,
            "the parent's write right must be gone after fork"
        );
    }
    child.write(0x40_0010, b"DATA").unwrap();
    let c2 = child.hat().query(0x40_0000, Scope::All).unwrap();
    assert!(c2.prot.write && c2.pfn != c.pfn, "copied on write");
    parent.read(0x40_0010, &mut b).unwrap();
    assert_eq!(&b, b"data");
    assert!(parent.read(0x10, &mut b).is_err());
    child.destroy().unwrap();
    parent.destroy().unwrap();
    assert_eq!(mm.frames_in_use().unwrap(), 0);
    // The Regions holding the HATs go after a quiescent period.
    rt.synchronize().unwrap();
    assert_eq!(t.live_tables(), 0, "page tables freed with their spaces");
}

#[test]
fn per_processor_region_and_large_pages() {
    let (rt, t, mm) = setup(2);
    let s = {
        let _cpu = rt.enter(0).unwrap();
        space(&mm, t)
    };
    let va = 0x7f00_0000_0000u64;
    {
        let _cpu = rt.enter(0).unwrap();
        s.map_anon(
            va,
            0x1000,
            Prot::RW,
            MapOptions {
                kind: RegionKind::PerCpu,
                ..MapOptions::default()
            },
        )
        .unwrap();
        s.write(va, b"zero").unwrap();
        s.map_anon(
            0x4000_0000,
            2 << 20,
            Prot::RW,
            MapOptions {
                large: true,
                ..MapOptions::default()
            },
        )
        .unwrap();
        s.write(0x4000_0000 + 0x1234, b"big").unwrap();
        assert!(s.hat().query(0x4000_0000, Scope::All).unwrap().large);
    }
    {
        let _cpu = rt.enter(1).unwrap();
        let mut b = [9u8; 4];
        s.read(va, &mut b).unwrap();
        assert_eq!(b, [0; 4], "processor 1 has its own page");
        s.write(va, b"one!").unwrap();
        let mut big = [0u8; 3];
        s.read(0x4000_0000 + 0x1234, &mut big).unwrap();
        assert_eq!(&big, b"big");
    }
    let f0 = s.hat().query(va, Scope::Cpu(0)).unwrap().pfn;
    let f1 = s.hat().query(va, Scope::Cpu(1)).unwrap().pfn;
    assert_ne!(f0, f1);
    let _cpu = rt.enter(0).unwrap();
    let mut b = [0u8; 4];
    s.read(va, &mut b).unwrap();
    assert_eq!(&b, b"zero");
    s.destroy().unwrap();
    assert_eq!(mm.frames_in_use().unwrap(), 0);
    rt.synchronize().unwrap();
    assert_eq!(t.live_tables(), 0);
}

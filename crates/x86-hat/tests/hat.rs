//! The HAT on its own: encodings, scopes, segments, shootdowns, leaks,
//! and a property test against the software HAT of `mm`.

use mm::{Access, Hat, MmError, Pfn, Prot, Scope, SoftHat};
use proptest::prelude::*;
use x86_hat::hosted::{HostTables, KERNEL_ENTRY};
use x86_hat::{Entry, X86Hat};

fn tables(cpus: usize) -> &'static HostTables {
    Box::leak(Box::new(HostTables::new(cpus)))
}

/// Reads entry `i` of the table at `pa` (hosted: the address).
fn raw(pa: u64, i: usize) -> u64 {
    // SAFETY: hosted tables live at their "physical" address while the
    // HAT that owns them is alive (it is, in every caller).
    unsafe { (*(pa as *const [u64; 512]))[i] }
}

#[test]
fn entries_are_what_the_mmu_expects() -> Result<(), MmError> {
    let t = tables(1);
    let hat = X86Hat::new(t)?;
    let va = 0x7f12_3456_7000u64;
    hat.map(va, Pfn(0xabc), Prot::RW, false, Scope::All)?;
    let root = hat.root(0)?;
    // The kernel half is copied in; the user half walks down to our leaf.
    assert_eq!(raw(root, 256), KERNEL_ENTRY);
    assert_eq!(raw(root, 511), KERNEL_ENTRY);
    let mut table = root;
    for level in (2..=4u32).rev() {
        let e = Entry(raw(table, ((va >> (12 + 9 * (level - 1))) & 511) as usize));
        assert!(e.present() && e.0 & Entry::USER != 0 && e.0 & Entry::WRITABLE != 0);
        table = e.addr();
    }
    let leaf = Entry(raw(table, ((va >> 12) & 511) as usize));
    assert_eq!(leaf, Entry::leaf(Pfn(0xabc), Prot::RW, false));
    assert_eq!(t.live_tables(), 5); // master, cpu0's PML4, PDPT, PD, PT
    Ok(())
}

#[test]
fn translate_checks_rights_and_sets_accessed_dirty() -> Result<(), MmError> {
    let hat = X86Hat::new(tables(1))?;
    hat.map(0x1000, Pfn(3), Prot::R, false, Scope::All)?;
    hat.root(0)?;
    assert_eq!(hat.translate(0, 0x1008, Access::Read), Some((Pfn(3), 8)));
    assert_eq!(hat.translate(0, 0x1008, Access::Write), None);
    assert_eq!(hat.translate(0, 0x1008, Access::Exec), None);
    let p = hat.query(0x1000, Scope::All).unwrap();
    assert!(p.accessed && !p.dirty);
    assert!(hat.protect(0x1000, Prot::RW, Scope::All));
    assert!(hat.translate(0, 0x1000, Access::Write).is_some());
    let p = hat.query(0x1000, Scope::All).unwrap();
    assert!(p.dirty && p.prot == Prot::RW);
    assert!(hat.take_accessed(0x1000, Scope::All));
    assert!(!hat.take_accessed(0x1000, Scope::All));
    Ok(())
}

#[test]
fn large_pages_and_conflicts() -> Result<(), MmError> {
    let t = tables(1);
    let hat = X86Hat::new(t)?;
    hat.map(0x4000_0000, Pfn(512), Prot::RW, true, Scope::All)?;
    hat.root(0)?;
    assert_eq!(
        hat.translate(0, 0x4000_0000 + 0x12_3456, Access::Read),
        Some((Pfn(512 + 0x123), 0x456))
    );
    let q = hat.query(0x4010_0000, Scope::All).unwrap();
    assert!(q.large && q.pfn == Pfn(512));
    // No 4 KiB page inside it; no large page over live small pages.
    assert!(hat
        .map(0x4000_1000, Pfn(1), Prot::RW, false, Scope::All)
        .is_err());
    hat.map(0x4020_0000, Pfn(9), Prot::RW, false, Scope::All)?;
    assert!(hat
        .map(0x4020_0000, Pfn(1024), Prot::RW, true, Scope::All)
        .is_err());
    // An emptied table gives way to a large page.
    hat.unmap(0x4020_0000, Scope::All);
    hat.map(0x4020_0000, Pfn(1024), Prot::RW, true, Scope::All)?;
    assert!(hat
        .map(0x4000_0000 + 4096, Pfn(0), Prot::R, true, Scope::All)
        .is_err());
    let pte = hat.unmap(0x4000_0000 + 0x5000, Scope::All).unwrap();
    assert!(pte.large && pte.pfn == Pfn(512));
    assert_eq!(hat.query(0x4000_0000, Scope::All), None);
    drop(hat);
    assert_eq!(t.live_tables(), 0);
    Ok(())
}

#[test]
fn a_table_given_way_to_a_large_page_comes_back_instead_of_a_new_one() -> Result<(), MmError> {
    let t = tables(1);
    let hat = X86Hat::new(t)?;
    let va = 0x4020_0000;
    hat.map(va, Pfn(9), Prot::RW, false, Scope::All)?;
    let tables_with_pt = t.live_tables();
    for round in 0..50u64 {
        // 4 KiB page out, large page in (the table is retired), large
        // page out, 4 KiB page in (the retired table is reused).
        hat.unmap(va, Scope::All);
        hat.map(va, Pfn(1024), Prot::RW, true, Scope::All)?;
        assert!(hat.query(va + 0x1000, Scope::All).unwrap().large);
        hat.unmap(va, Scope::All);
        hat.map(va + 0x1000, Pfn(round), Prot::R, false, Scope::All)?;
        let q = hat.query(va + 0x1000, Scope::All).unwrap();
        assert!(!q.large && q.pfn == Pfn(round));
        assert_eq!(hat.query(va, Scope::All), None, "nothing left from before");
        hat.unmap(va + 0x1000, Scope::All);
        hat.map(va, Pfn(9), Prot::RW, false, Scope::All)?;
        assert_eq!(t.live_tables(), tables_with_pt, "round {round}");
    }
    drop(hat);
    assert_eq!(t.live_tables(), 0);
    Ok(())
}

#[test]
fn walks_race_with_tables_made_and_retired() -> Result<(), MmError> {
    // Four threads share the PDPT and the page directory: three map,
    // check and unmap 4 KiB pages in their own 2 MiB ranges (tables made
    // on the way, without a lock on the read side), one flips another
    // range between a page table and a 2 MiB page (tables retired).
    let t = tables(4);
    let hat = X86Hat::new(t)?;
    let base = 0x4000_0000u64;
    std::thread::scope(|s| {
        for k in 1..4u64 {
            let hat = &hat;
            s.spawn(move || {
                for round in 0..200u64 {
                    let va = base + k * 0x20_0000 + (round % 512) * 4096;
                    hat.map(va, Pfn(round + k * 1000), Prot::RW, false, Scope::All)
                        .unwrap();
                    let q = hat.query(va, Scope::All).unwrap();
                    assert_eq!(q.pfn, Pfn(round + k * 1000));
                    assert!(hat.unmap(va, Scope::All).is_some());
                }
            });
        }
        let hat = &hat;
        s.spawn(move || {
            for _ in 0..200 {
                hat.map(base, Pfn(1), Prot::RW, false, Scope::All).unwrap();
                hat.unmap(base, Scope::All);
                hat.map(base, Pfn(512), Prot::RW, true, Scope::All).unwrap();
                hat.unmap(base, Scope::All);
            }
        });
    });
    drop(hat);
    assert_eq!(t.live_tables(), 0);
    Ok(())
}

#[test]
fn per_processor_memory_differs_per_processor() -> Result<(), MmError> {
    let t = tables(2);
    let hat = X86Hat::new(t)?;
    let va = 0x7f00_0000_0000u64;
    hat.map(va, Pfn(10), Prot::RW, false, Scope::Cpu(0))?;
    hat.map(va, Pfn(11), Prot::RW, false, Scope::Cpu(1))?;
    hat.map(0x1000, Pfn(12), Prot::RW, false, Scope::All)?;
    assert_eq!(hat.translate(0, va, Access::Read), Some((Pfn(10), 0)));
    assert_eq!(hat.translate(1, va, Access::Read), Some((Pfn(11), 0)));
    // Global memory is the same on both, also when mapped after the roots.
    hat.map(0x7e00_0000_0000, Pfn(13), Prot::R, false, Scope::All)?;
    for cpu in 0..2 {
        assert_eq!(hat.translate(cpu, 0x1000, Access::Read), Some((Pfn(12), 0)));
        assert!(hat.translate(cpu, 0x7e00_0000_0000, Access::Read).is_some());
    }
    // One 512 GiB slot holds one kind.
    assert!(hat
        .map(va + 0x1000, Pfn(1), Prot::R, false, Scope::All)
        .is_err());
    assert!(hat
        .map(0x2000, Pfn(1), Prot::R, false, Scope::Cpu(0))
        .is_err());
    assert!(hat.map(va, Pfn(1), Prot::R, false, Scope::Cpu(2)).is_err());
    // A processor-scoped unmap shoots down that processor only.
    hat.activate(0);
    hat.activate(1);
    t.clear_shootdowns();
    hat.unmap(va, Scope::Cpu(1));
    assert_eq!(t.shootdowns(), vec![(0b10, va, 4096)]);
    Ok(())
}

#[test]
fn shootdowns_reach_only_processors_that_ran_the_space() -> Result<(), MmError> {
    let t = tables(4);
    let hat = X86Hat::new(t)?;
    hat.map(0x1000, Pfn(1), Prot::RW, false, Scope::All)?;
    hat.unmap(0x1000, Scope::All);
    assert!(t.shootdowns().is_empty(), "never ran: nothing to flush");
    hat.activate(2);
    hat.map(0x1000, Pfn(1), Prot::RW, false, Scope::All)?;
    hat.map(0x1000, Pfn(1), Prot::RW, false, Scope::All)?; // same: no flush
    assert!(hat.protect(0x1000, Prot::R, Scope::All)); // loses write: flush
    assert!(hat.protect(0x1000, Prot::RW, Scope::All)); // gains: none
    hat.map(0x1000, Pfn(2), Prot::RW, false, Scope::All)?; // moves: flush
    assert_eq!(
        t.shootdowns(),
        vec![(0b100, 0x1000, 4096), (0b100, 0x1000, 4096)]
    );
    Ok(())
}

#[test]
fn shared_segments_are_visible_in_both_spaces() -> Result<(), MmError> {
    let t = tables(4);
    let a = X86Hat::new(t)?;
    let b = X86Hat::new(t)?;
    let base = 0x6000_0000u64;
    b.share_segment(&a, base, 2 << 20)?;
    a.map(base + 0x3000, Pfn(42), Prot::RW, false, Scope::All)?;
    b.root(1)?;
    assert_eq!(
        b.translate(1, base + 0x3000, Access::Read),
        Some((Pfn(42), 0))
    );
    assert!(a.segment(base).unwrap().is_shared());
    b.map(base + 0x4000, Pfn(43), Prot::R, false, Scope::All)?;
    assert_eq!(a.query(base + 0x4000, Scope::All).unwrap().pfn, Pfn(43));
    // An unmap through either reaches the processors of both.
    a.activate(0);
    b.activate(1);
    t.clear_shootdowns();
    b.unmap(base + 0x3000, Scope::All);
    assert_eq!(t.shootdowns(), vec![(0b11, base + 0x3000, 4096)]);
    // Linking over a used range is refused; so is a bad size.
    assert!(b.share_segment(&a, base, 2 << 20).is_err());
    assert!(b.share_segment(&a, 0x1000, 4096).is_err());
    // A 1 GiB segment.
    b.share_segment(&a, 1 << 32, 1 << 30)?;
    a.map((1 << 32) + (5 << 21), Pfn(1024), Prot::RW, true, Scope::All)?;
    assert!(
        b.query((1 << 32) + (5 << 21) + 77, Scope::All)
            .unwrap()
            .large
    );
    // The segment outlives its creator; everything is freed at the end.
    drop(a);
    assert_eq!(b.query(base + 0x4000, Scope::All).unwrap().pfn, Pfn(43));
    t.clear_shootdowns();
    b.unmap(base + 0x4000, Scope::All);
    assert_eq!(t.shootdowns(), vec![(0b10, base + 0x4000, 4096)]);
    drop(b);
    assert_eq!(t.live_tables(), 0);
    Ok(())
}

#[test]
fn bad_addresses_are_errors() -> Result<(), MmError> {
    let hat = X86Hat::new(tables(1))?;
    assert!(hat
        .map(1 << 47, Pfn(1), Prot::R, false, Scope::All)
        .is_err());
    assert!(hat.map(0x1001, Pfn(1), Prot::R, false, Scope::All).is_err());
    assert!(hat.map(0x1000, Pfn(1), Prot::R, true, Scope::All).is_err());
    assert_eq!(hat.query(u64::MAX, Scope::All), None);
    assert_eq!(hat.unmap(0x5000, Scope::All), None);
    assert!(!hat.protect(0x5000, Prot::R, Scope::All));
    assert!(hat.root(1).is_err());
    Ok(())
}

#[derive(Clone, Debug)]
enum Op {
    Map(u64, u64, u8, bool, Option<usize>),
    Unmap(u64, Option<usize>),
    Protect(u64, u8, Option<usize>),
}

fn prot(p: u8) -> Prot {
    [Prot::R, Prot::RW, Prot::RX, Prot::NONE][p as usize % 4]
}

fn scope(s: Option<usize>) -> Scope {
    s.map_or(Scope::All, Scope::Cpu)
}

fn op() -> impl Strategy<Value = Op> {
    // Pages in two 2 MiB ranges of the global slot and one per-cpu slot.
    let va = prop_oneof![
        (0u64..8).prop_map(|p| 0x20_0000 + p * 4096),
        (0u64..8).prop_map(|p| 0x40_0000 + p * 4096),
        Just(0x40_0000u64),
    ];
    let cpu_va = (0u64..4).prop_map(|p| 0x7f00_0000_0000 + p * 4096);
    prop_oneof![
        (va.clone(), 0u64..100, 0u8..4, any::<bool>()).prop_map(|(v, f, p, l)| Op::Map(
            if l { v & !0x1f_ffff } else { v },
            if l { f * 512 } else { f },
            p,
            l,
            None
        )),
        (cpu_va.clone(), 0u64..100, 0u8..3, 0usize..2).prop_map(|(v, f, p, c)| Op::Map(
            v,
            f,
            p,
            false,
            Some(c)
        )),
        va.prop_map(|v| Op::Unmap(v, None)),
        (cpu_va.clone(), 0usize..2).prop_map(|(v, c)| Op::Unmap(v, Some(c))),
        (
            (0u64..8).prop_map(|p| 0x20_0000 + p * 4096),
            0u8..4,
            Just(None)
        )
            .prop_map(|(v, p, c)| Op::Protect(v, p, c)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    /// Random operations give the same translations as `mm`'s software
    /// HAT, wherever the x86 HAT accepted the operation.
    #[test]
    fn agrees_with_the_software_hat(ops in proptest::collection::vec(op(), 1..40)) {
        let t = tables(2);
        let x = X86Hat::new(t).unwrap();
        let soft = SoftHat::new(2);
        for o in &ops {
            match *o {
                Op::Map(va, f, p, large, s) => {
                    if x.map(va, Pfn(f), prot(p), large, scope(s)).is_ok() && prot(p) != Prot::NONE {
                        // SoftHat keeps 4 KiB and 2 MiB entries apart; make
                        // it match the x86 rule (one replaces the other).
                        if large {
                            for k in 0..512 { soft.unmap(va + k * 4096, scope(s)); }
                        } else {
                            soft.unmap(va, scope(s));
                        }
                        soft.map(va, Pfn(f), prot(p), large, scope(s)).unwrap();
                    } else if prot(p) == Prot::NONE {
                        soft.unmap(va, scope(s));
                    }
                }
                Op::Unmap(va, s) => {
                    let a = x.unmap(va, scope(s)).map(|p| (p.pfn, p.large));
                    let b = soft.unmap(va, scope(s)).map(|p| (p.pfn, p.large));
                    prop_assert_eq!(a, b);
                }
                Op::Protect(va, p, s) => {
                    let a = x.protect(va, prot(p), scope(s));
                    let b = if prot(p) == Prot::NONE {
                        soft.unmap(va, scope(s)).is_some()
                    } else {
                        soft.protect(va, prot(p), scope(s))
                    };
                    prop_assert_eq!(a, b);
                }
            }
            for va in (0..8).flat_map(|p| [0x20_0000 + p * 4096, 0x40_0000 + p * 4096]) {
                let a = x.query(va, Scope::All).map(|p| (p.pfn, p.prot, p.large));
                let b = soft.query(va, Scope::All).map(|p| (p.pfn, p.prot, p.large));
                prop_assert_eq!(a, b, "at {:#x} after {:?}", va, o);
            }
            for c in 0..2 {
                for va in (0..4).map(|p| 0x7f00_0000_0000 + p * 4096) {
                    let a = x.query(va, Scope::Cpu(c)).map(|p| (p.pfn, p.prot));
                    let b = soft.query(va, Scope::Cpu(c)).map(|p| (p.pfn, p.prot));
                    prop_assert_eq!(a, b);
                }
            }
        }
        drop(x);
        prop_assert_eq!(t.live_tables(), 0);
    }
}

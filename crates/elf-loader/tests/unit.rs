//! Hand-built images: the accepted cases and one test per refusal.

mod common;

use common::{decode_stack, Space};
use elf_loader::testimage::{self as ti, pt, Builder, R, W, X};
use elf_loader::{
    auxv::*, build_stack, load, Error, ImageKind, LoadOptions, LoadPlan, StackError, StackParams,
};

fn plan(image: &[u8]) -> Result<LoadPlan, Error> {
    LoadPlan::new(image, &LoadOptions::default())
}

#[test]
fn minimal_static_plan() {
    let image = ti::minimal_static();
    let p = plan(&image).unwrap();
    assert_eq!(p.kind, ImageKind::Static);
    assert_eq!(p.bias, 0);
    assert_eq!(p.entry, 0x40_1000);
    assert_eq!(p.segments.len(), 3);
    let data = &p.segments[2];
    assert_eq!(
        (data.vaddr, data.mem_size, data.file_size),
        (0x40_2000, 0x2100, 0x100)
    );
    assert!(data.prot.write && !data.prot.execute);
    assert!(p.segments[1].prot.execute && !p.segments[1].prot.write);
    assert_eq!(p.aux.phdr, 0x40_0040);
    assert_eq!(p.aux.phnum, 4);
    assert_eq!(p.aux.phent, 56);
    assert_eq!(p.brk_start, 0x40_5000);
    assert!(!p.executable_stack);
    assert_eq!(p.relocations, 0);
}

#[test]
fn load_copies_data_and_zeroes_bss() {
    let image = ti::minimal_static();
    let mut space = Space::default();
    let p = load(&image, &LoadOptions::default(), &mut space).unwrap();
    assert_eq!(space.read(0x40_1000, 2).unwrap(), [0x0f, 0x0b]);
    assert_eq!(space.read(0x40_2000, 0x100).unwrap(), vec![0x11; 0x100]);
    assert_eq!(space.read(0x40_2100, 0x2000).unwrap(), vec![0; 0x2000]);
    // The program headers are where AT_PHDR says.
    assert_eq!(space.read(p.aux.phdr, 56).unwrap(), image[64..120]);
    assert!(space.pages[&0x40_1000].1.execute);
    assert!(space.pages[&0x40_4000].1.write);
}

#[test]
fn static_pie_is_biased_and_relocated() {
    let image = ti::static_pie(10);
    let opts = LoadOptions {
        pie_base: 0x7000_0000_0000,
        ..Default::default()
    };
    let mut space = Space::default();
    let p = load(&image, &opts, &mut space).unwrap();
    assert_eq!(p.kind, ImageKind::StaticPie);
    assert_eq!(p.bias, 0x7000_0000_0000);
    assert_eq!(p.entry, 0x7000_0000_1000);
    assert_eq!(p.relocations, 10);
    assert_eq!(p.deferred_relocations, 1);
    for i in 0..10 {
        assert_eq!(space.u64_at(p.bias + 0x2800 + 8 * i), p.bias + 0x1000 + i);
    }
    // The IRELATIVE target is left alone.
    assert_eq!(space.u64_at(p.bias + 0x2ff8), 0);
}

#[test]
fn pie_base_is_rounded_up() {
    let image = ti::static_pie(1);
    let opts = LoadOptions {
        pie_base: 0x1234_5001,
        ..Default::default()
    };
    assert_eq!(LoadPlan::new(&image, &opts).unwrap().bias, 0x1234_6000);
}

#[test]
fn relocation_iterator_matches() {
    let image = ti::static_pie(3);
    let p = plan(&image).unwrap();
    let mut seen = Vec::new();
    p.for_each_relocation(&image, |r| {
        seen.push((r.vaddr - p.bias, r.value - p.bias));
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, [(0x2800, 0x1000), (0x2808, 0x1001), (0x2810, 0x1002)]);
}

#[test]
fn relocation_outside_image() {
    let mut image = ti::static_pie(2);
    // The data segment's file bytes start at file offset 0x2000 (vaddr 0x2000).
    let rela1 = 0x2000 + 0x100 + 24;
    ti::put64(&mut image, rela1, 0x9_0000);
    assert_eq!(
        plan(&image),
        Err(Error::RelocationOutsideImage {
            index: 1,
            offset: 0x9_0000
        })
    );
    // Straddling the end of the last segment.
    ti::put64(&mut image, rela1, 0x2ffc);
    assert_eq!(
        plan(&image),
        Err(Error::RelocationOutsideImage {
            index: 1,
            offset: 0x2ffc
        })
    );
    ti::put64(&mut image, rela1, u64::MAX - 3);
    assert!(matches!(
        plan(&image),
        Err(Error::RelocationOutsideImage { index: 1, .. })
    ));
}

#[test]
fn unsupported_relocation() {
    let mut image = ti::static_pie(2);
    ti::put64(&mut image, 0x2000 + 0x100 + 8, 1 | (5 << 32)); // R_X86_64_64 against symbol 5
    assert_eq!(
        plan(&image),
        Err(Error::UnsupportedRelocation { index: 0, kind: 1 })
    );
}

#[test]
fn bad_dynamic_tables() {
    // DT_RELASZ not a multiple of the entry size.
    let mut image = ti::static_pie(2);
    ti::put64(&mut image, 0x2000 + 16 + 8, 25);
    assert!(matches!(plan(&image), Err(Error::BadDynamic { .. })));
    // DT_RELA pointing past the file part of its segment.
    let mut image = ti::static_pie(2);
    ti::put64(&mut image, 0x2000 + 8, 0x2fff);
    assert!(matches!(plan(&image), Err(Error::BadDynamic { .. })));
    // No DT_NULL.
    let mut image = ti::static_pie(2);
    ti::put64(&mut image, 0x2000 + 48, 99);
    assert_eq!(
        plan(&image),
        Err(Error::BadDynamic {
            reason: "no DT_NULL terminator"
        })
    );
}

#[test]
fn relr_relocations() {
    // A data segment with a DT_RELR table: address 0x2800, then a bitmap
    // marking 0x2808 and 0x2818. Implicit addends are the words in the file.
    let mut data = vec![0u8; 0x1000];
    let entries = [(36u64, 0x2100u64), (35, 16), (37, 8), (0, 0)];
    for (i, (t, v)) in entries.iter().enumerate() {
        ti::put64(&mut data, i * 16, *t);
        ti::put64(&mut data, i * 16 + 8, *v);
    }
    ti::put64(&mut data, 0x100, 0x2800);
    ti::put64(&mut data, 0x108, 1 | 1 << 1 | 1 << 3);
    for (i, v) in [0x1000u64, 0x1111, 0, 0x1333].iter().enumerate() {
        ti::put64(&mut data, 0x800 + 8 * i, *v);
    }
    let image = Builder::new(ti::DYN, 0)
        .load(0x1000, R | X, &[0xc3], 1)
        .load(0x2000, R | W, &data, 0x1000)
        .other(pt::DYNAMIC, R | W, 0x2000, 64, 64, 8)
        .entry(0x1000)
        .build();
    let mut space = Space::default();
    let p = load(&image, &LoadOptions::default(), &mut space).unwrap();
    assert_eq!(p.relocations, 3);
    let b = p.bias;
    assert_eq!(space.u64_at(b + 0x2800), b + 0x1000);
    assert_eq!(space.u64_at(b + 0x2808), b + 0x1111);
    assert_eq!(space.u64_at(b + 0x2810), 0, "not in the bitmap");
    assert_eq!(space.u64_at(b + 0x2818), b + 0x1333);
}

#[test]
fn header_refusals() {
    let good = ti::minimal_static();
    let with = |at: usize, bytes: &[u8]| {
        let mut i = good.clone();
        i[at..at + bytes.len()].copy_from_slice(bytes);
        plan(&i)
    };
    assert_eq!(with(0, b"\x7fELG"), Err(Error::BadMagic));
    assert_eq!(with(4, &[1]), Err(Error::WrongClass(1)));
    assert_eq!(with(5, &[2]), Err(Error::WrongEndianness(2)));
    assert_eq!(with(6, &[0]), Err(Error::WrongVersion));
    assert_eq!(with(7, &[9]), Err(Error::WrongOsAbi(9)));
    assert_eq!(with(16, &[1, 0]), Err(Error::NotExecutable(1)));
    assert_eq!(with(18, &[0xb7, 0]), Err(Error::WrongMachine(0xb7)));
    assert_eq!(
        with(52, &[63, 0]),
        Err(Error::BadHeaderSize {
            field: "e_ehsize",
            value: 63
        })
    );
    assert_eq!(
        with(54, &[32, 0]),
        Err(Error::BadHeaderSize {
            field: "e_phentsize",
            value: 32
        })
    );
    assert_eq!(with(56, &[0, 0]), Err(Error::NoLoadableSegment));
    assert_eq!(
        with(56, &[65, 0]),
        Err(Error::TooManyProgramHeaders { count: 65, max: 64 })
    );
    let near_end = (good.len() as u64 - 100).to_le_bytes();
    assert_eq!(
        with(32, &near_end),
        Err(Error::Truncated {
            what: "program headers"
        })
    );
    assert_eq!(
        with(32, &u64::MAX.to_le_bytes()),
        Err(Error::Truncated {
            what: "program headers"
        })
    );
    assert_eq!(
        plan(&good[..63]),
        Err(Error::Truncated { what: "ELF header" })
    );
    assert_eq!(plan(&[]), Err(Error::Truncated { what: "ELF header" }));
}

#[test]
fn segment_refusals() {
    let good = ti::minimal_static();
    // Program header 2 (the data segment) starts at 64 + 2 * 56.
    let ph2 = 64 + 2 * 56;
    let with = |field: usize, v: u64| {
        let mut i = good.clone();
        ti::put64(&mut i, ph2 + field, v);
        plan(&i)
    };
    assert_eq!(
        with(8, good.len() as u64),
        Err(Error::SegmentOutsideFile { index: 2 })
    );
    assert_eq!(
        with(8, u64::MAX - 8),
        Err(Error::SegmentOutsideFile { index: 2 })
    );
    assert_eq!(
        with(40, 0x80),
        Err(Error::FileSizeExceedsMemSize { index: 2 })
    );
    assert_eq!(
        with(16, 0x40_2008),
        Err(Error::MisalignedSegment { index: 2 })
    );
    assert_eq!(with(48, 0x3000), Err(Error::MisalignedSegment { index: 2 }));
    assert_eq!(
        with(40, u64::MAX - 0x40_0000),
        Err(Error::Overflow {
            what: "segment end"
        })
    );
    // Overlap with the code segment, and out of order.
    assert_eq!(
        {
            let mut i = good.clone();
            ti::put64(&mut i, ph2 + 8, 0x1000);
            ti::put64(&mut i, ph2 + 16, 0x40_1000);
            plan(&i)
        },
        Err(Error::OverlappingSegments {
            first: 1,
            second: 2
        })
    );
    assert_eq!(
        {
            let mut i = good.clone();
            ti::put64(&mut i, ph2 + 16, 0x30_0000);
            plan(&i)
        },
        Err(Error::OverlappingSegments {
            first: 1,
            second: 2
        })
    );
}

#[test]
fn wx_and_exec_stack_policy() {
    let b = Builder::new(ti::EXEC, 0x40_0000)
        .load(0x40_1000, R | W | X, &[0xc3], 1)
        .entry(0x40_1000);
    assert_eq!(
        plan(&b.build()),
        Err(Error::WritableAndExecutable { index: 1 })
    );
    let relaxed = LoadOptions {
        allow_wx: true,
        ..Default::default()
    };
    assert!(LoadPlan::new(&b.build(), &relaxed).is_ok());

    let b = ti::minimal_static_builder();
    let mut b2 = b.clone();
    b2.others[0].1 = R | W | X;
    assert_eq!(plan(&b2.build()), Err(Error::ExecutableStack));
    let relaxed = LoadOptions {
        allow_executable_stack: true,
        ..Default::default()
    };
    assert!(
        LoadPlan::new(&b2.build(), &relaxed)
            .unwrap()
            .executable_stack
    );
}

#[test]
fn entry_must_be_executable() {
    let b = ti::minimal_static_builder();
    assert_eq!(
        plan(&b.clone().entry(0x40_2000).build()),
        Err(Error::EntryNotExecutable { entry: 0x40_2000 })
    );
    assert_eq!(
        plan(&b.clone().entry(0x40_1002).build()),
        Err(Error::EntryNotExecutable { entry: 0x40_1002 })
    );
    assert_eq!(
        plan(&b.entry(0).build()),
        Err(Error::EntryNotExecutable { entry: 0 })
    );
}

#[test]
fn interpreter_is_refused() {
    let b = ti::minimal_static_builder().other(pt::INTERP, R, 0x40_0000, 10, 10, 1);
    assert_eq!(plan(&b.build()), Err(Error::DynamicallyLinked));
}

#[test]
fn duplicates_are_refused() {
    let b = ti::minimal_static_builder().other(pt::GNU_STACK, R | W, 0, 0, 0, 16);
    assert_eq!(
        plan(&b.build()),
        Err(Error::Duplicate {
            kind: "PT_GNU_STACK"
        })
    );
}

#[test]
fn user_space_limits() {
    let b = Builder::new(ti::EXEC, 0x1000)
        .load(0x2000, R | X, &[0xc3], 1)
        .entry(0x2000);
    assert_eq!(
        plan(&b.build()),
        Err(Error::SegmentOutsideUserSpace { index: 0 })
    );
    let high = Builder::new(ti::EXEC, 0x7fff_ffff_0000)
        .load(0x7fff_ffff_1000, R | X, &[0xc3], 0x10000)
        .entry(0x7fff_ffff_1000);
    assert_eq!(
        plan(&high.build()),
        Err(Error::SegmentOutsideUserSpace { index: 1 })
    );
    // A static-PIE base near the top of the address space overflows or leaves user space.
    let pie = ti::static_pie(1);
    let opts = LoadOptions {
        pie_base: u64::MAX - 0x1000,
        ..Default::default()
    };
    assert!(matches!(
        LoadPlan::new(&pie, &opts),
        Err(Error::Overflow { .. } | Error::SegmentOutsideUserSpace { .. })
    ));
}

#[test]
fn too_many_segments() {
    let mut b = Builder::new(ti::EXEC, 0x40_0000).entry(0x40_1000);
    for i in 0..16 {
        b = b.load(
            0x40_1000 + i * 0x1000,
            if i == 0 { R | X } else { R },
            &[1],
            1,
        );
    }
    assert_eq!(plan(&b.build()), Err(Error::TooManySegments { max: 16 }));
}

#[test]
fn tls_template() {
    let b = ti::minimal_static_builder().other(pt::TLS, R, 0x40_2000, 0x10, 0x30, 8);
    let tls = plan(&b.build()).unwrap().tls.unwrap();
    assert_eq!(
        (tls.vaddr, tls.file_size, tls.mem_size, tls.align),
        (0x40_2000, 0x10, 0x30, 8)
    );
    let bad = ti::minimal_static_builder().other(pt::TLS, R, 0x40_2000, 0x40, 0x30, 8);
    assert!(matches!(plan(&bad.build()), Err(Error::BadTls { .. })));
    let bad = ti::minimal_static_builder().other(pt::TLS, R, 0x40_2000, 0x10, 0x30, 24);
    assert!(matches!(plan(&bad.build()), Err(Error::BadTls { .. })));
    let bad = ti::minimal_static_builder().other(pt::TLS, R, 0x40_2000, 0x10, u64::MAX, 8);
    assert!(matches!(plan(&bad.build()), Err(Error::Overflow { .. })));
}

#[test]
fn pt_phdr_must_be_loaded() {
    let b = ti::minimal_static_builder().other(pt::PHDR, R, 0x40_0040, 5 * 56, 5 * 56, 8);
    assert_eq!(plan(&b.build()).unwrap().aux.phdr, 0x40_0040);
    let b = ti::minimal_static_builder().other(pt::PHDR, R, 0x50_0000, 5 * 56, 5 * 56, 8);
    assert_eq!(plan(&b.build()), Err(Error::ProgramHeadersNotLoaded));
}

#[test]
fn initial_stack_layout() {
    let p = plan(&ti::minimal_static()).unwrap();
    let top = 0x7fff_ffff_e000;
    for argc in 0..4 {
        for envc in 0..3 {
            let args: Vec<Vec<u8>> = (0..argc).map(|i| format!("arg{i}").into_bytes()).collect();
            let envs: Vec<Vec<u8>> = (0..envc).map(|i| format!("E{i}=v").into_bytes()).collect();
            let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
            let envp: Vec<&[u8]> = envs.iter().map(|a| a.as_slice()).collect();
            let params = StackParams {
                argv: &argv,
                envp: &envp,
                random: *b"0123456789abcdef",
                uid: 1000,
                egid: 7,
                execfn: Some(b"/bin/prog"),
                vdso: Some(0x7fff_f000_0000),
                extra: &[(0x1000, 0xd15), (0x1001, 7)],
                ..Default::default()
            };
            let mut buf = vec![0u8; 8192];
            let s = build_stack(&mut buf, top, &p.aux, &params).unwrap();
            assert_eq!(s.rsp % 16, 0, "argc={argc} envc={envc}");
            assert_eq!(s.argv, s.rsp + 8);
            let d = decode_stack(&buf, top, s.rsp);
            assert_eq!(d.argv, args);
            assert_eq!(d.envp, envs);
            let aux = |k| d.auxv.iter().find(|e| e.0 == k).map(|e| e.1);
            assert_eq!(aux(AT_PHDR), Some(p.aux.phdr));
            assert_eq!(aux(AT_PHNUM), Some(4));
            assert_eq!(aux(AT_ENTRY), Some(0x40_1000));
            assert_eq!(aux(AT_PAGESZ), Some(4096));
            assert_eq!(aux(AT_UID), Some(1000));
            assert_eq!(aux(AT_EGID), Some(7));
            assert_eq!(aux(AT_BASE), Some(0));
            let bottom = top - buf.len() as u64;
            let r = aux(AT_RANDOM).unwrap();
            assert_eq!(r % 16, 0);
            assert_eq!(&buf[(r - bottom) as usize..][..16], b"0123456789abcdef");
            assert_eq!(
                common::cstr_at(&buf, bottom, aux(AT_PLATFORM).unwrap()),
                b"x86_64"
            );
            assert_eq!(
                common::cstr_at(&buf, bottom, aux(AT_EXECFN).unwrap()),
                b"/bin/prog"
            );
            assert_eq!(aux(AT_SYSINFO_EHDR), Some(0x7fff_f000_0000));
            assert_eq!(aux(0x1000), Some(0xd15));
            assert_eq!(aux(0x1001), Some(7));
            assert_eq!(d.auxv.last(), Some(&(AT_NULL, 0)));
            // argv strings are contiguous and ascending.
            if argc > 1 {
                let w = |a: u64| {
                    u64::from_le_bytes(buf[(a - bottom) as usize..][..8].try_into().unwrap())
                };
                assert_eq!(w(s.argv + 8), w(s.argv) + 5);
            }
        }
    }
}

#[test]
fn stack_refusals() {
    let p = plan(&ti::minimal_static()).unwrap();
    let params = StackParams {
        argv: &[b"a\0b"],
        ..Default::default()
    };
    let mut buf = vec![0u8; 4096];
    assert_eq!(
        build_stack(&mut buf, 0x10000, &p.aux, &params),
        Err(StackError::NulInString {
            which: "argv",
            index: 0
        })
    );
    assert_eq!(
        build_stack(&mut buf, 0x10008, &p.aux, &StackParams::default()),
        Err(StackError::BadTop)
    );
    assert_eq!(
        build_stack(&mut buf, 0x10, &p.aux, &StackParams::default()),
        Err(StackError::BadTop)
    );
    let big = vec![b'x'; 5000];
    let params = StackParams {
        argv: &[&big],
        ..Default::default()
    };
    match build_stack(&mut buf, 0x10000, &p.aux, &params) {
        Err(StackError::TooSmall { needed }) => {
            assert!(needed > 5000);
            let mut buf = vec![0u8; needed as usize];
            build_stack(&mut buf, 0x10000, &p.aux, &params).unwrap();
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn errors_display() {
    let s = Error::SegmentOutsideFile { index: 3 }.to_string();
    assert!(s.contains("program header 3"), "{s}");
    assert!(Error::DynamicallyLinked.to_string().contains("PT_INTERP"));
}

#[test]
fn memory_errors_propagate() {
    struct Full;
    impl elf_loader::Memory for Full {
        fn map(&mut self, _: &elf_loader::Segment) -> Result<(), elf_loader::MemoryError> {
            Err(elf_loader::MemoryError::NoMemory)
        }
        fn write(&mut self, vaddr: u64, _: &[u8]) -> Result<(), elf_loader::MemoryError> {
            Err(elf_loader::MemoryError::BadAddress(vaddr))
        }
    }
    let image = ti::minimal_static();
    assert_eq!(
        load(&image, &LoadOptions::default(), &mut Full),
        Err(Error::Memory(elf_loader::MemoryError::NoMemory))
    );
    let image = ti::static_pie(2);
    let p = plan(&image).unwrap();
    assert_eq!(
        p.apply_relocations(&image, &mut Full),
        Err(Error::Memory(elf_loader::MemoryError::BadAddress(
            p.bias + 0x2800
        )))
    );
}

#[test]
fn relocating_with_another_image_is_an_error() {
    let image = ti::static_pie(2);
    let p = plan(&image).unwrap();
    assert_eq!(
        p.for_each_relocation(&image[..0x2000], |_| Ok(())),
        Err(Error::Truncated {
            what: "relocation table"
        })
    );
}

//! Property test: mutated images (flipped bits, overwritten header fields,
//! truncation) never panic and never take long; whatever is accepted is
//! consistent. `ELF_LOADER_CASES` raises the case count (default 256).

mod common;

use std::time::{Duration, Instant};

use common::Space;
use elf_loader::testimage as ti;
use elf_loader::{build_stack, load, LoadOptions, LoadPlan, StackParams, PAGE_SIZE};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Mutation {
    /// Flip one bit of the byte at `at` (taken modulo the image length).
    Flip { at: usize, bit: u8 },
    /// Overwrite the 8-byte-aligned word at `at` (modulo the header area,
    /// where the interesting fields are) with `value`.
    Word { at: usize, value: u64 },
    /// Same anywhere in the image (dynamic section, relocations).
    Anywhere { at: usize, value: u64 },
    /// Cut the image at `len` (modulo its length).
    Truncate { len: usize },
}

fn interesting() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(7),
        Just(8),
        Just(PAGE_SIZE),
        Just(PAGE_SIZE - 1),
        Just(0x2000),
        Just(0x2800),
        Just(0x40_1000),
        Just(u64::MAX),
        Just(u64::MAX - PAGE_SIZE),
        Just(1 << 63),
        Just(0x7fff_ffff_f000),
        any::<u64>(),
        0u64..0x10000,
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), interesting()).prop_map(|(at, value)| Mutation::Word { at, value }),
        (any::<usize>(), interesting()).prop_map(|(at, value)| Mutation::Anywhere { at, value }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
    ]
}

fn apply(image: &mut Vec<u8>, m: &Mutation) {
    let header_area = 64 + 56 * 16;
    match *m {
        Mutation::Flip { at, bit } => {
            let at = at % image.len();
            image[at] ^= 1 << bit;
        }
        Mutation::Word { at, value } if image.len() >= 8 => {
            let at = (at % (header_area.min(image.len()) / 8)) * 8;
            ti::put64(image, at, value);
        }
        Mutation::Anywhere { at, value } if image.len() >= 8 => {
            let at = (at % (image.len() / 8)) * 8;
            ti::put64(image, at, value);
        }
        Mutation::Word { .. } | Mutation::Anywhere { .. } => {}
        Mutation::Truncate { len } => image.truncate(len % image.len()),
    }
}

/// Runs everything the loader offers on `image`; panics only on an
/// inconsistency (a proptest failure), never by itself.
fn exercise(image: &[u8]) -> bool {
    let start = Instant::now();
    let opts = LoadOptions::default();
    let Ok(plan) = LoadPlan::new(image, &opts) else {
        return false;
    };
    // What was accepted holds together.
    for s in &plan.segments {
        assert!(s.file_size <= s.mem_size);
        assert!(s.page_start() >= opts.user_start && s.page_end() <= opts.user_end);
        assert!(s.file_range().end <= image.len());
        assert!(!(s.prot.write && s.prot.execute));
    }
    for w in plan.segments.windows(2) {
        assert!(w[0].page_end() <= w[1].page_start());
    }
    assert!(plan
        .segments
        .iter()
        .any(|s| s.prot.execute && s.vaddr_range().contains(&plan.entry)));
    // Load it for real when it is small enough for the toy address space.
    let pages: u64 = plan
        .segments
        .iter()
        .map(|s| (s.page_end() - s.page_start()) / PAGE_SIZE)
        .sum();
    if pages <= 64 {
        let mut space = Space::default();
        let loaded = load(image, &opts, &mut space).expect("a planned image loads");
        assert_eq!(loaded, plan);
    }
    let mut n = 0;
    plan.for_each_relocation(image, |r| {
        assert!(plan
            .segments
            .iter()
            .any(|s| r.vaddr >= s.vaddr && r.vaddr + 8 <= s.vaddr + s.mem_size));
        n += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(n, plan.relocations);
    let mut stack = vec![0u8; 4096];
    build_stack(
        &mut stack,
        0x7fff_0000_0000,
        &plan.aux,
        &StackParams {
            argv: &[b"x"],
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    true
}

fn cases() -> u32 {
    std::env::var("ELF_LOADER_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = vec![
        ti::minimal_static(),
        ti::static_pie(4),
        ti::static_pie_relr(),
    ];
    for s in &seeds {
        LoadPlan::new(s, &LoadOptions::default()).expect("seed images are valid");
    }
    // A real static executable, headers mutated (read once).
    if let Ok(busybox) = std::fs::read("/bin/busybox") {
        if LoadPlan::new(&busybox, &LoadOptions::default()).is_ok() {
            seeds.push(busybox);
        }
    }
    seeds
}

/// Both outcomes must occur, or the mutations test nothing.
#[test]
fn mutations_reach_both_outcomes() {
    let (mut ok, mut err) = (0, 0);
    let mut rng = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng as usize
    };
    for seed in [
        ti::minimal_static(),
        ti::static_pie(3),
        ti::static_pie_relr(),
    ] {
        for _ in 0..200 {
            let mut image = seed.clone();
            apply(
                &mut image,
                &Mutation::Flip {
                    at: next() % 256,
                    bit: (next() % 8) as u8,
                },
            );
            if exercise(&image) {
                ok += 1;
            } else {
                err += 1;
            }
        }
    }
    assert!(ok > 50 && err > 50, "accepted {ok}, refused {err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn mutated_images_never_panic(seed in any::<prop::sample::Index>(), muts in prop::collection::vec(mutation(), 1..6)) {
        thread_local!(static SEEDS: Vec<Vec<u8>> = seeds());
        let mut image = SEEDS.with(|s| s[seed.index(s.len())].clone());
        let seed_len = image.len();
        for m in &muts {
            if image.is_empty() {
                break;
            }
            apply(&mut image, m);
        }
        let accepted = exercise(&image);
        if std::env::var_os("ELF_LOADER_TRACE").is_some() {
            eprintln!("seed of {seed_len} bytes, {} mutations: {}", muts.len(), if accepted { "accepted" } else { "refused" });
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = exercise(&bytes);
    }
}

/// Every single-bit flip in the headers of the seeds: exhaustive, cheap.
#[test]
fn every_header_bit_flip() {
    for seed in [
        ti::minimal_static(),
        ti::static_pie(2),
        ti::static_pie_relr(),
    ] {
        let header_len = 64 + 56 * usize::from(u16::from_le_bytes([seed[56], seed[57]]));
        for at in 0..header_len {
            for bit in 0..8 {
                let mut image = seed.clone();
                image[at] ^= 1 << bit;
                let _ = exercise(&image);
            }
        }
    }
}

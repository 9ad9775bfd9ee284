//! What exec costs in the loader: planning (validation), relocating, and
//! building the initial stack.
//!
//! cargo bench -p elf-loader --bench load -- --measurement-time 2 --warm-up-time 1
//!
//! One run on the shared 2-core build machine (ratios to planning the
//! minimal static image, 90 ns there): planning busybox (10 program
//! headers) 1.4x; planning a static-PIE with 100 relocations 4.0x (the plan
//! walks every relocation once to validate it); walking those 100
//! relocations again to apply them 1.8x (about 1.6 ns each); building an
//! initial stack with 3 arguments and 4 environment strings 1.1x. Exec cost
//! is dominated by mapping and copying pages, not by the loader.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use elf_loader::testimage as ti;
use elf_loader::{build_stack, LoadOptions, LoadPlan, StackParams};

fn bench(c: &mut Criterion) {
    let opts = LoadOptions::default();
    let small = ti::minimal_static();
    c.bench_function("plan/minimal_static", |b| {
        b.iter(|| LoadPlan::new(black_box(&small), &opts).unwrap())
    });

    // 100 RELATIVE relocations: validation walks them once in the plan.
    let pie = ti::static_pie(100);
    c.bench_function("plan/static_pie_100_relocs", |b| {
        b.iter(|| LoadPlan::new(black_box(&pie), &opts).unwrap())
    });
    let plan = LoadPlan::new(&pie, &opts).unwrap();
    c.bench_function("relocate/static_pie_100_relocs", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            plan.for_each_relocation(black_box(&pie), |r| {
                sum = sum.wrapping_add(r.value);
                Ok(())
            })
            .unwrap();
            sum
        })
    });

    if let Ok(busybox) = std::fs::read("/bin/busybox") {
        if LoadPlan::new(&busybox, &opts).is_ok() {
            c.bench_function("plan/busybox", |b| {
                b.iter(|| LoadPlan::new(black_box(&busybox), &opts).unwrap())
            });
        }
    }

    let mut stack = vec![0u8; 16384];
    let argv: [&[u8]; 3] = [b"/bin/busybox", b"sh", b"-c"];
    let envp: [&[u8]; 4] = [
        b"HOME=/",
        b"PATH=/bin:/usr/bin",
        b"TERM=vt100",
        b"USER=root",
    ];
    let params = StackParams {
        argv: &argv,
        envp: &envp,
        execfn: Some(b"/bin/busybox"),
        ..Default::default()
    };
    c.bench_function("stack/3_args_4_env", |b| {
        b.iter(|| build_stack(black_box(&mut stack), 0x7fff_0000_0000, &plan.aux, &params).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! In-memory benchmarks of KFS's alternative implementations: what the
//! per-element choice (and hot swap) buys. Run with
//! `cargo bench -p kfs -- --measurement-time 2 --warm-up-time 1`.

use criterion::{criterion_group, criterion_main, Criterion};
use kfs::{mkfs, Fs, Imp, MemDevice, MkfsOptions, Options};
use std::hint::black_box;

fn opts() -> Options {
    Options {
        dir_hash_threshold: 0,
        extent_threshold: 0,
        ..Options::deterministic()
    }
}

/// Lookup in a 2,000-entry directory: linear scan vs one hashed bucket.
fn dir_lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("dir_lookup_2000");
    for imp in [Imp::LinearDir, Imp::HashDir] {
        let dev = mkfs(MemDevice::new(8192), &MkfsOptions::default()).unwrap();
        let mut fs = Fs::mount(dev, opts()).unwrap();
        let d = fs.mkdir(fs.root(), b"d", 0o755, 0, 0).unwrap().id;
        for i in 0..2000 {
            fs.create(d, format!("entry-{i}").as_bytes(), 0o644, 0, 0, 0)
                .unwrap();
        }
        fs.set_imp(d, imp).unwrap();
        let mut i = 0u64;
        g.bench_function(imp.name(), |b| {
            b.iter(|| {
                i = (i * 7 + 13) % 2000;
                black_box(fs.lookup(d, format!("entry-{i}").as_bytes()).unwrap());
            })
        });
    }
    g.finish();
}

/// Create + write + fsync of a small file: the cost of a checkpoint.
fn small_file_fsync(c: &mut Criterion) {
    let dev = mkfs(MemDevice::new(65_536), &MkfsOptions::default()).unwrap();
    let mut fs = Fs::mount(dev, opts()).unwrap();
    let d = fs.mkdir(fs.root(), b"d", 0o755, 0, 0).unwrap().id;
    fs.set_imp(d, Imp::HashDir).unwrap();
    let mut i = 0u64;
    c.bench_function("create_write_fsync_2KiB", |b| {
        b.iter(|| {
            i += 1;
            let name = format!("f{i}");
            let a = fs.create(d, name.as_bytes(), 0o644, 0, 0, 0).unwrap();
            fs.write(a.id, 0, &[7; 2048]).unwrap();
            fs.fsync().unwrap();
            fs.unlink(d, name.as_bytes()).unwrap();
        })
    });
}

criterion_group!(benches, dir_lookup, small_file_fsync);
criterion_main!(benches);

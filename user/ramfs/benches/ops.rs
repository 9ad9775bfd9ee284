//! ramfs operations, called directly and through the generated PPC stubs
//! over `ppc-idl`'s loopback transport (marshalling, no kernel): a 4 KiB
//! read, a 4 KiB write, a `stat` of a two-level path. The difference is
//! the stub + dispatch share of a server call; the in-QEMU round trips
//! are the kernel's `server_round_trips` benchmark.
//!
//! `cargo bench -p ramfs --bench ops -- --measurement-time 2 --warm-up-time 1`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use k42_interfaces::flags::{O_CREAT, O_RDWR};
use k42_interfaces::{rights, FileSystem, FileSystemClient, FileSystemServer};
use ppc_idl::{LoopbackTransport, ObjectHandle, ProcessId, Rights};
use ramfs::Ramfs;

const ME: ProcessId = ProcessId(2);

fn bench(c: &mut Criterion) {
    let server = FileSystemServer(Ramfs::new(1 << 20, || 0));
    server.0.mkdir("/dir", 0o755).unwrap();
    let fd = server
        .0
        .create("/dir/file", O_CREAT | O_RDWR, 0o644)
        .unwrap();
    let page = [7u8; 4096];
    server.0.write(fd, 0, &page).unwrap();
    let h = ObjectHandle::new(ProcessId(1), 0, 1);
    let grants = [(ME, Rights(rights::READ | rights::WRITE))];
    let t = LoopbackTransport::new(&server, h, &grants, ME);
    let client = FileSystemClient::new(&t, h);
    let mut buf = [0u8; 4096];
    let mut g = c.benchmark_group("ramfs");
    g.bench_function("direct/read4k", |b| {
        b.iter(|| server.0.read(fd, 0, black_box(&mut buf)).unwrap())
    });
    g.bench_function("ppc/read4k", |b| {
        b.iter(|| client.read(fd, 0, black_box(&mut buf)).unwrap().unwrap())
    });
    g.bench_function("direct/write4k", |b| {
        b.iter(|| server.0.write(fd, 0, black_box(&page)).unwrap())
    });
    g.bench_function("ppc/write4k", |b| {
        b.iter(|| client.write(fd, 0, black_box(&page)).unwrap().unwrap())
    });
    g.bench_function("direct/stat", |b| {
        b.iter(|| server.0.stat(black_box("/dir/file")).unwrap())
    });
    g.bench_function("ppc/stat", |b| {
        b.iter(|| client.stat(black_box("/dir/file")).unwrap().unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

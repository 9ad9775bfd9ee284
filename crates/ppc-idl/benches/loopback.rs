//! Loopback marshalling cost of a generated stub + dispatch: a null call,
//! 64 B and 4 KiB of arguments. No kernel involved: this is the software
//! floor under the PPC round trip (`docs/perf/ipc.md` once the kernel path
//! exists).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ppc_idl::{interface, LoopbackTransport, ObjectHandle, ProcessId, Rights};

#[interface]
pub trait Bench {
    fn null(&self);
    fn sum(&self, data: &[u8]) -> u64;
}

struct Impl;
impl Bench for Impl {
    fn null(&self) {}
    fn sum(&self, data: &[u8]) -> u64 {
        data.len() as u64
    }
}

fn bench(c: &mut Criterion) {
    let server = BenchServer(Impl);
    let h = ObjectHandle::new(ProcessId(1), 0, 0);
    let grants = [(ProcessId(2), Rights::ALL)];
    let t = LoopbackTransport::new(&server, h, &grants, ProcessId(2));
    let client = BenchClient::new(&t, h);
    let small = [1u8; 64];
    // The page holds the length word's spill-free payload: 4096 bytes exactly.
    let big = [1u8; 4096];
    let mut g = c.benchmark_group("ppc_loopback");
    g.bench_function("null", |b| b.iter(|| client.null().unwrap()));
    g.bench_function("64B", |b| b.iter(|| client.sum(black_box(&small)).unwrap()));
    g.bench_function("4KiB", |b| b.iter(|| client.sum(black_box(&big)).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! User-level tracing, end to end: worker threads log into a hosted
//! tracer (their own application class plus the shared lock class) while a
//! daemon thread streams finished blocks into a trace file.
//!
//! ```sh
//! cargo run -p ktrace --example hosted_trace -- /tmp/app.ktrace
//! cargo run -p ktrace-tool -- locks /tmp/app.ktrace
//! cargo run -p ktrace-tool -- html /tmp/app.ktrace -o /tmp/app.html
//! ```
use std::fs::File;
use std::io::BufWriter;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use ktrace::events::{lock, KERNEL_EVENTS};
use ktrace::host::{self, StdPlatform};
use ktrace::stream::IoSink;
use ktrace::{Class, Layer, Overflow, StreamWriter};

ktrace::events! {
    /// The example application's own events.
    pub mod app(class = Class(40), layer = Layer::APPLICATION) {
        /// A work item began.
        0 => fn work_enter(worker: u32, item: u64) = "worker {worker} item {item}";
        /// It ended.
        1 => fn work_exit(worker: u32, item: u64) = "worker {worker} item {item} done";
        /// A worker started.
        2 => fn hello(worker: u32, name: &str) = "worker {worker} is {name}";
    }
}

const WORKERS: usize = 4;

fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "app.ktrace".into());
    let tracer = host::tracer::<64, 1024>(WORKERS, Overflow::Stop);
    tracer.enable(app::CLASS);
    tracer.enable(Class::LOCK);
    let shared = Mutex::new(0u64);
    let lock_id = &shared as *const _ as u64;
    let done = AtomicBool::new(false);
    let tables: &[&[ktrace::EventDesc]] = &[KERNEL_EVENTS[5], app::EVENTS];

    std::thread::scope(|s| {
        let daemon = s.spawn(|| -> std::io::Result<()> {
            let mut sink = IoSink(BufWriter::new(File::create(&path)?));
            let mut scratch = [0u64; 1024];
            let mut d = StreamWriter::new(tracer, &mut scratch);
            d.start(&mut sink, tables, StdPlatform::ticks_per_second())?;
            while !done.load(Ordering::Acquire) {
                d.poll(&mut sink, 1)?;
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
            d.flush(&mut sink)?;
            Ok(())
        });
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let shared = &shared;
                s.spawn(move || {
                    StdPlatform::set_cpu(w);
                    app::hello(tracer, w as u32, "cruncher");
                    if w == 0 {
                        lock::name(tracer, lock_id, "shared-counter");
                    }
                    for item in 0..2000u64 {
                        app::work_enter(tracer, w as u32, item);
                        let mut guard = match shared.try_lock() {
                            Ok(g) => g,
                            Err(_) => {
                                lock::contended(tracer, lock_id);
                                shared.lock().unwrap_or_else(|e| e.into_inner())
                            }
                        };
                        lock::acquire(tracer, lock_id);
                        *guard += std::hint::black_box(item);
                        lock::release(tracer, lock_id);
                        drop(guard);
                        app::work_exit(tracer, w as u32, item);
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        done.store(true, Ordering::Release);
        daemon
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("daemon panicked")))
    })
}

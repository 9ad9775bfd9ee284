//! With the `compiled-out` feature nothing is logged, whatever the mask.
//! Run: `cargo test -p ktrace --features compiled-out --test compiled_out`
#![cfg(feature = "compiled-out")]

use ktrace::events::{sched, test};
use ktrace::host::{self, StdPlatform};
use ktrace::{Class, Dropped, Layer, Overflow};

#[test]
fn nothing_is_logged() {
    let tracer = host::tracer::<2, 64>(1, Overflow::Wrap);
    StdPlatform::set_cpu(0);
    tracer.set_mask(u64::MAX);
    assert!(!tracer.is_enabled(Class::TEST));
    test::mark(tracer, 1, 2);
    sched::switch(tracer, 1, 2, 3);
    tracer.heartbeat();
    assert_eq!(
        tracer.log(Layer::KERNEL, Class::TEST, 0, 3, |_| {}),
        Err(Dropped::Disabled)
    );
    assert_eq!(tracer.reserved_words(0), 0);
}

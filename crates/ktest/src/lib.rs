//! The in-kernel test registry and the serial protocol of its results.
//!
//! K42-rs tests kernel code inside the kernel, under QEMU. A test is an
//! ordinary function registered with [`ktest!`]: the macro places a
//! [`Test`] record in the `.ktest` linker section, and the kernel's linker
//! script brackets that section with `__ktest_start` / `__ktest_stop`, so the
//! kernel finds every test in the image without a central list (stable Rust
//! has no `custom_test_frameworks`; a linker section is the stable way).
//!
//! The kernel, booted with `ktest` on its command line, runs the tests in
//! link order and reports each over the serial port in the line protocol of
//! [`protocol`]. The host harness (`cargo xtask test`) parses the log with
//! [`protocol::parse`]. A panic or a hang in a test cannot be caught inside
//! the kernel, so the harness handles both: it records the test that was
//! running as failed and boots again from the next test (`ktest.start=N`).
//!
//! # Usage
//!
//! ```ignore
//! ktest::ktest! {
//!     /// Frames handed out are distinct and come back.
//!     fn frames_alloc_free() {
//!         let a = frames::alloc().unwrap();
//!         let b = frames::alloc().unwrap();
//!         assert_ne!(a, b);
//!     }
//! }
//! ```
//!
//! A test fails by panicking (`assert!` and friends). Tests run on the boot
//! processor with interrupts enabled and every application processor online.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "host")]
extern crate alloc;

pub mod protocol;

/// One registered test: a record in the `.ktest` linker section.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Test {
    /// `module::path::name`, unique in the image.
    pub name: &'static str,
    /// The test body; it fails by panicking.
    pub func: fn(),
}

impl core::fmt::Debug for Test {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Test").field("name", &self.name).finish()
    }
}

/// Registers kernel benchmarks: like [`ktest!`], but in the `.kbench`
/// section. The kernel runs them when booted with `kbench` (`cargo xtask
/// bench`); each prints its own `kbench:` result lines.
#[macro_export]
macro_rules! kbench {
    ($( $(#[$meta:meta])* fn $name:ident() $body:block )*) => {
        $(
            $(#[$meta])*
            fn $name() $body

            const _: () = {
                #[used]
                #[link_section = ".kbench"]
                static BENCH: $crate::Test = $crate::Test {
                    name: concat!(module_path!(), "::", stringify!($name)),
                    func: $name,
                };
            };
        )*
    };
}

/// Registers kernel tests. Each `fn` inside becomes a [`Test`] in the
/// `.ktest` section; attributes and doc comments are kept.
#[macro_export]
macro_rules! ktest {
    ($( $(#[$meta:meta])* fn $name:ident() $body:block )*) => {
        $(
            $(#[$meta])*
            fn $name() $body

            const _: () = {
                #[used]
                #[link_section = ".ktest"]
                static TEST: $crate::Test = $crate::Test {
                    name: concat!(module_path!(), "::", stringify!($name)),
                    func: $name,
                };
            };
        )*
    };
}

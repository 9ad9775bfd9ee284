//! Links the system library at its fixed address when it is built for
//! K42-rs (`x86_64-unknown-none`): the kernel loads it beside a Linux
//! program. The address is below 2 GiB because xtask builds the user
//! programs with the small code model (`-C relocation-model=static`): a
//! library at `0x6f00_0000_0000`, above the `mmap` area, would need
//! `-C code-model=large` for this package (`syslib::mem::LIBRARY_BASE`
//! and this line are all that would change).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bins=--image-base=0x70000000");
    }
}

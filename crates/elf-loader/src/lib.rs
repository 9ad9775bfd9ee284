//! # elf-loader: ELF64 executables into a load plan, and the initial user stack
//!
//! This crate owns the step between "a file in the initramfs" and "a
//! dispatcher ready to run at the program's entry point": it reads an ELF64
//! x86-64 executable, checks it, and says what to map where. It does not map
//! anything itself; the kernel (or a test) does, through the plan or through
//! the small [`Memory`] trait.
//!
//! In K42 this is `ProgExec::ParseExecutable` (in `jimix/k42`): it read the
//! ELF headers of an image already opened as a file's FR, filled a
//! `ProgExec::BinInfo` with the segments, entry point and stack, and the exec
//! path then created one Region per segment over that FR and built the
//! initial stack before the new process's first dispatcher ran. Here the
//! `BinInfo` is [`LoadPlan`], a pure function of the bytes, so it is tested
//! hosted, fuzzed, and reused by the kernel unchanged.
//!
//! ## What is accepted
//! - `ET_EXEC` static executables, loaded at their link addresses.
//! - `ET_DYN` without `PT_INTERP` (static-PIE), loaded at
//!   [`LoadOptions::pie_base`] (rounded up to the largest segment alignment);
//!   their `R_X86_64_RELATIVE` (`DT_RELA`, `DT_JMPREL`) and `DT_RELR`
//!   relocations are checked and applied. `R_X86_64_IRELATIVE` calls code in the image, so it
//!   is counted and left to the program's own start-up (glibc does it); every
//!   other relocation type is refused.
//! - Anything with `PT_INTERP` is refused with [`Error::DynamicallyLinked`].
//!
//! ## Policy
//! - **W^X**: a segment both writable and executable is refused
//!   ([`Error::WritableAndExecutable`]) unless [`LoadOptions::allow_wx`];
//!   refusing is the safe default and no current toolchain emits such a
//!   segment. Likewise `PT_GNU_STACK` with `PF_X` is refused unless
//!   [`LoadOptions::allow_executable_stack`]; the result is in
//!   [`LoadPlan::executable_stack`]. Without `PT_GNU_STACK` the stack is not
//!   executable (Linux would make it executable for such legacy binaries).
//! - `PT_LOAD` segments must be in ascending order and may not share a
//!   page, so each page has one protection; offset and address must agree
//!   modulo `p_align` and modulo the page size so file pages can be mapped
//!   directly.
//! - Segments must lie in [`LoadOptions::user_start`]..[`LoadOptions::user_end`].
//! - At most [`MAX_PROGRAM_HEADERS`] program headers and [`MAX_SEGMENTS`]
//!   loadable segments: bounds on work and memory whatever the input.
//! - Every address computation is checked; every malformed input is an
//!   [`Error`] that says what is wrong, never a panic (a proptest mutates real
//!   images to check that).
//!
//! ## Usage
//! ```
//! use elf_loader::{build_stack, load, LoadOptions, Memory, MemoryError, Segment, StackParams};
//!
//! /// A toy address space: one flat buffer standing for user memory at `base`.
//! struct Flat { base: u64, bytes: Vec<u8> }
//! impl Memory for Flat {
//!     fn map(&mut self, s: &Segment) -> Result<(), MemoryError> {
//!         // A kernel allocates zeroed frames for s.page_start()..s.page_end() here.
//!         if s.page_start() < self.base { return Err(MemoryError::BadAddress(s.page_start())); }
//!         let end = (s.page_end() - self.base) as usize;
//!         if end > self.bytes.len() { self.bytes.resize(end, 0); }
//!         Ok(())
//!     }
//!     fn write(&mut self, vaddr: u64, data: &[u8]) -> Result<(), MemoryError> {
//!         let at = vaddr.checked_sub(self.base).ok_or(MemoryError::BadAddress(vaddr))? as usize;
//!         self.bytes.get_mut(at..at + data.len()).ok_or(MemoryError::BadAddress(vaddr))?
//!             .copy_from_slice(data);
//!         Ok(())
//!     }
//! }
//!
//! # let image = elf_loader::testimage::minimal_static();
//! let mut mem = Flat { base: 0x40_0000, bytes: Vec::new() };
//! let plan = load(&image, &LoadOptions::default(), &mut mem)?;
//!
//! // The initial stack, into a buffer the kernel maps below `top`.
//! let top = 0x7fff_0000_0000;
//! let mut stack = vec![0u8; 4096];
//! let params = StackParams { argv: &[b"prog"], envp: &[b"HOME=/"], random: [7; 16], ..Default::default() };
//! let initial = build_stack(&mut stack, top, &plan.aux, &params).unwrap();
//! assert_eq!(initial.rsp % 16, 0);
//! // Now: map `stack` at top - 4096, and enter user mode at plan.entry with rsp = initial.rsp.
//! # Ok::<(), elf_loader::Error>(())
//! ```
//!
//! ## Interfaces for the kernel
//! - [`LoadPlan::new`]: validate and plan, no side effects. A kernel that
//!   maps file pages directly (K42: a Region over the file's FCM) uses
//!   [`LoadPlan::segments`], then [`LoadPlan::for_each_relocation`] or
//!   [`LoadPlan::apply_relocations`] into the new address space.
//! - [`load`]: the same through the [`Memory`] trait (map zeroed pages,
//!   write, protect), for a kernel that copies the image.
//! - [`build_stack`]: the initial stack into a caller buffer, returning `rsp`.
//!
//! ## Tests
//! Unit tests on hand-built images (one per refusal); real static binaries
//! (busybox-static, musl and glibc `-static` / `-static-pie` builds made at
//! test time); a proptest that mutates valid images; and `tests/exec.rs`,
//! which runs the loaded images on the host: a forked child maps exactly the
//! planned pages, switches to the built stack and jumps to the entry point.
//! A static-PIE program whose start-up does not relocate itself runs there
//! only because the loader's relocations are right. `fuzz/` holds a
//! `cargo fuzz` target (nightly, not run in CI).
//!
//! ## Why no ELF crate
//! The loader reads four structures (file header, program header, dynamic
//! entry, RELA entry) and must check every field itself anyway: `elf`,
//! `xmas-elf` and `goblin` parse, but leave "does this segment fit the file,
//! overlap another, or overflow" to the caller, and their errors name parse
//! failures, not loader policy. So the structures are declared here (`raw`)
//! as `zerocopy` views with little-endian fields: no `unsafe`, no alignment
//! requirement on the image, and `zerocopy` is already a workspace
//! dependency (acpi-tables, bootinfo).

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod error;
mod plan;
mod raw;
mod reloc;
mod stack;
#[doc(hidden)]
pub mod testimage;

use core::fmt;

pub use error::Error;
pub use plan::{AuxImage, ImageKind, LoadPlan, Prot, Segment, Tls};
pub use reloc::Relocation;
pub use stack::{auxv, build_stack, InitialStack, StackError, StackParams};

/// The page size the plan is computed for.
pub const PAGE_SIZE: u64 = 4096;
/// Most program headers accepted (real executables have about 10–14).
pub const MAX_PROGRAM_HEADERS: u16 = 64;
/// Most non-empty `PT_LOAD` segments accepted (real executables have 2–5).
pub const MAX_SEGMENTS: usize = 16;

/// How to load: the address-space limits and the policy switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Where to put a static-PIE image (rounded up to its alignment).
    pub pie_base: u64,
    /// Lowest user address a segment may occupy (keeps page 0 unmapped).
    pub user_start: u64,
    /// End of user space (exclusive).
    pub user_end: u64,
    /// Accept writable and executable segments.
    pub allow_wx: bool,
    /// Accept `PT_GNU_STACK` with `PF_X`.
    pub allow_executable_stack: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            // Where Linux puts PIE executables (2/3 of a 47-bit space), 4 MiB aligned.
            pie_base: 0x5555_5540_0000,
            user_start: 0x1_0000,
            user_end: 0x7fff_ffff_f000,
            allow_wx: false,
            allow_executable_stack: false,
        }
    }
}

/// Why a [`Memory`] operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryError {
    /// No memory to back the mapping.
    NoMemory,
    /// The address is not mapped or not writable by the loader.
    BadAddress(u64),
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoryError::NoMemory => f.write_str("out of memory"),
            MemoryError::BadAddress(a) => write!(f, "cannot write at {a:#x}"),
        }
    }
}

/// The target address space, as [`load`] sees it.
pub trait Memory {
    /// Makes `segment.page_start()..segment.page_end()` present, zero-filled
    /// and writable by the loader. Segments never share a page.
    fn map(&mut self, segment: &Segment) -> Result<(), MemoryError>;
    /// Copies `bytes` to user address `vaddr` (always inside a mapped segment).
    fn write(&mut self, vaddr: u64, bytes: &[u8]) -> Result<(), MemoryError>;
    /// Gives `segment` its final protection (`segment.prot`), after all
    /// writes. The default does nothing.
    fn protect(&mut self, segment: &Segment) -> Result<(), MemoryError> {
        let _ = segment;
        Ok(())
    }
}

/// Plans, maps, fills and relocates `image` in `mem`; returns the plan.
///
/// The order is: [`Memory::map`] every segment, [`Memory::write`] its file
/// bytes (the rest stays zero), write the relocations, then
/// [`Memory::protect`] every segment.
pub fn load<M: Memory + ?Sized>(
    image: &[u8],
    opts: &LoadOptions,
    mem: &mut M,
) -> Result<LoadPlan, Error> {
    let plan = LoadPlan::new(image, opts)?;
    for s in &plan.segments {
        mem.map(s)?;
        let data = image
            .get(s.file_range())
            .ok_or(Error::SegmentOutsideFile { index: s.index })?;
        if !data.is_empty() {
            mem.write(s.vaddr, data)?;
        }
    }
    plan.apply_relocations(image, mem)?;
    for s in &plan.segments {
        mem.protect(s)?;
    }
    Ok(plan)
}

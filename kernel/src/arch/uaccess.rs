//! Copies between kernel memory and user memory of the active address
//! space. A user page not yet present is faulted in (the #PF handler asks
//! the space's objects); an address no region covers, or one the region
//! forbids, ends the copy with [`Efault`] through the exception table:
//! bad system-call pointers are `EFAULT`, never a kernel panic.

use core::arch::asm;

/// A user pointer that does not point at accessible memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Efault;

/// Whether `[addr, addr + len)` lies in user space.
fn user_range(addr: u64, len: usize) -> Result<(), Efault> {
    ::mm::check_user_range(addr, len).map_err(|_| Efault)
}

/// `rep movsb` from `src` to `dst`, `len` bytes; whether it completed.
///
/// # Safety
/// The kernel side must be valid for the copy; the user side may fault.
unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) -> bool {
    let status: u64;
    // SAFETY: the caller's contract; a fault the objects cannot resolve
    // resumes at label 3 with rdx = vector + 1 (see `extable::record`).
    unsafe {
        asm!(
            "xor edx, edx",
            "2: rep movsb",
            "3:",
            ".pushsection .extable, \"a\"",
            ".balign 8",
            ".quad 2b, 3b",
            ".popsection",
            inout("rcx") len => _,
            inout("rdi") dst => _,
            inout("rsi") src => _,
            out("rdx") status,
            options(nostack),
        );
    }
    status == 0
}

/// Copies `dst.len()` bytes from user address `src`.
pub fn copy_from_user(dst: &mut [u8], src: u64) -> Result<(), Efault> {
    user_range(src, dst.len())?;
    // SAFETY: `dst` is ours; the user range is checked to be user space.
    let done = unsafe { copy(dst.as_mut_ptr(), src as *const u8, dst.len()) };
    done.then_some(()).ok_or(Efault)
}

/// Copies `src` to user address `dst`.
pub fn copy_to_user(dst: u64, src: &[u8]) -> Result<(), Efault> {
    user_range(dst, src.len())?;
    // SAFETY: `src` is ours; the user range is checked to be user space.
    let done = unsafe { copy(dst as *mut u8, src.as_ptr(), src.len()) };
    done.then_some(()).ok_or(Efault)
}

/// Reads a `u64` from user address `src`.
pub fn read_u64(src: u64) -> Result<u64, Efault> {
    let mut b = [0u8; 8];
    copy_from_user(&mut b, src)?;
    Ok(u64::from_le_bytes(b))
}

ktest::ktest! {
    /// Copies to and from an active user space fault pages in; bad
    /// addresses (unmapped, read-only, kernel, wrapping) are `Efault`.
    fn uaccess_copies_and_efault() {
        use crate::mm::user::{new_space, Activation};
        use ::mm::{MapOptions, Prot};
        let s = new_space().unwrap();
        s.map_anon(0x40_0000, 0x2000, Prot::RW, MapOptions::default()).unwrap();
        s.map_anon(0x50_0000, 0x1000, Prot::R, MapOptions::default()).unwrap();
        {
            let _on = Activation::new(&s);
            // Across a page boundary, both pages faulted in by the copy.
            copy_to_user(0x40_0ffc, &0x1122_3344_5566_7788u64.to_le_bytes()).unwrap();
            assert_eq!(read_u64(0x40_0ffc), Ok(0x1122_3344_5566_7788));
            let mut b = [0u8; 4];
            copy_from_user(&mut b, 0x50_0000).unwrap();
            assert_eq!(b, [0; 4]);
            assert_eq!(copy_to_user(0x50_0000, &[1]), Err(Efault), "read-only");
            assert_eq!(read_u64(0x60_0000), Err(Efault), "unmapped");
            assert_eq!(read_u64(0), Err(Efault), "null");
            assert_eq!(read_u64(0xffff_ffff_8000_0000), Err(Efault), "kernel");
            assert_eq!(read_u64(u64::MAX - 3), Err(Efault), "wraps");
            assert_eq!(copy_to_user(0x40_1ffc, &[0; 8]), Err(Efault), "runs off the region");
        }
        s.destroy().unwrap();
    }
}

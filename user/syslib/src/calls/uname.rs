//! `uname(buf)`: `struct new_utsname`, six 65-byte strings. The system
//! says it is Linux (programs test for it) and names K42-rs in the
//! version; the release is one musl and glibc accept.

use crate::{Ctx, SysResult};

const FIELD: usize = 65;
const _: () = assert!(core::mem::size_of::<linux_raw_sys::system::new_utsname>() == 6 * FIELD);

/// What `uname` says: sysname, nodename, release, version, machine,
/// domainname.
pub const UTSNAME: [&str; 6] = [
    "Linux",
    "k42",
    "6.1.0-k42",
    "#1 K42-rs (Linux personality by trap reflection)",
    "x86_64",
    "(none)",
];

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let mut b = [0u8; 6 * FIELD];
    for (i, s) in UTSNAME.iter().enumerate() {
        b[i * FIELD..i * FIELD + s.len()].copy_from_slice(s.as_bytes());
    }
    ctx.write_user(a[0], &b)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn fills_the_six_fields() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.poke(m, &[0xff; 390]);
        assert_eq!(call(&mut l, g::__NR_uname, &[m]), 0);
        let b = l.native.peek(m, 390);
        assert_eq!(&b[..6], b"Linux\0");
        assert_eq!(&b[4 * 65..4 * 65 + 7], b"x86_64\0");
        assert_eq!(b[64], 0, "NUL-padded");
        assert_eq!(
            call(&mut l, g::__NR_uname, &[m + 4096 - 100]),
            err(Errno::EFAULT)
        );
        assert_eq!(call(&mut l, g::__NR_uname, &[0]), err(Errno::EFAULT));
    }
}

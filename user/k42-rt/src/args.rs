//! The program's arguments, from the SysV initial stack the kernel builds.

/// Most arguments kept (the rest are dropped; [`Args::dropped`] says so).
pub const MAX_ARGS: usize = 16;

/// `argv`, as byte strings borrowed from the initial stack.
#[derive(Clone, Copy, Debug)]
pub struct Args {
    argv: [&'static [u8]; MAX_ARGS],
    argc: usize,
    dropped: usize,
}

impl Args {
    /// Arguments from slices (the entry code, and tests).
    pub fn from_slices(all: &[&'static [u8]]) -> Args {
        let mut argv: [&'static [u8]; MAX_ARGS] = [b""; MAX_ARGS];
        let argc = all.len().min(MAX_ARGS);
        argv[..argc].copy_from_slice(&all[..argc]);
        Args {
            argv,
            argc,
            dropped: all.len() - argc,
        }
    }

    /// Reads `argc` and `argv` from the initial stack pointer.
    ///
    /// # Safety
    /// `sp` must point at a SysV initial stack (argc, then argc pointers to
    /// NUL-terminated strings) that lives for the whole program.
    #[cfg(target_os = "none")]
    pub unsafe fn from_stack(sp: *const u64) -> Args {
        // SAFETY: the caller's contract.
        let argc = unsafe { *sp } as usize;
        let mut argv: [&'static [u8]; MAX_ARGS] = [b""; MAX_ARGS];
        for (i, slot) in argv.iter_mut().enumerate().take(argc.min(MAX_ARGS)) {
            // SAFETY: argv[i] is a NUL-terminated string on the stack.
            let p = unsafe { *sp.add(1 + i) } as *const u8;
            let mut n = 0;
            // SAFETY: as above; the scan stops at the NUL.
            while unsafe { *p.add(n) } != 0 {
                n += 1;
            }
            // SAFETY: the n bytes just scanned, alive for the program.
            *slot = unsafe { core::slice::from_raw_parts(p, n) };
        }
        Args {
            argv,
            argc: argc.min(MAX_ARGS),
            dropped: argc.saturating_sub(MAX_ARGS),
        }
    }

    /// Number of arguments kept (`argv[0]` included).
    pub fn len(&self) -> usize {
        self.argc
    }

    /// Whether there are none at all.
    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }

    /// Arguments beyond [`MAX_ARGS`] that were dropped.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Argument `i` as bytes.
    pub fn get(&self, i: usize) -> Option<&'static [u8]> {
        (i < self.argc).then(|| self.argv[i])
    }

    /// Argument `i` as UTF-8 (`None` if absent or not UTF-8).
    pub fn get_str(&self, i: usize) -> Option<&'static str> {
        self.get(i).and_then(|b| core::str::from_utf8(b).ok())
    }

    /// Argument `i` as a number: decimal, or hexadecimal after `0x`.
    pub fn get_u64(&self, i: usize) -> Option<u64> {
        parse_u64(self.get_str(i)?)
    }

    /// The arguments in order.
    pub fn iter(&self) -> impl Iterator<Item = &'static [u8]> + '_ {
        self.argv[..self.argc].iter().copied()
    }
}

/// A number: decimal, or hexadecimal after `0x`.
pub fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse_and_overflow_is_counted() {
        let a = Args::from_slices(&[b"prog", b"42", b"0x1f", b"\xff"]);
        assert_eq!(a.len(), 4);
        assert_eq!(a.get_str(0), Some("prog"));
        assert_eq!(a.get_u64(1), Some(42));
        assert_eq!(a.get_u64(2), Some(31));
        assert_eq!(a.get_str(3), None, "not UTF-8");
        assert_eq!(a.get(4), None);
        let many = [&b"x"[..]; 20];
        let a = Args::from_slices(&many);
        assert_eq!((a.len(), a.dropped()), (MAX_ARGS, 4));
        assert_eq!(a.iter().count(), MAX_ARGS);
        assert_eq!(parse_u64("0xzz"), None);
    }
}

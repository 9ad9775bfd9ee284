//! The initial user stack of the x86-64 System V ABI.
//!
//! ```text
//!   stack_top ->  8 zero bytes (end marker)
//!                 AT_EXECFN string, environment strings, argument strings
//!                 AT_PLATFORM string
//!                 16 AT_RANDOM bytes (16-byte aligned)
//!                 padding so that rsp ends 16-byte aligned
//!                 auxv: (type, value) pairs, ending with AT_NULL
//!                 0, envp[envc - 1] ... envp[0]
//!                 0, argv[argc - 1] ... argv[0]
//!   rsp ->        argc
//! ```
//!
//! At process entry `rsp` points at `argc` and is 16-byte aligned (ABI
//! §3.4.1); `rdx` should be 0 (no exit hook).

use core::fmt;

use crate::plan::AuxImage;
use crate::PAGE_SIZE;

/// Aux vector types (`<elf.h>`, `linux/auxvec.h`).
pub mod auxv {
    /// End of the vector.
    pub const AT_NULL: u64 = 0;
    /// Program headers.
    pub const AT_PHDR: u64 = 3;
    /// Size of one program header.
    pub const AT_PHENT: u64 = 4;
    /// Number of program headers.
    pub const AT_PHNUM: u64 = 5;
    /// Page size.
    pub const AT_PAGESZ: u64 = 6;
    /// Interpreter base.
    pub const AT_BASE: u64 = 7;
    /// Flags (0).
    pub const AT_FLAGS: u64 = 8;
    /// Program entry point.
    pub const AT_ENTRY: u64 = 9;
    /// Real user id.
    pub const AT_UID: u64 = 11;
    /// Effective user id.
    pub const AT_EUID: u64 = 12;
    /// Real group id.
    pub const AT_GID: u64 = 13;
    /// Effective group id.
    pub const AT_EGID: u64 = 14;
    /// Platform string.
    pub const AT_PLATFORM: u64 = 15;
    /// CPU capabilities.
    pub const AT_HWCAP: u64 = 16;
    /// Clock ticks per second.
    pub const AT_CLKTCK: u64 = 17;
    /// Secure mode (setuid).
    pub const AT_SECURE: u64 = 23;
    /// 16 random bytes.
    pub const AT_RANDOM: u64 = 25;
    /// File name of the program.
    pub const AT_EXECFN: u64 = 31;
    /// vDSO.
    pub const AT_SYSINFO_EHDR: u64 = 33;
}

/// What goes on the initial stack besides the image's own values.
#[derive(Debug, Clone, Copy)]
pub struct StackParams<'a> {
    /// Arguments, without terminating NULs (the builder adds them).
    pub argv: &'a [&'a [u8]],
    /// Environment strings (`NAME=value`), without terminating NULs.
    pub envp: &'a [&'a [u8]],
    /// `AT_RANDOM`: 16 random bytes (the C library seeds its stack
    /// protector and pointer guard from them).
    pub random: [u8; 16],
    /// `AT_UID`.
    pub uid: u64,
    /// `AT_EUID`.
    pub euid: u64,
    /// `AT_GID`.
    pub gid: u64,
    /// `AT_EGID`.
    pub egid: u64,
    /// `AT_SECURE`.
    pub secure: bool,
    /// `AT_HWCAP` (CPUID.1:EDX on Linux x86-64).
    pub hwcap: u64,
    /// `AT_CLKTCK`.
    pub clock_tick: u64,
    /// `AT_PLATFORM` string, e.g. `b"x86_64"`; omitted if `None`.
    pub platform: Option<&'a [u8]>,
    /// `AT_EXECFN` string; omitted if `None`.
    pub execfn: Option<&'a [u8]>,
    /// `AT_SYSINFO_EHDR`: address of a vDSO; omitted if `None`.
    pub vdso: Option<u64>,
    /// More `(type, value)` pairs, put before `AT_NULL`: e.g. where the
    /// kernel mapped the process's shared dispatcher page, for the
    /// user-level scheduler to find at start-up.
    pub extra: &'a [(u64, u64)],
}

impl Default for StackParams<'_> {
    fn default() -> Self {
        StackParams {
            argv: &[],
            envp: &[],
            random: [0; 16],
            uid: 0,
            euid: 0,
            gid: 0,
            egid: 0,
            secure: false,
            hwcap: 0,
            clock_tick: 100,
            platform: Some(b"x86_64"),
            execfn: None,
            vdso: None,
            extra: &[],
        }
    }
}

/// Where things were put on the initial stack (all user addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitialStack {
    /// The initial `rsp`: points at `argc`, 16-byte aligned.
    pub rsp: u64,
    /// The `argv` array.
    pub argv: u64,
    /// The `envp` array.
    pub envp: u64,
    /// The aux vector.
    pub auxv: u64,
    /// Bytes used below the stack top.
    pub used: u64,
}

/// Why the initial stack could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StackError {
    /// The stack top is not 16-byte aligned, or the buffer reaches below address 0.
    BadTop,
    /// The buffer is too small; `needed` bytes would do.
    TooSmall {
        /// Bytes needed (at least).
        needed: u64,
    },
    /// A string contains a NUL byte.
    NulInString {
        /// `"argv"`, `"envp"`, `"platform"` or `"execfn"`.
        which: &'static str,
        /// Index in its list.
        index: usize,
    },
    /// A size computation overflowed.
    Overflow,
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            StackError::BadTop => {
                f.write_str("stack top not 16-byte aligned or buffer below address 0")
            }
            StackError::TooSmall { needed } => {
                write!(f, "stack buffer too small: {needed} bytes needed")
            }
            StackError::NulInString { which, index } => {
                write!(f, "{which}[{index}] contains a NUL byte")
            }
            StackError::Overflow => f.write_str("initial stack size overflows"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for StackError {}

/// A downward-growing cursor over the caller's buffer, which holds the user
/// addresses `top - buf.len() .. top`.
struct Cursor<'b> {
    buf: &'b mut [u8],
    bottom: u64,
    sp: u64,
}

impl Cursor<'_> {
    /// Reserves `len` bytes below the cursor; returns their address.
    fn reserve(&mut self, len: u64) -> Result<u64, StackError> {
        let sp = self.sp.checked_sub(len).ok_or(StackError::Overflow)?;
        if sp < self.bottom {
            // Keep going in address arithmetic only, to report the full need.
            self.sp = sp;
            return Err(StackError::TooSmall { needed: 0 });
        }
        self.sp = sp;
        Ok(sp)
    }
    fn align(&mut self, align: u64) {
        self.sp &= !(align - 1);
    }
    fn put(&mut self, addr: u64, bytes: &[u8]) {
        let at = (addr - self.bottom) as usize;
        self.buf[at..at + bytes.len()].copy_from_slice(bytes);
    }
    /// Pushes a NUL-terminated copy of `s`; returns its address.
    fn push_str(&mut self, s: &[u8], which: &'static str, index: usize) -> Result<u64, StackError> {
        if s.contains(&0) {
            return Err(StackError::NulInString { which, index });
        }
        let len = (s.len() as u64)
            .checked_add(1)
            .ok_or(StackError::Overflow)?;
        let addr = self.reserve(len)?;
        self.put(addr, s);
        self.put(addr + s.len() as u64, &[0]);
        Ok(addr)
    }
}

/// Builds the initial stack into `buf`, which the caller will map so that its
/// last byte is at user address `stack_top - 1`. Returns the initial `rsp`
/// and where the arrays went.
///
/// Needs no allocation: the pointers are written in a second pass over the
/// strings already placed.
pub fn build_stack(
    buf: &mut [u8],
    stack_top: u64,
    image: &AuxImage,
    params: &StackParams<'_>,
) -> Result<InitialStack, StackError> {
    if !stack_top.is_multiple_of(16) {
        return Err(StackError::BadTop);
    }
    let bottom = stack_top
        .checked_sub(buf.len() as u64)
        .ok_or(StackError::BadTop)?;
    let mut c = Cursor {
        buf,
        bottom,
        sp: stack_top,
    };
    match layout(&mut c, image, params) {
        Err(StackError::TooSmall { .. }) => {
            // Measure what the whole layout needs with a buffer-free dry run.
            Err(StackError::TooSmall {
                needed: measure(params)?,
            })
        }
        other => other,
    }
}

/// An upper bound of what `layout` needs, for the error message.
fn measure(params: &StackParams<'_>) -> Result<u64, StackError> {
    let mut bytes: u64 = 8 + 16 + 32 + 8; // end marker, random, two alignments, padding
    let strings = params
        .argv
        .iter()
        .chain(params.envp)
        .chain(params.platform.iter())
        .chain(params.execfn.iter());
    for s in strings {
        bytes = bytes
            .checked_add(s.len() as u64 + 1)
            .ok_or(StackError::Overflow)?;
    }
    let words = words(params).ok_or(StackError::Overflow)?;
    bytes = bytes
        .checked_add(words.checked_mul(8).ok_or(StackError::Overflow)?)
        .ok_or(StackError::Overflow)?;
    Ok(bytes)
}

/// Number of aux vector entries (pairs), including AT_NULL.
fn aux_count(params: &StackParams<'_>) -> Option<u64> {
    let fixed = 16
        + u64::from(params.platform.is_some())
        + u64::from(params.execfn.is_some())
        + u64::from(params.vdso.is_some());
    fixed.checked_add(params.extra.len() as u64)
}

/// Number of 8-byte words from `argc` to the end of the aux vector.
fn words(params: &StackParams<'_>) -> Option<u64> {
    let argc = params.argv.len() as u64;
    let envc = params.envp.len() as u64;
    argc.checked_add(envc)?
        .checked_add(3)?
        .checked_add(aux_count(params)?.checked_mul(2)?)
}

fn layout(
    c: &mut Cursor<'_>,
    image: &AuxImage,
    params: &StackParams<'_>,
) -> Result<InitialStack, StackError> {
    use auxv::*;
    let top = c.sp;
    // End marker.
    let end = c.reserve(8)?;
    c.put(end, &[0; 8]);

    let execfn = match params.execfn {
        Some(s) => Some(c.push_str(s, "execfn", 0)?),
        None => None,
    };
    // Environment then argument strings, each block ascending in memory so
    // that argv[0]..argv[argc-1] are contiguous (as `ps` expects).
    let env_block = push_block(c, params.envp, "envp")?;
    let arg_block = push_block(c, params.argv, "argv")?;
    let platform = match params.platform {
        Some(s) => Some(c.push_str(s, "platform", 0)?),
        None => None,
    };
    c.align(16);
    let random = c.reserve(16)?;
    c.put(random, &params.random);

    // Word area: argc, argv, NULL, envp, NULL, auxv pairs; rsp 16-aligned.
    let words = words(params).ok_or(StackError::Overflow)?;
    c.align(16);
    if words % 2 == 1 {
        c.reserve(8)?;
        c.put(c.sp, &[0; 8]);
    }
    let rsp = c.reserve(words.checked_mul(8).ok_or(StackError::Overflow)?)?;
    let mut at = rsp;
    word(c, &mut at, params.argv.len() as u64);
    let argv = at;
    let mut s = arg_block;
    for a in params.argv {
        word(c, &mut at, s);
        s += a.len() as u64 + 1;
    }
    word(c, &mut at, 0);
    let envp = at;
    let mut s = env_block;
    for e in params.envp {
        word(c, &mut at, s);
        s += e.len() as u64 + 1;
    }
    word(c, &mut at, 0);
    let auxv = at;
    pair(c, &mut at, AT_PHDR, image.phdr);
    pair(c, &mut at, AT_PHENT, image.phent);
    pair(c, &mut at, AT_PHNUM, image.phnum);
    pair(c, &mut at, AT_PAGESZ, PAGE_SIZE);
    pair(c, &mut at, AT_BASE, image.base);
    pair(c, &mut at, AT_FLAGS, 0);
    pair(c, &mut at, AT_ENTRY, image.entry);
    pair(c, &mut at, AT_UID, params.uid);
    pair(c, &mut at, AT_EUID, params.euid);
    pair(c, &mut at, AT_GID, params.gid);
    pair(c, &mut at, AT_EGID, params.egid);
    pair(c, &mut at, AT_HWCAP, params.hwcap);
    pair(c, &mut at, AT_CLKTCK, params.clock_tick);
    pair(c, &mut at, AT_SECURE, u64::from(params.secure));
    pair(c, &mut at, AT_RANDOM, random);
    if let Some(p) = platform {
        pair(c, &mut at, AT_PLATFORM, p);
    }
    if let Some(p) = execfn {
        pair(c, &mut at, AT_EXECFN, p);
    }
    if let Some(v) = params.vdso {
        pair(c, &mut at, AT_SYSINFO_EHDR, v);
    }
    for &(key, value) in params.extra {
        pair(c, &mut at, key, value);
    }
    pair(c, &mut at, AT_NULL, 0);
    debug_assert_eq!(at, rsp + words * 8);
    Ok(InitialStack {
        rsp,
        argv,
        envp,
        auxv,
        used: top - rsp,
    })
}

/// Pushes the strings of `list` as one block, ascending; returns its address.
fn push_block(c: &mut Cursor<'_>, list: &[&[u8]], which: &'static str) -> Result<u64, StackError> {
    let mut total: u64 = 0;
    for (index, s) in list.iter().enumerate() {
        if s.contains(&0) {
            return Err(StackError::NulInString { which, index });
        }
        total = total
            .checked_add(s.len() as u64 + 1)
            .ok_or(StackError::Overflow)?;
    }
    let block = c.reserve(total)?;
    let mut at = block;
    for s in list {
        c.put(at, s);
        c.put(at + s.len() as u64, &[0]);
        at += s.len() as u64 + 1;
    }
    Ok(block)
}

fn word(c: &mut Cursor<'_>, at: &mut u64, v: u64) {
    c.put(*at, &v.to_le_bytes());
    *at += 8;
}

fn pair(c: &mut Cursor<'_>, at: &mut u64, key: u64, value: u64) {
    word(c, at, key);
    word(c, at, value);
}

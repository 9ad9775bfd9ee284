//! Addresses, protections, sizes and the crate's error type.

use core::fmt;

/// Bytes in a base page.
pub const PAGE_SIZE: usize = 4096;
/// Bytes in a large page (x86-64 2 MiB).
pub const LARGE_PAGE_SIZE: usize = 2 << 20;
/// Base pages in a large page.
pub const PAGES_PER_LARGE: usize = LARGE_PAGE_SIZE / PAGE_SIZE;
/// First address above user space (the lower canonical half of x86-64).
pub const USER_END: u64 = 1 << 47;

/// A physical frame number (physical address / [`PAGE_SIZE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pfn(pub u64);

/// A processor number (the clustered-object runtime's).
pub type CpuId = cobj::CpuId;

/// Page protection: what user code may do with a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Prot {
    /// Loads allowed.
    pub read: bool,
    /// Stores allowed.
    pub write: bool,
    /// Instruction fetches allowed.
    pub exec: bool,
}

impl Prot {
    /// Everything.
    pub const ALL: Prot = Prot {
        read: true,
        write: true,
        exec: true,
    };
    /// Whether `self` allows nothing that `max` does not.
    pub fn within(self, max: Prot) -> bool {
        (!self.read || max.read) && (!self.write || max.write) && (!self.exec || max.exec)
    }
    /// No access (a guard mapping).
    pub const NONE: Prot = Prot {
        read: false,
        write: false,
        exec: false,
    };
    /// Read only.
    pub const R: Prot = Prot {
        read: true,
        write: false,
        exec: false,
    };
    /// Read and write.
    pub const RW: Prot = Prot {
        read: true,
        write: true,
        exec: false,
    };
    /// Read and execute.
    pub const RX: Prot = Prot {
        read: true,
        write: false,
        exec: true,
    };

    /// Whether this protection permits `access`.
    pub fn allows(self, access: Access) -> bool {
        match access {
            Access::Read => self.read,
            Access::Write => self.write,
            Access::Exec => self.exec,
        }
    }

    /// The same protection without write permission.
    pub fn read_only(self) -> Prot {
        Prot {
            write: false,
            ..self
        }
    }
}

/// The kind of access that faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// A load.
    Read,
    /// A store.
    Write,
    /// An instruction fetch.
    Exec,
}

/// An I/O operation in flight for an out-of-core fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IoId(pub u64);

/// Everything that can go wrong, with the Linux errno it maps to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MmError {
    /// No region covers the address, or the address is not a user address
    /// (EFAULT for a user pointer, SIGSEGV for a fault).
    BadAddress(u64),
    /// The region forbids the access (EFAULT / SIGSEGV, `SEGV_ACCERR`).
    Protection(u64),
    /// Misaligned or empty range, overlapping region, bad size (EINVAL).
    Invalid(&'static str),
    /// No frame could be found, even after eviction (ENOMEM).
    OutOfMemory,
    /// The page is being read in; the faulting thread must wait for the
    /// completion of this I/O (the "page fault pending" upcall).
    Pending(IoId),
    /// The backing file failed the I/O (EIO).
    Io,
    /// The clustered-object runtime refused the call.
    Object(cobj::Error),
}

impl MmError {
    /// The Linux errno this error becomes at the system-call boundary.
    pub fn errno(&self) -> i32 {
        match self {
            MmError::BadAddress(_) | MmError::Protection(_) => 14, // EFAULT
            MmError::Invalid(_) => 22,                             // EINVAL
            MmError::OutOfMemory => 12,                            // ENOMEM
            MmError::Pending(_) => 11,                             // EAGAIN
            MmError::Io => 5,                                      // EIO
            MmError::Object(_) => 16,                              // EBUSY
        }
    }
}

impl From<cobj::Error> for MmError {
    fn from(e: cobj::Error) -> Self {
        MmError::Object(e)
    }
}

impl fmt::Display for MmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MmError::BadAddress(a) => write!(f, "no mapping at {a:#x}"),
            MmError::Protection(a) => write!(f, "access to {a:#x} violates its protection"),
            MmError::Invalid(why) => write!(f, "invalid argument: {why}"),
            MmError::OutOfMemory => f.write_str("out of physical memory"),
            MmError::Pending(io) => write!(f, "page fault pending on I/O {}", io.0),
            MmError::Io => f.write_str("I/O error in the backing file"),
            MmError::Object(e) => write!(f, "clustered object: {e}"),
        }
    }
}

/// Checks a user range: non-empty, no overflow, inside user space. The
/// user-pointer helpers start here, so a bad pointer is an error, never a
/// panic or an access outside user space.
pub fn check_user_range(va: u64, len: usize) -> Result<(), MmError> {
    let end = va.checked_add(len as u64).ok_or(MmError::BadAddress(va))?;
    if end > USER_END {
        return Err(MmError::BadAddress(va));
    }
    Ok(())
}

/// Rounds down to a page boundary.
pub fn page_down(va: u64, size: usize) -> u64 {
    va & !(size as u64 - 1)
}

impl core::error::Error for MmError {}
